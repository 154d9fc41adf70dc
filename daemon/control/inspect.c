/* inspect: live questions to a worker's loops. The request is parked; each loop answers
 * on its own channel from its own thread, so a blocked loop only delays its own worker. */
#include "daemon/control/inspect.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/out/status.h"
#include "daemon/proc/loop_channel.h"
#include "daemon/lib/log.h"

struct inspect {
	LIST_ENTRY(inspect) link;  /* in sup->inspects */
	struct supervisor *sup;
	struct inspect_to to;     /* who hears the answer or the error, once */
	struct worker *w;
	pid_t pid;                /* the process asked: a reply from a successor is no answer */
	json_int_t id;
	json_t *loops;            /* replies, by loop index (null until answered) */
	unsigned missing;
	unsigned timeout_ms;
	struct event *timer;
};

static json_int_t next_id = 1;

static void inspect_free(struct inspect *in)
{
	LIST_REMOVE(in, link);
	if (in->timer)
		event_free(in->timer);
	json_decref(in->loops);
	free(in);
}

/* The error, to whoever asked, and the request is over. */
static void fail(struct inspect *in, int code, json_t *data, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void fail(struct inspect *in, int code, json_t *data, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	in->to.fail(in->to.arg, code, data, msg);
	inspect_free(in);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct inspect *in = arg;

	(void)fd;
	(void)what;
	fail(in, LV_RPC_TIMED_OUT, json_pack("{s:s}", "worker", in->w->name),
	     "%s did not answer within %u ms: its loop may be blocked", in->w->name,
	     in->timeout_ms);
}

struct inspect *inspect_ask(struct supervisor *sup, const struct inspect_to *to,
                            struct worker *w, unsigned timeout_ms)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	struct inspect *in;

	if (w->proc.pid <= 0 || w->pool->cfg.kind != LV_KIND_MODULE || !w->loops[0].ch.bev) {
		char msg[256];

		snprintf(msg, sizeof msg, "%s has no running job to ask", w->name);
		to->fail(to->arg, LV_RPC_NOT_INSPECTABLE, json_pack("{s:s}", "worker", w->name), msg);
		return NULL;
	}
	if (!(in = calloc(1, sizeof *in)) || !(in->loops = json_array()) ||
	    !(in->timer = evtimer_new(sup->base, on_timeout, in))) {
		if (in)
			json_decref(in->loops);
		free(in);
		to->fail(to->arg, LV_RPC_INTERNAL_ERROR, NULL, "out of memory");
		return NULL;
	}
	in->sup = sup;
	in->to = *to;
	in->w = w;
	in->pid = w->proc.pid;
	in->id = next_id++;
	in->timeout_ms = timeout_ms;
	in->missing = w->n_loops;
	LIST_INSERT_HEAD(&sup->inspects, in, link);
	for (unsigned i = 0; i < w->n_loops; i++) {
		json_array_append_new(in->loops, json_null());
		loop_channel_send(&w->loops[i].ch, LV_MSG_INSPECT, json_pack("{s:I}", "id", in->id));
	}
	evtimer_add(in->timer, &tv);
	return in;
}

void inspect_cancel(struct inspect *in)
{
	inspect_free(in);
}

/* The control method's way: the call parked until the answer, cancelled with it. */
static void rpc_answer(void *arg, json_t *result)
{
	lv_rpc_reply(arg, result);
}

static void rpc_fail(void *arg, int code, json_t *data, const char *message)
{
	lv_rpc_fail(arg, code, message, data);
}

static void on_cancel(void *arg)
{
	inspect_free(arg);
}

void inspect_start(struct supervisor *sup, struct lv_rpc_call *call, struct worker *w,
                   unsigned timeout_ms)
{
	const struct inspect_to to = { .answer = rpc_answer, .fail = rpc_fail, .arg = call };
	struct inspect *in = inspect_ask(sup, &to, w, timeout_ms);

	if (in)
		lv_rpc_park(call, on_cancel, in);
}

void inspect_reply(void *ctx, void *owner, unsigned loop, json_t *msg)
{
	struct supervisor *sup = ctx;
	const struct worker *w = owner;
	json_int_t id = json_integer_value(json_object_get(msg, "id"));
	struct inspect *in;
	json_t *st;

	LIST_FOREACH(in, &sup->inspects, link)
		if (in->id == id && in->w == w && in->pid == w->proc.pid)
			break;
	if (!in || !json_is_null(json_array_get(in->loops, loop)))
		return; /* late, after a timeout, or a repeat */
	json_object_del(msg, "t");
	json_object_del(msg, "id");
	json_array_set(in->loops, loop, msg);
	if (--in->missing > 0)
		return;
	/* beside what the loops say, what the kernel accounts for the worker (cgroups on) */
	st = status_worker_json(in->w);
	in->to.answer(in->to.arg, json_pack("{s:s, s:i, s:O, s:O*}", "worker", in->w->name, "pid",
	                                    (int)in->pid, "loops", in->loops, "resources",
	                                    json_object_get(st, "resources")));
	json_decref(st);
	inspect_free(in);
}

void inspect_worker_gone(struct supervisor *sup, const struct worker *w, const char *why)
{
	struct inspect *in, *next;

	for (in = LIST_FIRST(&sup->inspects); in; in = next) {
		next = LIST_NEXT(in, link);
		if (in->w != w)
			continue;
		fail(in, LV_RPC_NOT_INSPECTABLE, json_pack("{s:s}", "worker", w->name),
		     "%s %s before it answered", w->name, why);
	}
}

void inspect_abort_all(struct supervisor *sup)
{
	struct inspect *in;

	while ((in = LIST_FIRST(&sup->inspects))) {
		fail(in, LV_RPC_SHUTTING_DOWN, NULL, "the daemon is shutting down");
	}
}
