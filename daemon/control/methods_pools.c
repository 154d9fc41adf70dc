/* methods_pools: the control methods that change pools: add, remove, scale and reload. */
#include "daemon/control/methods_pools.h"

#include <stdio.h>
#include <string.h>

#include "daemon/control/admit.h"
#include "daemon/control/daemon_reload.h"
#include "daemon/control/method_helpers.h"
#include "daemon/core/state_file.h"
#include "daemon/lib/log.h"
#include "daemon/out/waiters.h"

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

/* scale and reset: {"pool", "workers"} now without wait, else once the pool settled: new
 * workers past starting, surplus ones gone from the table. */
static void reply_once_settled(struct lv_rpc_call *call, json_t *params, struct supervisor *sup,
                               struct pool *p)
{
	struct wait_spec spec = { .reply = REPLY_SCALE, .pool_settled = true,
	                          .ok_states = WS_BIT(WS_RUNNING) | WS_BIT(WS_STOPPED) |
	                                       WS_BIT(WS_FAILED) };

	if (json_is_false(json_object_get(params, "wait"))) {
		lv_rpc_reply(call, scale_result(p));
		return;
	}
	spec.timeout_ms = method_timeout_param(params);
	method_park(sup, call, p->cfg.name, &spec);
}

void m_scale(struct lv_rpc_call *call, json_t *params, void *app)
{
	struct supervisor *sup = app;
	const char *name = json_string_value(json_object_get(params, "pool"));
	struct pool *p = pool_find(sup, name);
	json_int_t n;
	unsigned old;

	if (method_refuse_if_shutting_down(call, sup) || method_refuse_if_removing(call, sup, name))
		return;
	if (!p) {
		method_fail_target(call, name);
		return;
	}
	if ((n = scale_target(call, params, p)) < 0)
		return;
	old = p->cfg.workers;
	if (pool_scale(p, (unsigned)n) < 0) {
		lv_rpc_fail(call, LV_RPC_INTERNAL_ERROR, "out of memory", NULL);
		return;
	}
	pool_start_from(p, old);
	if (pool_overridden(p))
		log_info("pool %s scaled from %u to %u workers, overriding the config's %u until a "
		         "scale to \"config\" or an edit of its workers there", name, old, (unsigned)n,
		         p->config_workers);
	else
		log_info("pool %s scaled from %u to %u workers", name, old, (unsigned)n);
	state_save(sup);
	core_changed(sup, &(struct core_change){ .kind = CC_POOL_SCALED, .pool = p, .pool_name = name,
	                                         .scaled_from = old, .scaled_to = (unsigned)n });
	reply_once_settled(call, params, sup, p);
}

/* reset: the pool's runtime decisions go (a scale, workers held stopped by a command) and
 * its config rules again: its count, and running workers where it autostarts. */
void m_reset(struct lv_rpc_call *call, json_t *params, void *app)
{
	struct supervisor *sup = app;
	const char *name = json_string_value(json_object_get(params, "pool"));
	struct pool *p = pool_find(sup, name);
	unsigned old, released = 0;

	if (method_refuse_if_shutting_down(call, sup) || method_refuse_if_removing(call, sup, name))
		return;
	if (!p) {
		method_fail_target(call, name);
		return;
	}
	old = p->cfg.workers;
	if (pool_scale(p, p->config_workers) < 0) {
		lv_rpc_fail(call, LV_RPC_INTERNAL_ERROR, "out of memory", NULL);
		return;
	}
	for (unsigned i = 0; i < old && i < p->n_slots; i++) {
		struct worker *w = p->workers[i];

		if (!w || w->removing || !w->held)
			continue;
		w->held = false;
		released++;
		if (p->cfg.autostart)
			worker_start(w);
	}
	pool_start_from(p, old);
	log_info("pool %s: reset to its config: %u workers (ran %u), %u no longer held stopped",
	         name, p->cfg.workers, old, released);
	state_save(sup);
	if (old != p->cfg.workers)
		core_changed(sup, &(struct core_change){ .kind = CC_POOL_SCALED, .pool = p,
		                                         .pool_name = name, .scaled_from = old,
		                                         .scaled_to = p->cfg.workers });
	reply_once_settled(call, params, sup, p);
}

void m_reload(struct lv_rpc_call *call, json_t *params, void *app)
{
	char err[LV_ERRBUF];
	json_t *result;

	(void)params;
	if (method_refuse_if_shutting_down(call, app))
		return;
	if (daemon_reload(app, &result, err, sizeof err) < 0)
		lv_rpc_fail(call, LV_RPC_RELOAD_FAILED, err, NULL);
	else
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

void m_add(struct lv_rpc_call *call, json_t *params, void *app)
{
	struct supervisor *sup = app;
	struct lv_pool_config cfg;
	struct wait_spec spec = { .ok_states = WS_BIT(WS_RUNNING) | WS_BIT(WS_STOPPED),
	                          .fail_states = WS_BIT(WS_FAILED), .ran_counts = true,
	                          .ran_since = sup->run_seq };
	char err[LV_ERRBUF];
	struct pool *p;

	if (method_refuse_if_shutting_down(call, sup))
		return;
	if (lv_pool_config_from_json(json_object_get(params, "pool"), sup->cfg->dir, "params.pool",
	                             &cfg, err, sizeof err) < 0) {
		lv_rpc_fail(call, LV_RPC_INVALID_PARAMS, err, NULL);
		return;
	}
	if (refuse_unless_admitted(call, &cfg) || method_refuse_if_removing(call, sup, cfg.name)) {
		lv_pool_config_clear(&cfg);
		return;
	}
	for (size_t i = 0; cfg.after[i]; i++) {
		if (!pool_find(sup, cfg.after[i])) {
			lv_rpc_failf(call, LV_RPC_INVALID_PARAMS, NULL,
			             "params.pool.after[%zu]: no pool named \"%s\"", i, cfg.after[i]);
			lv_pool_config_clear(&cfg);
			return;
		}
	}
	if (pool_find(sup, cfg.name)) {
		lv_rpc_failf(call, LV_RPC_INVALID_PARAMS, NULL,
		             "params.pool.name: a pool \"%s\" exists already", cfg.name);
	} else if (pool_add(sup, &cfg, err, sizeof err) < 0) {
		lv_rpc_fail(call, LV_RPC_INVALID_PARAMS, err, NULL);
	} else {
		p = pool_find(sup, cfg.name);
		log_info("pool %s: added at runtime", cfg.name);
		core_changed(sup, &(struct core_change){ .kind = CC_POOL_ADDED, .pool = p,
		                                         .pool_name = cfg.name });
		pool_autostart(p);
		state_save(sup);
		if (json_is_false(json_object_get(params, "wait"))) {
			lv_rpc_reply(call, target_result(sup, cfg.name, false));
		} else {
			spec.timeout_ms = method_timeout_param(params);
			method_park(sup, call, cfg.name, &spec);
		}
	}
	lv_pool_config_clear(&cfg);
}

void m_remove(struct lv_rpc_call *call, json_t *params, void *app)
{
	struct supervisor *sup = app;
	const char *name = json_string_value(json_object_get(params, "pool"));
	struct pool *p = pool_find(sup, name);
	struct wait_spec spec = { .gone_ok = true, .reply = REPLY_REMOVED };

	if (method_refuse_if_shutting_down(call, sup))
		return;
	if (!p) {
		method_fail_target(call, name);
		return;
	}
	if (p->removing)
		pool_drop_readd(p); /* removed again: a reload's wish to bring it back is void */
	else
		pool_remove(p); /* p may be gone after this */
	state_save(sup);
	if (json_is_false(json_object_get(params, "wait"))) {
		lv_rpc_reply(call, json_pack("{s:s}", "removed", name));
		return;
	}
	spec.timeout_ms = method_timeout_param(params);
	method_park(sup, call, name, &spec);
}
