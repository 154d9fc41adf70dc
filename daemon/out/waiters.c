/* waiters: parked start/stop/restart/wait requests, listed on their pool so that a state
 * change re-checks only that pool's; bounded per client and in all; each has its timer. */
#include "daemon/out/waiters.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/lib/log.h"
#include "daemon/out/status.h"

struct waiter {
	LIST_ENTRY(waiter) link;    /* on home's list, or the supervisor's once home is gone */
	struct pool *home;           /* the pool its target names, NULL once that pool is freed */
	struct supervisor *sup;
	struct lv_rpc_call *call;
	char *target;
	size_t pool_len;          /* length of the pool part of target */
	struct wait_spec spec;
	struct event *timer;
};

json_t *target_result(struct supervisor *sup, const char *target, bool status)
{
	struct worker **ws;
	int n = pool_resolve_target(sup, target, &ws);
	json_t *list = json_array();

	for (int i = 0; i < n; i++)
		json_array_append_new(list, status ? status_worker_json(ws[i]) : json_string(ws[i]->name));
	free(ws);
	return json_pack("{s:o}", "workers", list);
}

json_t *scale_result(const struct pool *p)
{
	return json_pack("{s:s, s:i}", "pool", p->cfg.name, "workers", (int)p->cfg.workers);
}

static json_t *reply_for(struct waiter *wt)
{
	struct pool *p;

	if (wt->spec.reply == REPLY_REMOVED)
		return json_pack("{s:s}", "removed", wt->target);
	if (wt->spec.reply != REPLY_SCALE)
		return target_result(wt->sup, wt->target, wt->spec.reply == REPLY_STATUS);
	p = pool_find(wt->sup, wt->target);
	return p ? scale_result(p) : json_null();
}

static struct waiter_list *list_of(struct waiter *wt)
{
	return wt->home ? &wt->home->waiters : &wt->sup->waiters;
}

/* Puts wt first on its home's list, or on the supervisor's (home NULL). */
static void waiter_link(struct waiter *wt, struct pool *home)
{
	wt->home = home;
	LIST_INSERT_HEAD(list_of(wt), wt, link);
}

static void waiter_unlink(struct waiter *wt)
{
	LIST_REMOVE(wt, link);
}

static void waiter_free(struct waiter *wt)
{
	waiter_unlink(wt);
	wt->sup->n_waiters--;
	if (wt->timer)
		event_free(wt->timer);
	free(wt->target);
	free(wt);
}

enum verdict { PENDING, DONE, FAILED, GONE, ROLL_STOPPED };

static enum wait_verdict judge_worker(const struct waiter *wt, const struct worker *w)
{
	struct wait_seen seen = { .state = w->state, .restarts = w->restarts,
	                          .ran_seq = w->ran_seq };

	return wait_judge_worker(&wt->spec, &seen);
}

static bool ws_pool_unsettled(const struct waiter *wt)
{
	char name[LV_POOL_NAME_MAX + 1];
	const struct pool *p;

	snprintf(name, sizeof name, "%.*s", (int)wt->pool_len, wt->target);
	p = pool_find(wt->sup, name);
	return p && p->n_slots != p->cfg.workers;
}

/* A rolling restart's waiter: done when the roll of its pool is over. */
static enum verdict judge_roll(const struct waiter *wt)
{
	const struct pool *p = wt->home;

	if (!p)
		return GONE;
	if (p->roll.active)
		return PENDING;
	return p->roll.error ? ROLL_STOPPED : DONE;
}

/* Judges a waiter; on FAILED, *culprit is the worker that failed. */
static enum verdict judge(struct waiter *wt, struct worker **culprit)
{
	struct worker **ws;
	int n;
	enum verdict v = DONE;

	if (wt->spec.roll)
		return judge_roll(wt);
	n = pool_resolve_target(wt->sup, wt->target, &ws);

	if (n < 0)
		return wt->spec.gone_ok ? DONE : GONE;
	if (wt->spec.gone_ok) {
		free(ws);
		return PENDING;
	}
	for (int i = 0; i < n && v != FAILED; i++) {
		enum wait_verdict wv = judge_worker(wt, ws[i]);

		if (wv == WAIT_FAILED) {
			*culprit = ws[i];
			v = FAILED;
		} else if (wv == WAIT_PENDING) {
			v = PENDING;
		}
	}
	free(ws);
	if (v == DONE && wt->spec.pool_settled && ws_pool_unsettled(wt))
		v = PENDING;
	return v;
}

/* Answers and frees the waiter if its verdict is final; returns true if it did. */
static bool settle(struct waiter *wt)
{
	struct worker *culprit = NULL;
	enum verdict v = judge(wt, &culprit);

	switch (v) {
	case PENDING:
		return false;
	case DONE:
		lv_rpc_reply(wt->call, reply_for(wt));
		break;
	case FAILED:
		lv_rpc_failf(wt->call, LV_RPC_WORKER_FAILED,
		             json_pack("{s:s, s:o}", "worker", culprit->name, "last_error",
		                       culprit->last_error ? json_string(culprit->last_error)
		                                           : json_null()),
		             "%s is %s%s%s", culprit->name, fsm_wire_name(culprit->state),
		             culprit->last_error ? ": " : "",
		             culprit->last_error ? culprit->last_error : "");
		break;
	case ROLL_STOPPED:
		lv_rpc_failf(wt->call, LV_RPC_WORKER_FAILED,
		             json_pack("{s:s, s:s, s:i, s:i}", "worker", wt->home->roll.culprit,
		                       "last_error", wt->home->roll.error, "done",
		                       (int)wt->home->roll.done, "total", (int)wt->home->roll.total),
		             "rolling restart stopped after %u of %u workers: %s",
		             wt->home->roll.done, wt->home->roll.total, wt->home->roll.error);
		break;
	case GONE:
		lv_rpc_fail(wt->call, LV_RPC_NO_SUCH_TARGET, "no such pool or worker",
		            json_pack("{s:s}", "target", wt->target));
		break;
	}
	waiter_free(wt);
	return true;
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct waiter *wt = arg;
	struct worker **ws;
	int n = pool_resolve_target(wt->sup, wt->target, &ws);
	json_t *late = json_array();

	(void)fd;
	(void)what;
	for (int i = 0; i < n; i++)
		if (judge_worker(wt, ws[i]) != WAIT_DONE)
			json_array_append_new(late, json_string(ws[i]->name));
	free(ws);
	lv_rpc_failf(wt->call, LV_RPC_TIMED_OUT, json_pack("{s:o}", "workers", late),
	             "timed out after %u ms waiting for %s", wt->spec.timeout_ms, wt->target);
	waiter_free(wt);
}

static void on_cancel(void *arg)
{
	waiter_free(arg);
}

/* Per client (a batch of 256 waits is the most one line asks for) and in all, with a
 * reserve only root and the daemon's user may use. */
static bool room_to_park(struct lv_rpc_call *call, bool privileged, unsigned parked)
{
	struct lv_rpc_session *s = lv_rpc_call_session(call);
	unsigned most = privileged ? LV_WAITERS_MAX : LV_WAITERS_MAX - LV_WAITERS_RESERVED;
	json_t *why;

	if (lv_rpc_session_open_calls(s) > LV_WAITERS_PER_CLIENT)
		why = json_pack("{s:s, s:i}", "limit", "waits_per_connection", "max",
		                LV_WAITERS_PER_CLIENT);
	else if (parked > most)
		why = json_pack("{s:s, s:i}", "limit", "waits", "max", (int)most);
	else
		return true;
	lv_rpc_fail(call, LV_RPC_LIMIT_REACHED, "too many parked requests: wait for some to end, "
	            "or wait for a whole pool at once", why);
	return false;
}

bool waiters_room(struct supervisor *sup, struct lv_rpc_call *call, bool privileged)
{
	return room_to_park(call, privileged, sup->n_waiters + 1);
}

void waiter_park(struct supervisor *sup, struct lv_rpc_call *call, bool privileged,
                 const char *target, const struct wait_spec *spec)
{
	struct waiter *wt = calloc(1, sizeof *wt);
	struct timeval tv = { .tv_sec = spec->timeout_ms / 1000,
	                      .tv_usec = (spec->timeout_ms % 1000) * 1000 };
	const char *colon = strchr(target, ':');
	char name[LV_POOL_NAME_MAX + 1];

	if (!wt || !(wt->target = strdup(target)) ||
	    !(wt->timer = evtimer_new(sup->base, on_timeout, wt))) {
		if (wt) {
			free(wt->target);
			free(wt);
		}
		lv_rpc_fail(call, LV_RPC_INTERNAL_ERROR, "out of memory", NULL);
		return;
	}
	wt->sup = sup;
	wt->call = call;
	wt->spec = *spec;
	wt->pool_len = colon ? (size_t)(colon - target) : strlen(target);
	snprintf(name, sizeof name, "%.*s", (int)wt->pool_len, target);
	waiter_link(wt, pool_find(sup, name));
	sup->n_waiters++;
	if (settle(wt))
		return;
	/* this waiter counts already; one that waits only for processes being made (start
	 * without wait) ends within a zygote's answer time and is never refused */
	if (!spec->made && !room_to_park(call, privileged, sup->n_waiters)) {
		waiter_free(wt);
		return;
	}
	lv_rpc_park(call, on_cancel, wt);
	evtimer_add(wt->timer, &tv);
}

void waiters_notify(struct supervisor *sup, struct pool *p)
{
	struct waiter *wt, *next;

	(void)sup;
	for (wt = LIST_FIRST(&p->waiters); wt; wt = next) {
		next = LIST_NEXT(wt, link);
		settle(wt);
	}
}

void waiters_pool_gone(struct pool *p)
{
	struct waiter *wt;

	while ((wt = LIST_FIRST(&p->waiters))) {
		waiter_unlink(wt);
		waiter_link(wt, NULL);
	}
}

void waiters_notify_all(struct supervisor *sup)
{
	struct waiter *wt, *next;

	/* A removed pool's waiters: answered now (gone), or re-homed on a new pool of the name
	 * (or first on this list again: before next, so each is judged once). */
	for (wt = LIST_FIRST(&sup->waiters); wt; wt = next) {
		char name[LV_POOL_NAME_MAX + 1];

		next = LIST_NEXT(wt, link);
		waiter_unlink(wt);
		snprintf(name, sizeof name, "%.*s", (int)wt->pool_len, wt->target);
		waiter_link(wt, pool_find(sup, name));
		settle(wt);
	}
}

static void abort_list(struct waiter_list *head)
{
	struct waiter *wt;

	while ((wt = LIST_FIRST(head))) {
		lv_rpc_fail(wt->call, LV_RPC_SHUTTING_DOWN, "the daemon is shutting down", NULL);
		waiter_free(wt);
	}
}

void waiters_abort_all(struct supervisor *sup)
{
	for (size_t i = 0; i < sup->n_pools; i++)
		abort_list(&sup->pools[i]->waiters);
	abort_list(&sup->waiters);
}
