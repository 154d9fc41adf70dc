/* inspect: live questions to a worker's loops. The request is parked; each loop answers
 * on its own channel from its own thread, so a blocked loop only delays its own worker. */
#include "daemon/control/inspect.h"

#include <stdlib.h>
#include <string.h>

#include "daemon/proc/loop_channel.h"
#include "daemon/lib/log.h"

struct inspect {
	LIST_ENTRY(inspect) link;  /* in sup->inspects */
	struct supervisor *sup;
	struct lv_rpc_call *call;
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

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct inspect *in = arg;

	(void)fd;
	(void)what;
	lv_rpc_failf(in->call, LV_RPC_TIMED_OUT, json_pack("{s:s}", "worker", in->w->name),
	             "%s did not answer within %u ms: its loop may be blocked", in->w->name,
	             in->timeout_ms);
	inspect_free(in);
}

static void on_cancel(void *arg)
{
	inspect_free(arg);
}

void inspect_start(struct supervisor *sup, struct lv_rpc_call *call, struct worker *w,
                   unsigned timeout_ms)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	struct inspect *in;

	if (w->proc.pid <= 0 || w->pool->cfg.kind != LV_KIND_MODULE || !w->loops[0].ch.bev) {
		lv_rpc_failf(call, LV_RPC_NOT_INSPECTABLE, json_pack("{s:s}", "worker", w->name),
		             "%s has no running job to ask", w->name);
		return;
	}
	if (!(in = calloc(1, sizeof *in)) || !(in->loops = json_array()) ||
	    !(in->timer = evtimer_new(sup->base, on_timeout, in))) {
		if (in)
			json_decref(in->loops);
		free(in);
		lv_rpc_fail(call, LV_RPC_INTERNAL_ERROR, "out of memory", NULL);
		return;
	}
	in->sup = sup;
	in->call = call;
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
	lv_rpc_park(call, on_cancel, in);
	evtimer_add(in->timer, &tv);
}

void inspect_reply(void *ctx, void *owner, unsigned loop, json_t *msg)
{
	struct supervisor *sup = ctx;
	const struct worker *w = owner;
	json_int_t id = json_integer_value(json_object_get(msg, "id"));
	struct inspect *in;

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
	lv_rpc_reply(in->call, json_pack("{s:s, s:i, s:O}", "worker", in->w->name, "pid",
	                                 (int)in->pid, "loops", in->loops));
	inspect_free(in);
}

void inspect_worker_gone(struct supervisor *sup, const struct worker *w, const char *why)
{
	struct inspect *in, *next;

	for (in = LIST_FIRST(&sup->inspects); in; in = next) {
		next = LIST_NEXT(in, link);
		if (in->w != w)
			continue;
		lv_rpc_failf(in->call, LV_RPC_NOT_INSPECTABLE, json_pack("{s:s}", "worker", w->name),
		             "%s %s before it answered", w->name, why);
		inspect_free(in);
	}
}

void inspect_abort_all(struct supervisor *sup)
{
	struct inspect *in;

	while ((in = LIST_FIRST(&sup->inspects))) {
		lv_rpc_fail(in->call, LV_RPC_SHUTTING_DOWN, "the daemon is shutting down", NULL);
		inspect_free(in);
	}
}
