/* metrics: the daemon, its pools, workers and loops as Prometheus text (format 0.0.4), or
 * as OpenMetrics 1.0 when the scraper asks for it. Written straight into an evbuffer from
 * what the supervisor holds: a scrape allocates no objects per worker. */
#include "daemon/control/metrics.h"

#include <ctype.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>

#include "daemon/control/control.h"
#include "daemon/control/request_stats.h"
#include "daemon/lib/clock.h"
#include "daemon/out/status.h"
#include "daemon/proc/cgroup.h"

struct out {
	struct evbuffer *b;
	bool om;        /* OpenMetrics: counter families without _total, # EOF at the end */
	int failed;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (evbuffer_add_vprintf(o->b, fmt, ap) < 0)
		o->failed = -1;
	va_end(ap);
}

/* # HELP and # TYPE of a family; an OpenMetrics counter family is named without _total. */
static void family(struct out *o, const char *name, const char *type, const char *help)
{
	size_t n = strlen(name);

	if (o->om && !strcmp(type, "counter") && n > 6 && !strcmp(name + n - 6, "_total"))
		n -= 6;
	put(o, "# HELP %.*s %s\n# TYPE %.*s %s\n", (int)n, name, help, (int)n, name, type);
}

/* A label value, escaped as both formats want: \\, \" and \n. */
static void label(struct out *o, const char *value)
{
	const char *p = value;

	while (*p) {
		size_t n = strcspn(p, "\\\"\n");

		if (n)
			evbuffer_add(o->b, p, n);
		p += n;
		if (*p) {
			put(o, "\\%c", *p == '\n' ? 'n' : *p);
			p++;
		}
	}
}

static double wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	unsigned n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n > 0 ? n - 1 : 0; /* the one opendir holds */
}

static long resident_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "re");
	long size = 0, resident = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%ld %ld", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return resident * sysconf(_SC_PAGESIZE);
}

static void write_process(struct out *o, const struct supervisor *sup)
{
	struct rusage ru;
	double cpu = 0;

	if (getrusage(RUSAGE_SELF, &ru) == 0)
		cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		      (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	family(o, "loopvisor_build_info", "gauge", "The version of loopvisord, as a label.");
	put(o, "loopvisor_build_info{version=\"%s\"} 1\n", LV_VERSION);
	family(o, "loopvisor_start_time_seconds", "gauge", "When loopvisord started, in seconds "
	       "since the epoch.");
	put(o, "loopvisor_start_time_seconds %.3f\n", sup->started_wall_ms / 1000.0);
	family(o, "process_cpu_seconds_total", "counter", "CPU time of loopvisord (user and "
	       "system), in seconds.");
	put(o, "process_cpu_seconds_total %.6f\n", cpu);
	family(o, "process_resident_memory_bytes", "gauge", "Resident memory of loopvisord.");
	put(o, "process_resident_memory_bytes %ld\n", resident_bytes());
	family(o, "process_open_fds", "gauge", "Open file descriptors of loopvisord.");
	put(o, "process_open_fds %u\n", open_fds());
}

static const enum worker_state wire_states[] = { WS_STOPPED, WS_STARTING, WS_RUNNING,
	                                             WS_STOPPING, WS_BACKOFF, WS_FAILED };

static void write_pools(struct out *o, const struct supervisor *sup)
{
	family(o, "loopvisor_pool_workers", "gauge", "Workers of a pool by state (every state, "
	       "0 included).");
	for (size_t i = 0; i < sup->n_pools; i++) {
		const struct pool *p = sup->pools[i];
		unsigned count[WS_COUNT] = { 0 };

		for (unsigned k = 0; k < p->n_slots; k++)
			if (p->workers[k])
				count[fsm_on_wire(p->workers[k]->state)]++;
		for (size_t s = 0; s < sizeof wire_states / sizeof *wire_states; s++) {
			put(o, "loopvisor_pool_workers{pool=\"");
			label(o, p->cfg.name);
			put(o, "\",state=\"%s\"} %u\n", fsm_wire_name(wire_states[s]),
			    count[wire_states[s]]);
		}
	}
	family(o, "loopvisor_pool_workers_desired", "gauge", "Workers a pool should have (its "
	       "config, or a runtime scale).");
	for (size_t i = 0; i < sup->n_pools; i++) {
		put(o, "loopvisor_pool_workers_desired{pool=\"");
		label(o, sup->pools[i]->cfg.name);
		put(o, "\"} %u\n", sup->pools[i]->cfg.workers);
	}
	family(o, "loopvisor_pool_ready_workers", "gauge", "Workers of a pool that are running "
	       "and ready (their readiness probe passes, where the pool has one).");
	for (size_t i = 0; i < sup->n_pools; i++) {
		put(o, "loopvisor_pool_ready_workers{pool=\"");
		label(o, sup->pools[i]->cfg.name);
		put(o, "\"} %u\n", sup->pools[i]->ready);
	}
}

/* {pool="P",worker="P:I" */
static void worker_labels(struct out *o, const struct worker *w)
{
	put(o, "{pool=\"");
	label(o, w->pool->cfg.name);
	put(o, "\",worker=\"");
	label(o, w->name);
	put(o, "\"");
}

typedef void worker_value_fn(struct out *o, const struct worker *w, const char *name,
                             double wall, uint64_t now);

static void for_each_worker(struct out *o, const struct supervisor *sup, const char *name,
                            worker_value_fn *fn, double wall, uint64_t now)
{
	for (size_t i = 0; i < sup->n_pools; i++)
		for (unsigned k = 0; k < sup->pools[i]->n_slots; k++)
			if (sup->pools[i]->workers[k])
				fn(o, sup->pools[i]->workers[k], name, wall, now);
}

static void value_up(struct out *o, const struct worker *w, const char *name, double wall,
                     uint64_t now)
{
	(void)wall;
	(void)now;
	put(o, "%s", name);
	worker_labels(o, w);
	put(o, "} %d\n", w->state == WS_RUNNING);
}

static void value_restarts(struct out *o, const struct worker *w, const char *name,
                           double wall, uint64_t now)
{
	(void)wall;
	(void)now;
	put(o, "%s", name);
	worker_labels(o, w);
	put(o, "} %u\n", w->restarts);
}

static void value_start_time(struct out *o, const struct worker *w, const char *name,
                             double wall, uint64_t now)
{
	if (w->proc.pid <= 0)
		return; /* no process: no start time */
	put(o, "%s", name);
	worker_labels(o, w);
	put(o, "} %.3f\n", wall - (double)(now - w->started_ms) / 1000.0);
}

static void value_beat_age(struct out *o, const struct worker *w, const char *name,
                           double wall, uint64_t now)
{
	(void)wall;
	if (w->proc.pid <= 0)
		return;
	for (unsigned l = 0; l < w->n_loops; l++) {
		if (!w->loops[l].last_beat_ms)
			continue;
		put(o, "%s", name);
		worker_labels(o, w);
		put(o, ",loop=\"%u\"} %.3f\n", l, (double)(now - w->loops[l].last_beat_ms) / 1000.0);
	}
}

static unsigned total_workers(const struct supervisor *sup)
{
	unsigned n = 0;

	for (size_t i = 0; i < sup->n_pools; i++)
		n += sup->pools[i]->n_slots;
	return n;
}

/* What the kernel accounts for each worker's cgroup leaf (docs/cgroups.md), read once per
 * worker per scrape; a figure the host does not keep has no sample. */
static void write_worker_resources(struct out *o, const struct supervisor *sup)
{
	static const struct { const char *name, *type, *help; } fam[] = {
		{ "loopvisor_worker_cpu_seconds_total", "counter",
		  "CPU time of everything in the worker's cgroup, by mode (user, system)." },
		{ "loopvisor_worker_memory_bytes", "gauge", "Memory of the worker's cgroup now." },
		{ "loopvisor_worker_memory_peak_bytes", "gauge", "Most memory its cgroup used." },
		{ "loopvisor_worker_tasks", "gauge", "Tasks (threads) in the worker's cgroup." },
	};
	struct row { const struct worker *w; struct cg_usage u; } *rows;
	size_t n = 0;

	if (!sup->procs.cgroups || !(rows = calloc(total_workers(sup) + 1, sizeof *rows)))
		return;
	for (size_t i = 0; i < sup->n_pools; i++)
		for (unsigned k = 0; k < sup->pools[i]->n_slots; k++) {
			const struct worker *w = sup->pools[i]->workers[k];

			if (w && w->proc.cg) {
				rows[n].w = w;
				cgleaf_usage(w->proc.cg, &rows[n++].u);
			}
		}
	for (size_t f = 0; f < sizeof fam / sizeof fam[0]; f++) {
		family(o, fam[f].name, fam[f].type, fam[f].help);
		for (size_t r = 0; r < n; r++) {
			const struct cg_usage *u = &rows[r].u;
			int64_t v[] = { u->cpu_user_usec, u->memory_current, u->memory_peak,
			                u->pids_current };

			if (f == 0) {
				for (int m = 0; m < 2; m++) {
					put(o, "%s", fam[f].name);
					worker_labels(o, rows[r].w);
					put(o, ",mode=\"%s\"} %.6f\n", m ? "system" : "user",
					    (double)(m ? u->cpu_system_usec : u->cpu_user_usec) / 1e6);
				}
			} else if (v[f] >= 0) {
				put(o, "%s", fam[f].name);
				worker_labels(o, rows[r].w);
				put(o, "} %lld\n", (long long)v[f]);
			}
		}
	}
	free(rows);
}

/* OOM kills in each worker's leaf: its ended processes', and its live one's so far (a child
 * killed while the worker lives on). None where the host keeps no memory.events. */
static void write_oom_kills(struct out *o, const struct supervisor *sup)
{
	if (!sup->procs.cgroups)
		return;
	family(o, "loopvisor_worker_oom_kills_total", "counter", "Processes of the worker's "
	       "cgroup that the kernel's OOM killer ended.");
	for (size_t i = 0; i < sup->n_pools; i++)
		for (unsigned k = 0; k < sup->pools[i]->n_slots; k++) {
			const struct worker *w = sup->pools[i]->workers[k];
			int64_t live = w && w->proc.cg && w->proc.pid > 0 ? cgleaf_oom_kills(w->proc.cg)
			                                                  : -1;

			if (!w || (live < 0 && !w->oom_kills))
				continue;
			put(o, "loopvisor_worker_oom_kills_total");
			worker_labels(o, w);
			put(o, "} %llu\n", (unsigned long long)(w->oom_kills + (live > 0 ? live : 0)));
		}
}

static void write_workers(struct out *o, const struct supervisor *sup)
{
	double wall = wall_now();
	uint64_t now = lv_now_ms();

	if (total_workers(sup) > sup->cfg->http.worker_series_max)
		return; /* per-pool series only: a scrape's size stays bounded */
	family(o, "loopvisor_worker_up", "gauge", "1 while the worker is running, else 0.");
	for_each_worker(o, sup, "loopvisor_worker_up", value_up, wall, now);
	family(o, "loopvisor_worker_restarts_total", "counter", "Starts of the worker after its "
	       "first.");
	for_each_worker(o, sup, "loopvisor_worker_restarts_total", value_restarts, wall, now);
	family(o, "loopvisor_worker_start_time_seconds", "gauge", "When the worker's current "
	       "process started, in seconds since the epoch.");
	for_each_worker(o, sup, "loopvisor_worker_start_time_seconds", value_start_time, wall, now);
	family(o, "loopvisor_loop_heartbeat_age_seconds", "gauge", "Time since each loop of a "
	       "module worker last beat.");
	for_each_worker(o, sup, "loopvisor_loop_heartbeat_age_seconds", value_beat_age, wall, now);
	write_worker_resources(o, sup);
	write_oom_kills(o, sup);
}

/* The jobs' counters (lv_counter_add), summed per pool over its workers and loops. */
static void write_job_counters(struct out *o, const struct supervisor *sup)
{
	family(o, "loopvisor_job_counter", "gauge", "Sums of the jobs' counters (lv_counter_add) "
	       "over a pool's current processes.");
	for (size_t i = 0; i < sup->n_pools; i++) {
		const struct pool *p = sup->pools[i];
		json_t *sum = json_object(), *v;
		const char *key;

		for (unsigned k = 0; sum && k < p->n_slots; k++)
			for (unsigned l = 0; p->workers[k] && l < p->workers[k]->n_loops; l++)
				json_object_foreach(p->workers[k]->loops[l].ch.counters, key, v) {
					json_int_t have = json_integer_value(json_object_get(sum, key));

					json_object_set_new(sum, key,
					                    json_integer(have + json_integer_value(v)));
				}
		json_object_foreach(sum, key, v) {
			put(o, "loopvisor_job_counter{pool=\"");
			label(o, p->cfg.name);
			put(o, "\",counter=\"");
			label(o, key);
			put(o, "\"} %lld\n", (long long)json_integer_value(v));
		}
		json_decref(sum);
	}
}

static const char *const streams[3] = { "stdout", "stderr", "log" };

/* NAME{pool="P"} */
static void pool_sample(struct out *o, const char *name, const struct pool *p)
{
	put(o, "%s{pool=\"", name);
	label(o, p->cfg.name);
	put(o, "\"");
}

/* Pressure stall time of each pool's folder (all its workers), per resource and kind. */
static void write_pool_pressure(struct out *o, const struct supervisor *sup)
{
	static const char *const res[] = { "cpu", "memory", "memory", "io", "io" };
	static const char *const kind[] = { "some", "some", "full", "some", "full" };
	bool first = true;

	for (size_t i = 0; sup->procs.cgroups && i < sup->n_pools; i++) {
		struct cg_usage u;
		int64_t v[5];

		if (cgroups_pool_usage(sup->procs.cgroups, sup->pools[i]->cfg.name, &u) < 0)
			continue;
		v[0] = u.cpu_some_usec, v[1] = u.memory_some_usec, v[2] = u.memory_full_usec;
		v[3] = u.io_some_usec, v[4] = u.io_full_usec;
		for (int k = 0; k < 5; k++) {
			if (v[k] < 0)
				continue;
			if (first)
				family(o, "loopvisor_pool_pressure_stalled_seconds_total", "counter",
				       "Time some (or all) tasks of the pool's cgroup stalled on a resource.");
			first = false;
			pool_sample(o, "loopvisor_pool_pressure_stalled_seconds_total", sup->pools[i]);
			put(o, ",resource=\"%s\",kind=\"%s\"} %.6f\n", res[k], kind[k],
			    (double)v[k] / 1e6);
		}
	}
}

/* NAME{KEY="VALUE"[,KEY2="VALUE2"] without the closing brace. */
static void labels2(struct out *o, const char *name, const char *key, const char *value,
                    const char *key2, const char *value2)
{
	put(o, "%s{%s=\"", name, key);
	label(o, value);
	if (key2) {
		put(o, "\",%s=\"", key2);
		label(o, value2);
	}
	put(o, "\"");
}

/* NAME_bucket{KEY="VALUE"[,KEY2="VALUE2"],le="..."} for every bound and +Inf, NAME_sum,
 * NAME_count (key2 NULL: one label). */
static void write_histogram(struct out *o, const char *name, const char *key,
                            const char *value, const char *key2, const char *value2,
                            const struct lv_histo *h)
{
	char series[128];

	for (unsigned i = 0; i <= LV_HISTO_BUCKETS; i++) {
		snprintf(series, sizeof series, "%s_bucket", name);
		labels2(o, series, key, value, key2, value2);
		if (i < LV_HISTO_BUCKETS)
			put(o, ",le=\"%g\"} %llu\n", lv_histo_bounds_us[i] / 1e6,
			    (unsigned long long)lv_histo_cumulative(h, i));
		else
			put(o, ",le=\"+Inf\"} %llu\n", (unsigned long long)h->count);
	}
	snprintf(series, sizeof series, "%s_sum", name);
	labels2(o, series, key, value, key2, value2);
	put(o, "} %.6f\n", h->sum_us / 1e6);
	snprintf(series, sizeof series, "%s_count", name);
	labels2(o, series, key, value, key2, value2);
	put(o, "} %llu\n", (unsigned long long)h->count);
}

/* Per pool and configured probe: results and durations. */
static void write_probe_stats(struct out *o, const struct supervisor *sup)
{
	family(o, "loopvisor_probe_results_total", "counter", "Attempts of a pool's probes, by "
	       "probe and result (success, failure); configured probes only.");
	for (size_t i = 0; i < sup->n_pools; i++)
		for (unsigned r = 0; r < LV_PROBE_ROLES; r++)
			for (int ok = 1; ok >= 0 && sup->pools[i]->cfg.probes[r].kind; ok--) {
				labels2(o, "loopvisor_probe_results_total", "pool",
				        sup->pools[i]->cfg.name, "probe", lv_probe_role_name(r));
				put(o, ",result=\"%s\"} %llu\n", ok ? "success" : "failure",
				    (unsigned long long)sup->pools[i]->stats.probe_results[r][ok]);
			}
	family(o, "loopvisor_probe_duration_seconds", "histogram", "How long each attempt of a "
	       "pool's probes took, by probe; configured probes only.");
	for (size_t i = 0; i < sup->n_pools; i++)
		for (unsigned r = 0; r < LV_PROBE_ROLES; r++)
			if (sup->pools[i]->cfg.probes[r].kind)
				write_histogram(o, "loopvisor_probe_duration_seconds", "pool",
				                sup->pools[i]->cfg.name, "probe", lv_probe_role_name(r),
				                &sup->pools[i]->stats.probe_duration[r]);
}

static void write_pool_stats(struct out *o, const struct supervisor *sup)
{
	family(o, "loopvisor_pool_restarts_total", "counter", "Starts of a pool's workers after "
	       "their first, by why the process before ended (every reason, 0 included).");
	for (size_t i = 0; i < sup->n_pools; i++)
		for (unsigned r = 0; r < LV_RR_COUNT; r++) {
			pool_sample(o, "loopvisor_pool_restarts_total", sup->pools[i]);
			put(o, ",reason=\"%s\"} %llu\n", status_reason_name(r),
			    (unsigned long long)sup->pools[i]->stats.restarts[r]);
		}
	family(o, "loopvisor_loop_hangs_total", "counter", "Loops of a pool's workers found hung "
	       "(no heartbeat within hang_timeout_ms).");
	for (size_t i = 0; i < sup->n_pools; i++) {
		pool_sample(o, "loopvisor_loop_hangs_total", sup->pools[i]);
		put(o, "} %llu\n", (unsigned long long)sup->pools[i]->stats.hangs);
	}
	family(o, "loopvisor_log_lines_total", "counter", "Lines a pool's workers wrote, by "
	       "stream (captured output and the jobs' lv_log).");
	for (size_t i = 0; i < sup->n_pools; i++)
		for (unsigned k = 0; k < 3; k++) {
			pool_sample(o, "loopvisor_log_lines_total", sup->pools[i]);
			put(o, ",stream=\"%s\"} %llu\n", streams[k],
			    (unsigned long long)sup->pools[i]->stats.log_lines[k]);
		}
	family(o, "loopvisor_log_lines_dropped_total", "counter", "Lines of a pool's workers its "
	       "log file could not take (a write error).");
	for (size_t i = 0; i < sup->n_pools; i++) {
		pool_sample(o, "loopvisor_log_lines_dropped_total", sup->pools[i]);
		put(o, "} %llu\n", (unsigned long long)sup->pools[i]->stats.log_dropped);
	}
	family(o, "loopvisor_loop_lag_seconds", "histogram", "The loop lag each heartbeat of a "
	       "pool's module workers reported.");
	for (size_t i = 0; i < sup->n_pools; i++)
		write_histogram(o, "loopvisor_loop_lag_seconds", "pool", sup->pools[i]->cfg.name,
		                NULL, NULL, &sup->pools[i]->stats.lag);
	family(o, "loopvisor_spawn_duration_seconds", "histogram", "From a worker's process made "
	       "to running (ready, where the pool has readiness).");
	for (size_t i = 0; i < sup->n_pools; i++)
		write_histogram(o, "loopvisor_spawn_duration_seconds", "pool", sup->pools[i]->cfg.name,
		                NULL, NULL, &sup->pools[i]->stats.spawn);
	write_probe_stats(o, sup);
}

/* The control socket's answers: per method and code, and each method's durations. */
static void write_requests(struct out *o, const struct request_stats *st)
{
	bool seen[LV_REQUEST_METHODS_MAX] = { false };

	family(o, "loopvisor_control_requests_total", "counter", "Calls the control socket "
	       "answered, by method (\"unknown\" for none of its methods) and code (\"ok\" for a "
	       "result, else the JSON-RPC error code).");
	for (unsigned k = 0; k < st->n_counts; k++) {
		put(o, "loopvisor_control_requests_total{method=\"%s\",code=\"",
		    request_stats_method(st, st->counts[k].method));
		if (st->counts[k].code)
			put(o, "%d\"} %llu\n", st->counts[k].code, (unsigned long long)st->counts[k].n);
		else
			put(o, "ok\"} %llu\n", (unsigned long long)st->counts[k].n);
		seen[st->counts[k].method] = true;
	}
	family(o, "loopvisor_control_request_duration_seconds", "histogram", "From a control "
	       "call's dispatch to its answer (a parked wait included), by method.");
	for (unsigned m = 0; m < LV_REQUEST_METHODS_MAX; m++)
		if (seen[m])
			write_histogram(o, "loopvisor_control_request_duration_seconds", "method",
			                request_stats_method(st, m), NULL, NULL, &st->duration[m]);
}

/* The accept queue of each shared TCP listening socket, from the daemon's own descriptor
 * (TCP_INFO: for a listening socket, tcpi_unacked is the queue's length now). */
static void write_listeners(struct out *o, const struct supervisor *sup)
{
	family(o, "loopvisor_listener_queue_length", "gauge", "Connections waiting in the accept "
	       "queue of a pool's shared TCP listening socket.");
	for (size_t i = 0; i < sup->n_pools; i++) {
		const struct pool *p = sup->pools[i];

		for (size_t k = 0; k < p->cfg.n_listen; k++) {
			struct tcp_info ti;
			socklen_t len = sizeof ti;

			if (strncmp(p->cfg.listen[k], "tcp:", 4) != 0 || p->listen_fds[k] < 0 ||
			    getsockopt(p->listen_fds[k], IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
				continue;
			pool_sample(o, "loopvisor_listener_queue_length", p);
			put(o, ",address=\"");
			label(o, p->cfg.listen[k] + 4);
			put(o, "\"} %u\n", ti.tcpi_unacked);
		}
	}
}

int metrics_write(struct evbuffer *b, const struct supervisor *sup, bool openmetrics)
{
	struct out o = { b, openmetrics, 0 };

	write_process(&o, sup);
	write_pools(&o, sup);
	if (sup->control)
		write_requests(&o, control_request_stats(sup->control));
	write_pool_stats(&o, sup);
	write_listeners(&o, sup);
	write_pool_pressure(&o, sup);
	write_workers(&o, sup);
	write_job_counters(&o, sup);
	if (openmetrics)
		put(&o, "# EOF\n");
	return o.failed;
}
