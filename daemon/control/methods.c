/* methods: the control protocol's method table and handlers. Each handler validates what
 * the shared schema cannot, acts on the supervisor, and replies now or parks the call. */
#include "daemon/control/methods.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "config/signame.h"
#include "daemon/control/control.h"
#include "daemon/control/inspect.h"
#include "daemon/control/method_helpers.h"
#include "daemon/control/methods_pools.h"
#include "daemon/core/shutdown.h"
#include "daemon/core/state_file.h"
#include "daemon/out/events.h"
#include "daemon/out/waiters.h"
#include "daemon/proc/output.h"
#include "ipc/jsonw.h"
#include "daemon/out/status.h"

static void m_ping(struct lv_rpc_call *call, json_t *params, void *app)
{
	(void)params;
	(void)app;
	lv_rpc_reply(call, json_string("pong"));
}

static void m_version(struct lv_rpc_call *call, json_t *params, void *app)
{
	struct supervisor *sup = app;

	(void)params;
	lv_rpc_reply(call, json_pack("{s:s, s:s, s:s, s:s}", "version", LV_VERSION, "libevent",
	                             event_get_version(), "jansson", JANSSON_VERSION, "cgroup",
	                             sup->cgroup_state));
}

/* Written as text, not jansson objects: at 10000 workers this is the difference between
 * a few and a hundred milliseconds of a blocked daemon. */
static void m_status(struct lv_rpc_call *call, json_t *params, void *app)
{
	struct supervisor *sup = app;
	const char *target = json_string_value(json_object_get(params, "target"));
	uint64_t now = lv_now_ms();
	struct jsonw o = { 0 };
	struct worker **ws = NULL;
	int n = 0;

	if (!target) {
		status_write_all(&o, sup, now);
		lv_rpc_reply_text(call, jsonw_finish(&o));
		return;
	}
	if ((n = method_resolve_or_fail(sup, call, target, &ws)) < 0)
		return;
	jsonw_lit(&o, "{\"pools\":[");
	if (n > 0 || !strchr(target, ':'))
		status_write_pool(&o, pool_find(sup, n > 0 ? ws[0]->pool->cfg.name : target));
	jsonw_lit(&o, "],\"workers\":[");
	for (int i = 0; i < n; i++) {
		if (i)
			jsonw_lit(&o, ",");
		status_write_worker(&o, ws[i], now);
	}
	free(ws);
	jsonw_lit(&o, "]}");
	lv_rpc_reply_text(call, jsonw_finish(&o));
}

/* start, stop and restart share everything but the action and the state they await. */
static void act_on_target(struct lv_rpc_call *call, json_t *params, struct supervisor *sup,
                          void (*action)(struct worker *), unsigned ok_states,
                          unsigned fail_states)
{
	const char *target = json_string_value(json_object_get(params, "target"));
	json_t *wait = json_object_get(params, "wait");
	struct wait_spec spec = { .ok_states = ok_states, .fail_states = fail_states,
	                          .ran_counts = ok_states == WS_BIT(WS_RUNNING),
	                          .ran_since = sup->run_seq };
	struct worker **ws;
	int n;

	if (method_refuse_if_shutting_down(call, sup) || method_refuse_if_removing(call, sup, target))
		return;
	if ((n = method_resolve_or_fail(sup, call, target, &ws)) < 0)
		return;
	for (int i = 0; i < n; i++)
		action(ws[i]);
	free(ws);
	state_save(sup);
	if (wait && !json_is_true(wait)) /* the reply once the processes it starts exist */
		spec = (struct wait_spec){ .made = true };
	spec.timeout_ms = method_timeout_param(params);
	method_park(sup, call, target, &spec);
}

/* The operator's commands: they also record what should survive a daemon restart. */
static void command_start(struct worker *w)
{
	w->held = false;
	worker_start(w);
}

static void command_stop(struct worker *w)
{
	w->held = true;
	worker_stop(w);
}

static void command_restart(struct worker *w)
{
	w->held = false;
	worker_restart(w);
}

static void m_start(struct lv_rpc_call *call, json_t *params, void *app)
{
	act_on_target(call, params, app, command_start, WS_BIT(WS_RUNNING), WS_BIT(WS_FAILED));
}

static void m_stop(struct lv_rpc_call *call, json_t *params, void *app)
{
	act_on_target(call, params, app, command_stop, WS_BIT(WS_STOPPED), 0);
}

/* restart with "rolling": one worker of the pool at a time, the reply once all are
 * replaced (or the roll stopped short). A roll under way already is joined, not begun again.
 * Stopped workers stay stopped: a roll replaces what serves. */
static void restart_rolling(struct lv_rpc_call *call, json_t *params, struct supervisor *sup)
{
	const char *target = json_string_value(json_object_get(params, "target"));
	json_t *wait = json_object_get(params, "wait");
	struct wait_spec spec = { .roll = true };
	struct worker **ws;
	struct pool *p;
	int n;

	if (method_refuse_if_shutting_down(call, sup) || method_refuse_if_removing(call, sup, target))
		return;
	if ((n = method_resolve_or_fail(sup, call, target, &ws)) < 0)
		return;
	free(ws);
	p = pool_find(sup, target);
	if (!p->roll.active)
		pool_start_rolling(p, "restart");
	if (wait && !json_is_true(wait)) {
		lv_rpc_reply(call, json_pack("{s:s, s:i}", "rolling", p->cfg.name, "workers",
		                             (int)p->roll.total));
		return;
	}
	/* unless told, as long as a minute for each worker it replaces */
	spec.timeout_ms = json_object_get(params, "timeout_ms")
	                      ? method_timeout_param(params)
	                      : (p->roll.total > 1 ? p->roll.total : 1) * method_timeout_param(NULL);
	method_park(sup, call, target, &spec);
}

static void m_restart(struct lv_rpc_call *call, json_t *params, void *app)
{
	const char *target = json_string_value(json_object_get(params, "target"));

	if (json_is_true(json_object_get(params, "rolling")) && !strchr(target, ':')) {
		restart_rolling(call, params, app);
		return;
	}
	act_on_target(call, params, app, command_restart, WS_BIT(WS_RUNNING), WS_BIT(WS_FAILED));
}

static void m_wait(struct lv_rpc_call *call, json_t *params, void *app)
{
	struct supervisor *sup = app;
	const char *target = json_string_value(json_object_get(params, "target"));
	json_t *states = json_object_get(params, "state");
	json_int_t restarts = json_integer_value(json_object_get(params, "restarts"));
	struct wait_spec spec = { .reply = REPLY_STATUS, .timeout_ms = method_timeout_param(params) };
	struct worker **ws;
	size_t i;
	json_t *s;

	if (json_is_array(states) && json_array_size(states) == 0) {
		lv_rpc_fail(call, LV_RPC_INVALID_PARAMS, "params.state: must name at least one state",
		            NULL); /* a wait for no state could never end */
		return;
	}
	if (json_is_string(states))
		states = json_pack("[O]", states);
	else
		json_incref(states);
	json_array_foreach(states, i, s) {
		int st = json_is_string(s) ? fsm_from_wire_name(json_string_value(s)) : -1;
		if (st < 0) {
			json_decref(states);
			lv_rpc_fail(call, LV_RPC_INVALID_PARAMS,
			            "params.state: must be a worker state or a list of them", NULL);
			return;
		}
		spec.ok_states |= WS_BIT(st);
	}
	json_decref(states);
	/* failed is left only by a command: waiting on would only run out the time */
	if (!(spec.ok_states & WS_BIT(WS_FAILED)))
		spec.fail_states = WS_BIT(WS_FAILED);
	if (restarts < 0 || restarts > 1000000000) {
		lv_rpc_fail(call, LV_RPC_INVALID_PARAMS, "params.restarts: must be >= 0", NULL);
		return;
	}
	spec.min_restarts = (unsigned)restarts;
	if (method_resolve_or_fail(sup, call, target, &ws) < 0)
		return;
	free(ws);
	method_park(sup, call, target, &spec);
}

static void m_signal(struct lv_rpc_call *call, json_t *params, void *app)
{
	struct supervisor *sup = app;
	const char *target = json_string_value(json_object_get(params, "target"));
	json_t *sv = json_object_get(params, "signal");
	json_t *names = json_array(), *idle = json_array();
	struct worker **ws;
	int sig, n;

	sig = json_is_string(sv) ? lv_signal_from_name(json_string_value(sv))
	                         : (int)json_integer_value(sv);
	if (sig <= 0 || sig >= NSIG) {
		json_decref(names);
		json_decref(idle);
		lv_rpc_fail(call, LV_RPC_INVALID_PARAMS, "params.signal: unknown signal", NULL);
		return;
	}
	if (method_refuse_if_removing(call, sup, target) || (n = method_resolve_or_fail(sup, call, target, &ws)) < 0) {
		json_decref(names);
		json_decref(idle);
		return;
	}
	for (int i = 0; i < n; i++) /* and those with no process to signal, by name */
		json_array_append_new(worker_kill(ws[i], sig, false) == 0 ? names : idle,
		                      json_string(ws[i]->name));
	free(ws);
	lv_rpc_reply(call, json_pack("{s:o, s:o}", "workers", names, "not_running", idle));
}

static void m_inspect(struct lv_rpc_call *call, json_t *params, void *app)
{
	struct supervisor *sup = app;
	const char *target = json_string_value(json_object_get(params, "target"));
	json_int_t t = json_integer_value(json_object_get(params, "timeout_ms"));
	struct worker **ws;
	int n;

	if (!pool_target_valid(target) || !strchr(target, ':')) {
		lv_rpc_fail(call, LV_RPC_INVALID_PARAMS, "params.target: must name one worker, POOL:INDEX",
		            NULL);
		return;
	}
	if ((n = method_resolve_or_fail(sup, call, target, &ws)) < 0)
		return;
	if (!waiters_room(sup, call, method_privileged(call))) { /* each one also queues a message to the worker */
		free(ws);
		return;
	}
	inspect_start(sup, call, ws[0], t > 0 && t <= 60000 ? (unsigned)t : LV_INSPECT_TIMEOUT_MS);
	free(ws);
}

static void m_subscribe(struct lv_rpc_call *call, json_t *params, void *app)
{
	struct supervisor *sup = app;
	json_t *events = json_object_get(params, "events"), *e;
	const char *target = json_string_value(json_object_get(params, "target"));
	unsigned mask = events ? 0 : (1u << EV_COUNT) - 1;
	struct worker **ws;
	size_t i;

	if (events && json_array_size(events) == 0) {
		lv_rpc_fail(call, LV_RPC_INVALID_PARAMS, "params.events: must name at least one event "
		            "(leave it out for all)", NULL);
		return;
	}
	json_array_foreach(events, i, e) {
		int ev = json_is_string(e) ? events_from_name(json_string_value(e)) : -1;
		if (ev < 0) {
			lv_rpc_failf(call, LV_RPC_INVALID_PARAMS, NULL,
			             "params.events[%zu]: not an event name", i);
			return;
		}
		mask |= 1u << ev;
	}
	if (target) {
		if (method_resolve_or_fail(sup, call, target, &ws) < 0)
			return;
		free(ws);
	}
	if (subscribers_subscribe(lv_rpc_session_io(lv_rpc_call_session(call)), mask, target) < 0) {
		lv_rpc_fail(call, LV_RPC_INTERNAL_ERROR, "out of memory", NULL);
		return;
	}
	lv_rpc_reply(call, json_pack("{s:b}", "subscribed", 1));
}

static void m_tail(struct lv_rpc_call *call, json_t *params, void *app)
{
	struct supervisor *sup = app;
	const char *target = json_string_value(json_object_get(params, "target"));
	json_t *lines = json_object_get(params, "lines");
	json_int_t n = lines ? json_integer_value(lines) : 50;
	struct worker **ws;
	int count, rc;
	json_t *r;

	if (n < 0 || n > 100000) {
		lv_rpc_fail(call, LV_RPC_INVALID_PARAMS, "params.lines: must be between 0 and 100000", NULL);
		return;
	}
	if ((count = method_resolve_or_fail(sup, call, target, &ws)) < 0)
		return;
	if (json_is_true(json_object_get(params, "follow")) &&
	    (rc = subscribers_follow(lv_rpc_session_io(lv_rpc_call_session(call)), target)) < 0) {
		free(ws);
		if (rc == -EALREADY)
			lv_rpc_fail(call, LV_RPC_LIMIT_REACHED, "this connection already follows a target: "
			            "follow another one on a new connection",
			            json_pack("{s:s, s:i}", "limit", "follows_per_connection", "max", 1));
		else
			lv_rpc_fail(call, LV_RPC_INTERNAL_ERROR, "out of memory", NULL);
		return;
	}
	if ((r = method_tail(ws, count, strchr(target, ':') ? NULL : pool_find(sup, target),
	                     (unsigned)n)))
		lv_rpc_reply(call, r);
	else
		lv_rpc_fail(call, LV_RPC_INTERNAL_ERROR, "out of memory", NULL);
	free(ws);
}

static void m_shutdown(struct lv_rpc_call *call, json_t *params, void *app)
{
	(void)params;
	lv_rpc_reply(call, json_pack("{s:b}", "stopping", 1));
	shutdown_begin(app);
}

static const struct lv_rpc_param p_target_opt[] = {
	{ "target", LV_RPC_STRING, false }, { NULL, 0, false } };
static const struct lv_rpc_param p_action[] = {
	{ "target", LV_RPC_STRING, true }, { "wait", LV_RPC_BOOL, false },
	{ "timeout_ms", LV_RPC_INT, false }, { NULL, 0, false } };
static const struct lv_rpc_param p_restart[] = {
	{ "target", LV_RPC_STRING, true }, { "wait", LV_RPC_BOOL, false },
	{ "timeout_ms", LV_RPC_INT, false }, { "rolling", LV_RPC_BOOL, false }, { NULL, 0, false } };
static const struct lv_rpc_param p_wait[] = {
	{ "target", LV_RPC_STRING, true }, { "state", LV_RPC_STRING | LV_RPC_ARRAY, true },
	{ "restarts", LV_RPC_INT, false }, { "timeout_ms", LV_RPC_INT, false },
	{ NULL, 0, false } };
static const struct lv_rpc_param p_scale[] = {
	{ "pool", LV_RPC_STRING, true }, { "workers", LV_RPC_INT | LV_RPC_STRING, true },
	{ "wait", LV_RPC_BOOL, false }, { "timeout_ms", LV_RPC_INT, false }, { NULL, 0, false } };
static const struct lv_rpc_param p_tail[] = {
	{ "target", LV_RPC_STRING, true }, { "lines", LV_RPC_INT, false },
	{ "follow", LV_RPC_BOOL, false }, { NULL, 0, false } };
static const struct lv_rpc_param p_add[] = {
	{ "pool", LV_RPC_OBJECT, true }, { "wait", LV_RPC_BOOL, false },
	{ "timeout_ms", LV_RPC_INT, false }, { NULL, 0, false } };
static const struct lv_rpc_param p_remove[] = {
	{ "pool", LV_RPC_STRING, true }, { "wait", LV_RPC_BOOL, false },
	{ "timeout_ms", LV_RPC_INT, false }, { NULL, 0, false } };
static const struct lv_rpc_param p_subscribe[] = {
	{ "events", LV_RPC_ARRAY, false }, { "target", LV_RPC_STRING, false }, { NULL, 0, false } };
static const struct lv_rpc_param p_inspect[] = {
	{ "target", LV_RPC_STRING, true }, { "timeout_ms", LV_RPC_INT, false }, { NULL, 0, false } };
static const struct lv_rpc_param p_signal[] = {
	{ "target", LV_RPC_STRING, true }, { "signal", LV_RPC_STRING | LV_RPC_INT, true },
	{ NULL, 0, false } };

const struct lv_rpc_method lv_methods[] = {
	{ "ping", NULL, m_ping, LV_ROLE_READ },
	{ "version", NULL, m_version, LV_ROLE_READ },
	{ "status", p_target_opt, m_status, LV_ROLE_READ },
	{ "start", p_action, m_start, LV_ROLE_ADMIN },
	{ "stop", p_action, m_stop, LV_ROLE_ADMIN },
	{ "restart", p_restart, m_restart, LV_ROLE_ADMIN },
	{ "wait", p_wait, m_wait, LV_ROLE_READ },
	{ "scale", p_scale, m_scale, LV_ROLE_ADMIN },
	{ "signal", p_signal, m_signal, LV_ROLE_ADMIN },
	{ "inspect", p_inspect, m_inspect, LV_ROLE_READ },
	{ "subscribe", p_subscribe, m_subscribe, LV_ROLE_READ },
	{ "reload", NULL, m_reload, LV_ROLE_ADMIN },
	{ "tail", p_tail, m_tail, LV_ROLE_READ },
	{ "add", p_add, m_add, LV_ROLE_ADMIN },
	{ "remove", p_remove, m_remove, LV_ROLE_ADMIN },
	{ "reset", p_remove, m_reset, LV_ROLE_ADMIN },
	{ "shutdown", NULL, m_shutdown, LV_ROLE_ADMIN },
	{ NULL, NULL, NULL, LV_ROLE_NONE },
};
