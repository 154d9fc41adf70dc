/* status: the JSON shape of pools and workers that status, wait and start/stop replies
 * share, exactly as docs/protocol.md documents it. */
#include "daemon/out/status.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "config/signame.h"
#include "daemon/proc/cgroup.h"
#include "ipc/jsonw.h"

static const char *const reasons[LV_RR_COUNT] = {
	[LV_RR_EXIT] = "exit", [LV_RR_SIGNAL] = "signal", [LV_RR_HANG] = "hang",
	[LV_RR_START_TIMEOUT] = "start_timeout", [LV_RR_COMMAND] = "command",
	[LV_RR_RELOAD] = "reload", [LV_RR_PROBE] = "probe", [LV_RR_MEMORY] = "memory",
	[LV_RR_OOM] = "oom",
};

const char *status_reason_name(unsigned reason)
{
	return reason < LV_RR_COUNT ? reasons[reason] : "exit";
}

/* "probes": {"readiness": {"result": "failure", "reason": "status 503", "failures": 2}}, the
 * configured ones, while the worker has a process. */
static void write_probes(struct jsonw *o, const struct worker *w)
{
	bool first = true;

	if (!w->probes)
		return;
	for (unsigned r = 0; r < LV_PROBE_ROLES; r++) {
		const struct probe_state *ps = &w->probes->p[r];

		if (w->pool->cfg.probes[r].kind == LV_PROBE_NONE)
			continue;
		if (first)
			jsonw_lit(o, ",\"probes\":{");
		else
			jsonw_lit(o, ",");
		first = false;
		jsonw_str(o, lv_probe_role_name(r));
		jsonw_lit(o, ":{\"result\":");
		if (ps->last < 0)
			jsonw_lit(o, "null");
		else
			jsonw_str(o, ps->last ? "success" : "failure");
		jsonw_lit(o, ",\"reason\":");
		jsonw_str(o, ps->last < 0 ? NULL : ps->why);
		jsonw_lit(o, ",\"failures\":");
		jsonw_int(o, ps->failures);
		jsonw_lit(o, "}");
	}
	if (!first)
		jsonw_lit(o, "}");
}

static void write_usage(struct jsonw *o, const char *key, int64_t v, bool comma)
{
	if (comma)
		jsonw_lit(o, ",");
	jsonw_str(o, key);
	jsonw_lit(o, ":");
	jsonw_int_or_null(o, v >= 0, v);
}

/* "cgroup" and "resources": what the kernel accounts for the worker's leaf, read now; a
 * figure this host does not keep (no memory controller, no PSI) is null. */
static void write_resources(struct jsonw *o, const struct worker *w, uint64_t now)
{
	struct cg_usage u;

	if (!w->proc.cg)
		return;
	cgleaf_usage(w->proc.cg, &u);
	jsonw_lit(o, ",\"cgroup\":");
	jsonw_str(o, cgleaf_path(w->proc.cg));
	jsonw_lit(o, ",\"resources\":{\"cpu_percent\":");
	if (w->proc.pid > 0 && u.cpu_usage_usec >= 0 && now > w->started_ms) {
		char pct[32]; /* over the process's life, as ps says %CPU */
		int len = snprintf(pct, sizeof pct, "%.1f", (double)(u.cpu_usage_usec - u.cpu_base_usec) /
		                   (double)(now - w->started_ms) / 10.0);

		jsonw_raw(o, pct, (size_t)len);
	} else {
		jsonw_lit(o, "null");
	}
	write_usage(o, "cpu_user_usec", u.cpu_user_usec, true);
	write_usage(o, "cpu_system_usec", u.cpu_system_usec, true);
	write_usage(o, "memory_bytes", u.memory_current, true);
	write_usage(o, "memory_peak_bytes", u.memory_peak, true);
	write_usage(o, "tasks", u.pids_current, true);
	jsonw_lit(o, ",\"pressure\":{");
	write_usage(o, "cpu_some_usec", u.cpu_some_usec, false);
	write_usage(o, "memory_some_usec", u.memory_some_usec, true);
	write_usage(o, "memory_full_usec", u.memory_full_usec, true);
	write_usage(o, "io_some_usec", u.io_some_usec, true);
	write_usage(o, "io_full_usec", u.io_full_usec, true);
	jsonw_lit(o, "}}");
}

static void write_exit(struct jsonw *o, int status)
{
	const char *name;

	if (!WIFSIGNALED(status)) {
		jsonw_lit(o, "{\"code\":");
		jsonw_int(o, WEXITSTATUS(status));
	} else if ((name = lv_signal_name(WTERMSIG(status))) != NULL) {
		jsonw_lit(o, "{\"signal\":");
		jsonw_str(o, name);
	} else {
		jsonw_lit(o, "{\"signal\":");
		jsonw_int(o, WTERMSIG(status));
	}
	jsonw_lit(o, "}");
}

static void write_loop(struct jsonw *o, const struct worker_loop *l, uint64_t now)
{
	jsonw_lit(o, "{\"lag_us\":");
	jsonw_int(o, (long long)l->ch.lag_us);
	jsonw_lit(o, ",\"lag_max_us\":");
	jsonw_int(o, (long long)l->ch.lag_max_us);
	jsonw_lit(o, ",\"heartbeat_age_ms\":");
	jsonw_int_or_null(o, l->last_beat_ms != 0, (long long)(now - l->last_beat_ms));
	jsonw_lit(o, "}");
}

/* Loop health: one object, or one per loop when the pool runs several. */
static void write_loops(struct jsonw *o, const struct worker *w, uint64_t now)
{
	if (w->proc.pid <= 0 || (w->pool->cfg.kind == LV_KIND_EXEC && !w->loops[0].last_beat_ms)) {
		jsonw_lit(o, "null");
	} else if (w->n_loops == 1) {
		write_loop(o, &w->loops[0], now);
	} else {
		for (unsigned i = 0; i < w->n_loops; i++) {
			jsonw_raw(o, i ? "," : "[", 1);
			write_loop(o, &w->loops[i], now);
		}
		jsonw_lit(o, "]");
	}
}

/* The job's counters, summed over its loops (jansson only when there are some). */
static void write_counters(struct jsonw *o, const struct worker *w)
{
	json_t *sum = NULL, *v;
	const char *key;
	char *text;

	for (unsigned i = 0; i < w->n_loops; i++) {
		json_object_foreach(w->loops[i].ch.counters, key, v) {
			json_t *have;

			if (!sum && !(sum = json_object()))
				break;
			if ((have = json_object_get(sum, key)) != NULL)
				json_integer_set(have, json_integer_value(have) + json_integer_value(v));
			else
				json_object_set_new(sum, key, json_integer(json_integer_value(v)));
		}
	}
	if (!sum || !(text = json_dumps(sum, JSON_COMPACT))) {
		jsonw_lit(o, "{}");
	} else {
		jsonw_raw(o, text, strlen(text));
		free(text);
	}
	json_decref(sum);
}

void status_write_worker(struct jsonw *o, const struct worker *w, uint64_t now)
{
	jsonw_lit(o, "{\"name\":");
	jsonw_str(o, w->name);
	jsonw_lit(o, ",\"pool\":");
	jsonw_str(o, w->pool->cfg.name);
	jsonw_lit(o, ",\"index\":");
	jsonw_int(o, w->index);
	jsonw_lit(o, ",\"state\":");
	jsonw_str(o, fsm_wire_name(w->state));
	jsonw_lit(o, ",\"pid\":");
	jsonw_int_or_null(o, w->proc.pid > 0, w->proc.pid);
	jsonw_lit(o, ",\"restarts\":");
	jsonw_int(o, w->restarts);
	jsonw_lit(o, ",\"uptime_ms\":");
	jsonw_int(o, w->proc.pid > 0 ? (long long)(now - w->started_ms) : 0);
	jsonw_lit(o, ",\"last_exit\":");
	if (w->has_exited)
		write_exit(o, w->last_status);
	else
		jsonw_lit(o, "null");
	jsonw_lit(o, ",\"last_error\":");
	jsonw_str(o, w->last_error);
	jsonw_lit(o, ",\"last_end\":");
	jsonw_str(o, w->has_exited ? status_reason_name(w->end_reason) : NULL);
	if (w->ready)
		jsonw_lit(o, ",\"ready\":true");
	else
		jsonw_lit(o, ",\"ready\":false");
	write_probes(o, w);
	write_resources(o, w, now);
	jsonw_lit(o, ",\"loop\":");
	write_loops(o, w, now);
	jsonw_lit(o, ",\"counters\":");
	write_counters(o, w);
	if (w->pool->cfg.ready_notify) {
		jsonw_lit(o, ",\"notify\":{\"status\":");
		jsonw_str(o, w->notify.status);
		if (w->notify.stopping)
			jsonw_lit(o, ",\"stopping\":true}");
		else
			jsonw_lit(o, ",\"stopping\":false}");
	}
	jsonw_lit(o, "}");
}

void status_write_pool(struct jsonw *o, const struct pool *p)
{
	jsonw_lit(o, "{\"name\":");
	jsonw_str(o, p->cfg.name);
	jsonw_lit(o, ",\"kind\":");
	jsonw_str(o, p->cfg.kind == LV_KIND_EXEC ? "exec" : p->cfg.python ? "python" : "module");
	jsonw_lit(o, ",\"workers\":");
	jsonw_int(o, p->cfg.workers);
	jsonw_lit(o, ",\"config_workers\":");
	jsonw_int(o, p->config_workers);
	if (pool_overridden(p))
		jsonw_lit(o, ",\"override\":true");
	else
		jsonw_lit(o, ",\"override\":false");
	jsonw_lit(o, ",\"held\":");
	jsonw_int(o, pool_held(p));
	jsonw_lit(o, ",\"running\":");
	jsonw_int(o, p->running);
	jsonw_lit(o, ",\"ready\":");
	jsonw_int(o, p->ready);
	jsonw_lit(o, "}");
}

/* What o holds, parsed: the small replies and events built with jansson take their shapes
 * from the writers above, so that each shape is defined once. */
static json_t *parsed(struct jsonw *o)
{
	char *text = jsonw_finish(o);
	json_t *v = text ? json_loads(text, 0, NULL) : NULL;

	free(text);
	return v ? v : json_null();
}

json_t *status_exit_json(int status)
{
	struct jsonw o = { 0 };

	write_exit(&o, status);
	return parsed(&o);
}

json_t *status_worker_json(const struct worker *w)
{
	struct jsonw o = { 0 };

	status_write_worker(&o, w, lv_now_ms());
	return parsed(&o);
}

/* "on: PATH", "off: WHY", or "degraded: WHY" when a pool asks for what cannot be done
 * here: a limit is never a silent no-op. */
static void write_cgroup_state(struct jsonw *o, const struct supervisor *sup)
{
	char text[256];

	for (size_t i = 0; sup->procs.cgroups && i < sup->n_pools; i++) {
		const struct lv_pool_config *cfg = &sup->pools[i]->cfg;
		const char *lack = cgroups_lacks(sup->procs.cgroups, &cfg->limits);

		if (!lack)
			continue;
		snprintf(text, sizeof text, "degraded: no %s controller (pool %s)", lack, cfg->name);
		jsonw_str(o, text);
		return;
	}
	jsonw_str(o, sup->cgroup_state);
}

void status_write_all(struct jsonw *o, const struct supervisor *sup, uint64_t now)
{
	bool first = true;

	jsonw_lit(o, "{\"pools\":[");
	for (size_t p = 0; p < sup->n_pools; p++) {
		if (p)
			jsonw_lit(o, ",");
		status_write_pool(o, sup->pools[p]);
	}
	jsonw_lit(o, "],\"workers\":[");
	for (size_t p = 0; p < sup->n_pools; p++)
		for (unsigned i = 0; i < sup->pools[p]->n_slots; i++)
			if (sup->pools[p]->workers[i]) {
				if (!first)
					jsonw_lit(o, ",");
				first = false;
				status_write_worker(o, sup->pools[p]->workers[i], now);
			}
	jsonw_lit(o, "],\"cgroup\":");
	write_cgroup_state(o, sup);
	jsonw_lit(o, "}");
}
