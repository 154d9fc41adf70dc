/* output: renders control results for terminals: the status table with columns sized to
 * their content, human uptimes, and the reason a worker last stopped. */
#include "ctl/output.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *str_or(const json_t *v, const char *fallback)
{
	return json_is_string(v) ? json_string_value(v) : fallback;
}

void ctl_format_uptime(long long ms, char *buf, size_t len)
{
	long long s = ms / 1000;

	if (ms <= 0)
		snprintf(buf, len, "-");
	else if (ms < 1000)
		snprintf(buf, len, "%lldms", ms);
	else if (s < 60)
		snprintf(buf, len, "%lld.%llds", s, (ms % 1000) / 100);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lldh%lldm", s / 3600, (s % 3600) / 60);
	else
		snprintf(buf, len, "%lldd%lldh", s / 86400, (s % 86400) / 3600);
}

void ctl_format_last(const json_t *w, char *buf, size_t len)
{
	const json_t *err = json_object_get(w, "last_error");
	const json_t *exit = json_object_get(w, "last_exit");
	const json_t *sig = json_object_get(exit, "signal");

	if (json_is_string(err))
		snprintf(buf, len, "%s", json_string_value(err));
	else if (json_is_integer(json_object_get(exit, "code")))
		snprintf(buf, len, "exit %lld",
		         (long long)json_integer_value(json_object_get(exit, "code")));
	else if (json_is_string(sig))
		snprintf(buf, len, "killed by %s", json_string_value(sig));
	else if (json_is_integer(sig))
		snprintf(buf, len, "killed by signal %lld", (long long)json_integer_value(sig));
	else
		snprintf(buf, len, "-");
}

enum { COL_NAME, COL_STATE, COL_PID, COL_UPTIME, COL_CPU, COL_MEM, COL_RESTARTS, COL_LAST,
       N_COLS };
static const char *const headers[N_COLS] = { "NAME", "STATE", "PID", "UPTIME", "CPU", "MEM",
                                             "RESTARTS", "LAST" };

/* 7340032 as "7.0M": bytes in the largest unit that keeps the number under 1024 */
static void format_bytes(long long n, char *buf, size_t len)
{
	static const char units[] = "BKMGT";
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%lldB", n);
	else
		snprintf(buf, len, "%.1f%c", v, units[u]);
}

/* CPU (% of one CPU over the process's life, as ps says it) and MEM of the worker's cgroup,
 * "-" where the daemon has no figure (cgroups off, no memory controller). */
static void resource_cells(const json_t *w, char *cpu, char *mem)
{
	const json_t *res = json_object_get(w, "resources");
	const json_t *pct = json_object_get(res, "cpu_percent");
	const json_t *bytes = json_object_get(res, "memory_bytes");

	if (json_is_number(pct))
		snprintf(cpu, 256, "%.1f%%", json_number_value(pct));
	else
		snprintf(cpu, 256, "-");
	if (json_is_integer(bytes))
		format_bytes(json_integer_value(bytes), mem, 256);
	else
		snprintf(mem, 256, "-");
}

static void row_cells(const json_t *w, char cells[N_COLS][256])
{
	const json_t *pid = json_object_get(w, "pid");

	snprintf(cells[COL_NAME], 256, "%s", json_string_value(json_object_get(w, "name")) ?: "?");
	const char *state = json_string_value(json_object_get(w, "state")) ?: "?";
	const json_t *readiness = json_object_get(json_object_get(w, "probes"), "readiness");
	bool unready = !strcmp(state, "running") && json_is_false(json_object_get(w, "ready"));

	/* running, and its readiness probe says no: the one running that serves nothing */
	snprintf(cells[COL_STATE], 256, "%s", unready ? "not ready" : state);
	if (json_is_integer(pid))
		snprintf(cells[COL_PID], 256, "%lld", (long long)json_integer_value(pid));
	else
		snprintf(cells[COL_PID], 256, "-");
	ctl_format_uptime(json_is_integer(pid) ? json_integer_value(json_object_get(w, "uptime_ms")) : 0,
	                  cells[COL_UPTIME], 256);
	resource_cells(w, cells[COL_CPU], cells[COL_MEM]);
	snprintf(cells[COL_RESTARTS], 256, "%lld",
	         (long long)json_integer_value(json_object_get(w, "restarts")));
	if (unready && json_is_string(json_object_get(readiness, "reason")))
		snprintf(cells[COL_LAST], 256, "readiness probe: %s",
		         json_string_value(json_object_get(readiness, "reason")));
	else
		ctl_format_last(w, cells[COL_LAST], 256);
}

static bool use_color;

void ctl_output_color(bool on)
{
	use_color = on;
}

const char *ctl_state_sgr(const char *state)
{
	static const struct { const char *state, *sgr; } map[] = {
		{ "running", "32" }, { "starting", "33" }, { "stopping", "33" }, { "backoff", "33;1" },
		{ "failed", "31;1" }, { "not ready", "33" },
	};

	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (!strcmp(state, map[i].state))
			return map[i].sgr;
	return NULL;
}

/* width 0: a column not shown */
static void print_row(FILE *out, char cells[N_COLS][256], const int width[N_COLS], bool header)
{
	for (int c = 0; c < N_COLS - 1; c++) {
		if (!width[c])
			continue;
		const char *sgr = use_color && !header && c == COL_STATE ? ctl_state_sgr(cells[c]) : NULL;

		if (sgr) /* the padding outside the colour: columns stay aligned */
			fprintf(out, "\033[%sm%s\033[0m%*s  ", sgr, cells[c],
			        width[c] - (int)strlen(cells[c]), "");
		else
			fprintf(out, "%-*s  ", width[c], cells[c]);
	}
	fprintf(out, "%s\n", cells[N_COLS - 1]);
}

/* Under the table: where a pool runs otherwise than its config says, by a command. */
static void print_decisions(FILE *out, const json_t *pools)
{
	const json_t *p;
	size_t i;

	json_array_foreach(pools, i, p) {
		const char *name = str_or(json_object_get(p, "name"), "?");
		long long held = json_integer_value(json_object_get(p, "held"));
		bool scaled = json_is_true(json_object_get(p, "override"));

		if (!scaled && held == 0)
			continue;
		fprintf(out, "%s: ", name);
		if (scaled)
			fprintf(out, "%lld workers by a runtime scale (config: %lld)%s",
			        (long long)json_integer_value(json_object_get(p, "workers")),
			        (long long)json_integer_value(json_object_get(p, "config_workers")),
			        held ? ", " : "");
		if (held)
			fprintf(out, "%lld stopped by a command", held);
		fprintf(out, "; loopvisorctl reset %s returns to the config\n", name);
	}
}

static bool any_resources(const json_t *workers)
{
	const json_t *w;
	size_t i;

	json_array_foreach(workers, i, w)
		if (json_is_object(json_object_get(w, "resources")))
			return true;
	return false;
}

void ctl_print_status(FILE *out, const json_t *status)
{
	const json_t *workers = json_object_get(status, "workers"), *w;
	int width[N_COLS];
	char cells[N_COLS][256];
	size_t i;

	if (json_array_size(workers) == 0) {
		fprintf(out, "no workers\n");
		return;
	}
	for (int c = 0; c < N_COLS; c++)
		width[c] = (int)strlen(headers[c]);
	json_array_foreach(workers, i, w) {
		row_cells(w, cells);
		for (int c = 0; c < N_COLS; c++)
			if ((int)strlen(cells[c]) > width[c])
				width[c] = (int)strlen(cells[c]);
	}
	/* CPU and MEM only where the daemon accounts for workers (cgroups on) */
	if (!any_resources(workers))
		width[COL_CPU] = width[COL_MEM] = 0;
	for (int c = 0; c < N_COLS; c++)
		snprintf(cells[c], 256, "%s", headers[c]);
	print_row(out, cells, width, true);
	json_array_foreach(workers, i, w) {
		row_cells(w, cells);
		print_row(out, cells, width, false);
	}
	print_decisions(out, json_object_get(status, "pools"));
}

void ctl_print_event(FILE *out, const json_t *ev)
{
	long long ms = json_integer_value(json_object_get(ev, "time"));
	time_t secs = (time_t)(ms / 1000);
	const json_t *exit = json_object_get(ev, "exit");
	const char *who = json_string_value(json_object_get(ev, "worker"));
	char stamp[32], last[256];
	struct tm tm;

	localtime_r(&secs, &tm);
	strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
	if (!who)
		who = json_string_value(json_object_get(ev, "pool"));
	fprintf(out, "%s.%03lld #%lld %s", stamp, ms % 1000,
	        (long long)json_integer_value(json_object_get(ev, "seq")),
	        json_string_value(json_object_get(ev, "event")) ?: "?");
	if (who)
		fprintf(out, " %s", who);
	if (json_is_integer(json_object_get(ev, "pid")))
		fprintf(out, " pid %lld", (long long)json_integer_value(json_object_get(ev, "pid")));
	if (exit || json_is_string(json_object_get(ev, "error"))) {
		json_t *w = json_pack("{s:O?, s:O?}", "last_exit", exit, "last_error",
		                      json_object_get(ev, "error"));
		ctl_format_last(w, last, sizeof last);
		fprintf(out, " %s", last);
		json_decref(w);
	}
	fputc('\n', out);
}

void ctl_print_log_line(FILE *out, const json_t *line)
{
	long long ms = json_integer_value(json_object_get(line, "time"));
	time_t secs = (time_t)(ms / 1000);
	char stamp[32];
	struct tm tm;

	if (json_is_integer(json_object_get(line, "skipped"))) { /* this follower fell behind */
		fprintf(out, "-- %lld lines skipped: the reader fell behind --\n",
		        json_integer_value(json_object_get(line, "skipped")));
		return;
	}
	localtime_r(&secs, &tm);
	strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
	fprintf(out, "%s.%03lld %s%s %s: %s\n", stamp, ms % 1000,
	        json_string_value(json_object_get(line, "worker")) ?: "?",
	        json_is_true(json_object_get(line, "removed")) ? " (removed)" : "",
	        json_string_value(json_object_get(line, "stream")) ?: "?",
	        json_string_value(json_object_get(line, "text")) ?: "");
}

void ctl_print_log_lines(FILE *out, const json_t *result)
{
	const json_t *line;
	size_t i;

	json_array_foreach(json_object_get(result, "lines"), i, line)
		ctl_print_log_line(out, line);
}

void ctl_print_names(FILE *out, const char *verb, const json_t *result)
{
	const json_t *names = json_object_get(result, "workers"), *name;
	const char *first = str_or(json_array_get(names, 0), "?");
	size_t n = json_array_size(names), pool_len = strcspn(first, ":"), i;
	bool one_pool = n > 0;

	if (n == 1) {
		fprintf(out, "%s %s\n", verb, first);
		return;
	}
	json_array_foreach(names, i, name) { /* a pool's workers: POOL:INDEX of one POOL */
		const char *s = str_or(name, "");

		if (strncmp(s, first, pool_len) != 0 || s[pool_len] != ':')
			one_pool = false;
	}
	if (one_pool)
		fprintf(out, "%s %zu workers of %.*s\n", verb, n, (int)pool_len, first);
	else
		fprintf(out, "%s %zu workers\n", verb, n);
}

/* signal: who got it, then one line for each worker that had no process to get it. */
static void print_signalled(FILE *out, const json_t *result)
{
	const json_t *name;
	size_t i;

	if (json_array_size(json_object_get(result, "workers")) > 0)
		ctl_print_names(out, "signalled", result);
	json_array_foreach(json_object_get(result, "not_running"), i, name)
		fprintf(out, "%s: not signalled: it has no process\n", str_or(name, "?"));
}

void ctl_print_reload(FILE *out, const json_t *result)
{
	static const char *const kinds[] = { "added", "removed", "changed", "scaled" };
	bool any = false;

	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		const json_t *pools = json_object_get(result, kinds[k]), *name;
		size_t i;

		if (json_array_size(pools) == 0)
			continue;
		fprintf(out, "%s: ", kinds[k]);
		json_array_foreach(pools, i, name)
			fprintf(out, "%s%s", i ? ", " : "", json_string_value(name));
		fputc('\n', out);
		any = true;
	}
	if (!any)
		fprintf(out, "nothing changed\n");
}

void ctl_print_result(FILE *out, const char *cmd, const json_t *result)
{
	if (!strcmp(cmd, "status")) {
		ctl_print_status(out, result);
	} else if (!strcmp(cmd, "start")) {
		ctl_print_names(out, "started", result);
	} else if (!strcmp(cmd, "stop")) {
		ctl_print_names(out, "stopped", result);
	} else if (!strcmp(cmd, "restart")) {
		ctl_print_names(out, "restarted", result);
	} else if (!strcmp(cmd, "signal")) {
		print_signalled(out, result);
	} else if (!strcmp(cmd, "scale")) {
		long long n = json_integer_value(json_object_get(result, "workers"));

		fprintf(out, "%s: %lld worker%s\n", str_or(json_object_get(result, "pool"), "?"), n,
		       n == 1 ? "" : "s");
	} else if (!strcmp(cmd, "add")) {
		ctl_print_names(out, "added", result);
	} else if (!strcmp(cmd, "reset")) {
		long long n = json_integer_value(json_object_get(result, "workers"));

		fprintf(out, "%s: as configured again: %lld worker%s\n",
		        str_or(json_object_get(result, "pool"), "?"), n, n == 1 ? "" : "s");
	} else if (!strcmp(cmd, "remove")) {
		fprintf(out, "removed %s\n", str_or(json_object_get(result, "removed"), "?"));
	} else if (!strcmp(cmd, "wait")) {
		ctl_print_status(out, result);
	} else if (!strcmp(cmd, "reload")) {
		ctl_print_reload(out, result);
	} else if (!strcmp(cmd, "shutdown")) {
		fprintf(out, "shutting down\n");
	} else if (!strcmp(cmd, "tail")) {
		ctl_print_log_lines(out, result);
	} else if (!strcmp(cmd, "version")) {
		fprintf(out, "loopvisord %s (libevent %s, jansson %s)\nloopvisorctl %s\n",
		       str_or(json_object_get(result, "version"), "?"),
		       str_or(json_object_get(result, "libevent"), "?"),
		       str_or(json_object_get(result, "jansson"), "?"), LV_VERSION);
	} else {
		char *text = json_dumps(result, JSON_INDENT(2) | JSON_ENCODE_ANY);

		if (text)
			fprintf(out, "%s\n", text);
		free(text);
	}
}

void ctl_print_error(FILE *out, const json_t *error)
{
	const json_t *data = json_object_get(error, "data");
	const json_t *workers = json_object_get(data, "workers"), *name;
	const char *msg = str_or(json_object_get(error, "message"), "the daemon answered with an error");
	const char *target = str_or(json_object_get(data, "target"), NULL);
	const char *worker = str_or(json_object_get(data, "worker"), NULL);
	const char *last = str_or(json_object_get(data, "last_error"), NULL);
	const char *what = target ? target : str_or(json_object_get(data, "method"), NULL);
	size_t i;

	if (!what)
		what = str_or(json_object_get(data, "pool"), NULL);
	fprintf(out, "loopvisorctl: %s", msg);
	/* what the message says already is not said again */
	if (worker && !strstr(msg, worker))
		fprintf(out, ": %s", worker);
	if (worker && last && !strstr(msg, last))
		fprintf(out, ": %s", last);
	if (!worker && what && !strstr(msg, what))
		fprintf(out, ": %s", what);
	if (json_is_string(json_object_get(data, "limit")))
		fprintf(out, " (%s: at most %lld)", str_or(json_object_get(data, "limit"), ""),
		        (long long)json_integer_value(json_object_get(data, "max")));
	json_array_foreach(workers, i, name) {
		if (i == 5) {
			fprintf(out, " and %zu more", json_array_size(workers) - 5);
			break;
		}
		fprintf(out, "%s%s", i ? ", " : "; still waiting for ", str_or(name, "?"));
	}
	fputc('\n', out);
}
