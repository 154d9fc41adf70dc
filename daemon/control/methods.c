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
#include "daemon/control/admit.h"
#include "daemon/control/control.h"
#include "daemon/out/events.h"
#include "daemon/control/inspect.h"
#include "daemon/proc/output.h"
#include "daemon/out/systemd.h"
#include "daemon/core/state_file.h"
#include "daemon/lib/log.h"
#include "ipc/jsonw.h"
#include "daemon/out/waiters.h"

#define DEFAULT_WAIT_MS 60000

static void fail_target(struct lv_rpc_call *call, const char *target)
{
	lv_rpc_fail(call, LV_RPC_NO_SUCH_TARGET, "no such pool or worker",
	            json_pack("{s:s}", "target", target));
}

#define TARGET_SYNTAX "POOL or POOL:INDEX (INDEX in decimal, without sign or leading zeros)"

/* Resolves params.target or answers -32602 (not the one target syntax) or -32001; returns
 * the count, or -1 after replying. */
static int resolve_or_fail(struct supervisor *sup, struct lv_rpc_call *call, const char *target,
                           struct worker ***out)
{
	int n;

	*out = NULL;
	if (!supervisor_target_valid(target)) {
		lv_rpc_fail(call, LV_RPC_INVALID_PARAMS, "params.target: must be " TARGET_SYNTAX, NULL);
		return -1;
	}
	if ((n = supervisor_resolve(sup, target, out)) < 0)
		fail_target(call, target);
	return n;
}

/* Nothing new starts while the daemon stops: what would start a worker is refused. */
static bool refuse_if_shutting_down(struct lv_rpc_call *call, const struct supervisor *sup)
{
	if (!sup->shutting_down)
		return false;
	lv_rpc_fail(call, LV_RPC_SHUTTING_DOWN, "the daemon is shutting down", NULL);
	return true;
}

/* A pool on its way out takes no more commands: they would revive it or act on workers
 * that are leaving. target is a pool or POOL:INDEX (NULL: nothing to check). */
static bool refuse_if_removing(struct lv_rpc_call *call, struct supervisor *sup,
                               const char *target)
{
	char name[LV_POOL_NAME_MAX + 1];
	size_t len = target ? strcspn(target, ":") : 0;
	const struct pool *p;

	if (len == 0 || len > LV_POOL_NAME_MAX)
		return false;
	memcpy(name, target, len);
	name[len] = '\0';
	if (!(p = supervisor_find_pool(sup, name)) || !p->removing)
		return false;
	lv_rpc_failf(call, LV_RPC_POOL_REMOVING, json_pack("{s:s}", "pool", name),
	             "pool %s is being removed", name);
	return true;
}

static unsigned timeout_param(json_t *params)
{
	json_int_t t = json_integer_value(json_object_get(params, "timeout_ms"));

	return t > 0 && t < 86400000 ? (unsigned)t : DEFAULT_WAIT_MS;
}

static void m_ping(struct lv_rpc_call *call, json_t *params, void *app)
{
	(void)params;
	(void)app;
	lv_rpc_reply(call, json_string("pong"));
}

static void m_version(struct lv_rpc_call *call, json_t *params, void *app)
{
	(void)params;
	(void)app;
	lv_rpc_reply(call, json_pack("{s:s, s:s, s:s}", "version", LV_VERSION, "libevent",
	                             event_get_version(), "jansson", JANSSON_VERSION));
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

	if (target && (n = resolve_or_fail(sup, call, target, &ws)) < 0)
		return;
	jsonw_lit(&o, "{\"pools\":[");
	if (!target) {
		for (size_t p = 0; p < sup->n_pools; p++) {
			if (p)
				jsonw_lit(&o, ",");
			status_write_pool(&o, sup->pools[p]);
		}
	} else if (n > 0 || !strchr(target, ':')) {
		status_write_pool(&o, supervisor_find_pool(sup, n > 0 ? ws[0]->pool->cfg.name : target));
	}
	jsonw_lit(&o, "],\"workers\":[");
	if (!target) {
		bool first = true;

		for (size_t p = 0; p < sup->n_pools; p++)
			for (unsigned i = 0; i < sup->pools[p]->n_slots; i++)
				if (sup->pools[p]->workers[i]) {
					if (!first)
						jsonw_lit(&o, ",");
					first = false;
					status_write_worker(&o, sup->pools[p]->workers[i], now);
				}
	}
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

	if (refuse_if_shutting_down(call, sup) || refuse_if_removing(call, sup, target))
		return;
	if ((n = resolve_or_fail(sup, call, target, &ws)) < 0)
		return;
	for (int i = 0; i < n; i++)
		action(ws[i]);
	free(ws);
	state_save(sup);
	if (wait && !json_is_true(wait)) {
		lv_rpc_reply(call, target_result(sup, target, false));
		return;
	}
	spec.timeout_ms = timeout_param(params);
	waiter_park(sup, call, target, &spec);
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

static void m_restart(struct lv_rpc_call *call, json_t *params, void *app)
{
	act_on_target(call, params, app, command_restart, WS_BIT(WS_RUNNING), WS_BIT(WS_FAILED));
}

static void m_wait(struct lv_rpc_call *call, json_t *params, void *app)
{
	struct supervisor *sup = app;
	const char *target = json_string_value(json_object_get(params, "target"));
	json_t *states = json_object_get(params, "state");
	json_int_t restarts = json_integer_value(json_object_get(params, "restarts"));
	struct wait_spec spec = { .reply = REPLY_STATUS, .timeout_ms = timeout_param(params) };
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
		int st = json_is_string(s) ? worker_state_from_name(json_string_value(s)) : -1;
		if (st < 0) {
			json_decref(states);
			lv_rpc_fail(call, LV_RPC_INVALID_PARAMS,
			            "params.state: must be a worker state or a list of them", NULL);
			return;
		}
		spec.ok_states |= WS_BIT(st);
	}
	json_decref(states);
	if (restarts < 0 || restarts > 1000000000) {
		lv_rpc_fail(call, LV_RPC_INVALID_PARAMS, "params.restarts: must be >= 0", NULL);
		return;
	}
	spec.min_restarts = (unsigned)restarts;
	if (resolve_or_fail(sup, call, target, &ws) < 0)
		return;
	free(ws);
	waiter_park(sup, call, target, &spec);
}

/* params.workers: a count, or "config": back to what the config says (no override). */
static json_int_t scale_target(struct lv_rpc_call *call, json_t *params, const struct pool *p)
{
	json_t *v = json_object_get(params, "workers");
	json_int_t n = json_integer_value(v);

	if (json_is_string(v) && !strcmp(json_string_value(v), "config"))
		return p->config_workers;
	if (json_is_string(v) || n < 0 || n > LV_POOL_WORKERS_MAX) {
		lv_rpc_failf(call, LV_RPC_INVALID_PARAMS, NULL, "params.workers: must be between 0 and "
		             "%d, or \"config\"", LV_POOL_WORKERS_MAX);
		return -1;
	}
	return n;
}

static void m_scale(struct lv_rpc_call *call, json_t *params, void *app)
{
	struct supervisor *sup = app;
	const char *name = json_string_value(json_object_get(params, "pool"));
	struct pool *p = supervisor_find_pool(sup, name);
	struct wait_spec spec = { .reply = REPLY_SCALE };
	json_int_t n;
	unsigned old;

	if (refuse_if_shutting_down(call, sup) || refuse_if_removing(call, sup, name))
		return;
	if (!p) {
		fail_target(call, name);
		return;
	}
	if ((n = scale_target(call, params, p)) < 0)
		return;
	old = p->cfg.workers;
	if (pool_scale(p, (unsigned)n) < 0) {
		lv_rpc_fail(call, LV_RPC_INTERNAL_ERROR, "out of memory", NULL);
		return;
	}
	for (unsigned i = old; i < (unsigned)n; i++)
		worker_start(p->workers[i]);
	if (pool_overridden(p))
		log_info("pool %s scaled from %u to %u workers, overriding the config's %u until a "
		         "scale to \"config\" or an edit of its workers there", name, old, (unsigned)n,
		         p->config_workers);
	else
		log_info("pool %s scaled from %u to %u workers", name, old, (unsigned)n);
	state_save(sup);
	events_emit(sup, EV_POOL_SCALED, name, json_pack("{s:i, s:i}", "from", (int)old, "workers",
	                                                  (int)n));
	if (json_is_false(json_object_get(params, "wait"))) {
		lv_rpc_reply(call, scale_result(p));
		return;
	}
	/* Settled: new workers past starting, surplus ones gone from the table. */
	spec.ok_states = WS_BIT(WS_RUNNING) | WS_BIT(WS_STOPPED) | WS_BIT(WS_FAILED);
	spec.pool_settled = true;
	spec.timeout_ms = timeout_param(params);
	waiter_park(sup, call, name, &spec);
}

static void m_signal(struct lv_rpc_call *call, json_t *params, void *app)
{
	struct supervisor *sup = app;
	const char *target = json_string_value(json_object_get(params, "target"));
	json_t *sv = json_object_get(params, "signal");
	json_t *names = json_array();
	struct worker **ws;
	int sig, n;

	sig = json_is_string(sv) ? lv_signal_from_name(json_string_value(sv))
	                         : (int)json_integer_value(sv);
	if (sig <= 0 || sig >= NSIG) {
		json_decref(names);
		lv_rpc_fail(call, LV_RPC_INVALID_PARAMS, "params.signal: unknown signal", NULL);
		return;
	}
	if (refuse_if_removing(call, sup, target) || (n = resolve_or_fail(sup, call, target, &ws)) < 0) {
		json_decref(names);
		return;
	}
	for (int i = 0; i < n; i++)
		if (worker_kill(ws[i], sig, false) == 0)
			json_array_append_new(names, json_string(ws[i]->name));
	free(ws);
	lv_rpc_reply(call, json_pack("{s:o}", "workers", names));
}

static void m_inspect(struct lv_rpc_call *call, json_t *params, void *app)
{
	struct supervisor *sup = app;
	const char *target = json_string_value(json_object_get(params, "target"));
	json_int_t t = json_integer_value(json_object_get(params, "timeout_ms"));
	struct worker **ws;
	int n;

	if (!supervisor_target_valid(target) || !strchr(target, ':')) {
		lv_rpc_fail(call, LV_RPC_INVALID_PARAMS, "params.target: must name one worker, POOL:INDEX",
		            NULL);
		return;
	}
	if ((n = resolve_or_fail(sup, call, target, &ws)) < 0)
		return;
	if (!waiters_room(sup, call)) { /* each one also queues a message to the worker */
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
		int ev = json_is_string(e) ? event_from_name(json_string_value(e)) : -1;
		if (ev < 0) {
			lv_rpc_failf(call, LV_RPC_INVALID_PARAMS, NULL,
			             "params.events[%zu]: not an event name", i);
			return;
		}
		mask |= 1u << ev;
	}
	if (target) {
		if (resolve_or_fail(sup, call, target, &ws) < 0)
			return;
		free(ws);
	}
	if (control_subscribe(lv_rpc_session_io(lv_rpc_call_session(call)), mask, target) < 0) {
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

	if (n < 0 || n > 100000) {
		lv_rpc_fail(call, LV_RPC_INVALID_PARAMS, "params.lines: must be between 0 and 100000", NULL);
		return;
	}
	if ((count = resolve_or_fail(sup, call, target, &ws)) < 0)
		return;
	if (json_is_true(json_object_get(params, "follow")) &&
	    (rc = control_follow(lv_rpc_session_io(lv_rpc_call_session(call)), target)) < 0) {
		free(ws);
		if (rc == -EALREADY)
			lv_rpc_fail(call, LV_RPC_LIMIT_REACHED, "this connection already follows a target: "
			            "follow another one on a new connection",
			            json_pack("{s:s, s:i}", "limit", "follows_per_connection", "max", 1));
		else
			lv_rpc_fail(call, LV_RPC_INTERNAL_ERROR, "out of memory", NULL);
		return;
	}
	lv_rpc_reply(call, logs_tail(sup, ws, count, (unsigned)n));
	free(ws);
}

static void m_reload(struct lv_rpc_call *call, json_t *params, void *app)
{
	char err[LV_ERRBUF];
	json_t *result;

	(void)params;
	if (refuse_if_shutting_down(call, app))
		return;
	service_reloading(app);
	if (supervisor_reload(app, &result, err, sizeof err) < 0) {
		service_reloaded(app);
		lv_rpc_fail(call, LV_RPC_RELOAD_FAILED, err, NULL);
		return;
	}
	service_reloaded(app);
	state_save(app);
	lv_rpc_reply(call, result);
}

/* A caller who is not root adds pools that run as itself, and nothing only root may give. */
static bool refuse_unless_admitted(struct lv_rpc_call *call, const struct lv_pool_config *cfg)
{
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	char err[LV_ERRBUF];

	if (lv_rpc_call_peer(call, &uid, &gid) == 0 && admit_pool(cfg, uid, gid, err, sizeof err) == 0)
		return false;
	if (uid == (uid_t)-1)
		snprintf(err, sizeof err, "the caller's credentials are unknown");
	log_warn("control: add of pool %s refused to uid %d: %s", cfg->name, (int)uid, err);
	lv_rpc_fail(call, LV_RPC_PERMISSION_DENIED, err, json_pack("{s:s}", "method", "add"));
	return true;
}

static void m_add(struct lv_rpc_call *call, json_t *params, void *app)
{
	struct supervisor *sup = app;
	struct lv_pool_config cfg;
	struct wait_spec spec = { .ok_states = WS_BIT(WS_RUNNING) | WS_BIT(WS_STOPPED),
	                          .fail_states = WS_BIT(WS_FAILED), .ran_counts = true,
	                          .ran_since = sup->run_seq };
	char err[LV_ERRBUF];
	struct pool *p;

	if (refuse_if_shutting_down(call, sup))
		return;
	if (lv_pool_config_from_json(json_object_get(params, "pool"), sup->cfg->dir, "params.pool",
	                             &cfg, err, sizeof err) < 0) {
		lv_rpc_fail(call, LV_RPC_INVALID_PARAMS, err, NULL);
		return;
	}
	if (refuse_unless_admitted(call, &cfg) || refuse_if_removing(call, sup, cfg.name)) {
		lv_pool_config_clear(&cfg);
		return;
	}
	for (size_t i = 0; cfg.after[i]; i++) {
		if (!supervisor_find_pool(sup, cfg.after[i])) {
			lv_rpc_failf(call, LV_RPC_INVALID_PARAMS, NULL,
			             "params.pool.after[%zu]: no pool named \"%s\"", i, cfg.after[i]);
			lv_pool_config_clear(&cfg);
			return;
		}
	}
	if (supervisor_find_pool(sup, cfg.name)) {
		lv_rpc_failf(call, LV_RPC_INVALID_PARAMS, NULL,
		             "params.pool.name: a pool \"%s\" exists already", cfg.name);
	} else if (supervisor_add_pool(sup, &cfg, err, sizeof err) < 0) {
		lv_rpc_fail(call, LV_RPC_INVALID_PARAMS, err, NULL);
	} else {
		p = supervisor_find_pool(sup, cfg.name);
		log_info("pool %s: added at runtime", cfg.name);
		events_emit(sup, EV_POOL_ADDED, cfg.name, NULL);
		for (unsigned i = 0; cfg.autostart && i < p->n_slots; i++)
			worker_start(p->workers[i]);
		state_save(sup);
		if (json_is_false(json_object_get(params, "wait"))) {
			lv_rpc_reply(call, target_result(sup, cfg.name, false));
		} else {
			spec.timeout_ms = timeout_param(params);
			waiter_park(sup, call, cfg.name, &spec);
		}
	}
	lv_pool_config_clear(&cfg);
}

static void m_remove(struct lv_rpc_call *call, json_t *params, void *app)
{
	struct supervisor *sup = app;
	const char *name = json_string_value(json_object_get(params, "pool"));
	struct pool *p = supervisor_find_pool(sup, name);
	struct wait_spec spec = { .gone_ok = true, .reply = REPLY_REMOVED };

	if (refuse_if_shutting_down(call, sup))
		return;
	if (!p) {
		fail_target(call, name);
		return;
	}
	if (p->removing)
		pool_drop_readd(p); /* removed again: a reload's wish to bring it back is void */
	else
		supervisor_remove_pool(p); /* p may be gone after this */
	state_save(sup);
	if (json_is_false(json_object_get(params, "wait"))) {
		lv_rpc_reply(call, json_pack("{s:s}", "removed", name));
		return;
	}
	spec.timeout_ms = timeout_param(params);
	waiter_park(sup, call, name, &spec);
}

static void m_shutdown(struct lv_rpc_call *call, json_t *params, void *app)
{
	(void)params;
	lv_rpc_reply(call, json_pack("{s:b}", "stopping", 1));
	supervisor_shutdown(app);
}

static const struct lv_rpc_param p_target_opt[] = {
	{ "target", LV_RPC_STRING, false }, { NULL, 0, false } };
static const struct lv_rpc_param p_action[] = {
	{ "target", LV_RPC_STRING, true }, { "wait", LV_RPC_BOOL, false },
	{ "timeout_ms", LV_RPC_INT, false }, { NULL, 0, false } };
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
	{ "restart", p_action, m_restart, LV_ROLE_ADMIN },
	{ "wait", p_wait, m_wait, LV_ROLE_READ },
	{ "scale", p_scale, m_scale, LV_ROLE_ADMIN },
	{ "signal", p_signal, m_signal, LV_ROLE_ADMIN },
	{ "inspect", p_inspect, m_inspect, LV_ROLE_READ },
	{ "subscribe", p_subscribe, m_subscribe, LV_ROLE_READ },
	{ "reload", NULL, m_reload, LV_ROLE_ADMIN },
	{ "tail", p_tail, m_tail, LV_ROLE_READ },
	{ "add", p_add, m_add, LV_ROLE_ADMIN },
	{ "remove", p_remove, m_remove, LV_ROLE_ADMIN },
	{ "shutdown", NULL, m_shutdown, LV_ROLE_ADMIN },
	{ NULL, NULL, NULL, LV_ROLE_NONE },
};
