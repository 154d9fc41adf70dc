/* top_view: the model loopvisorctl top keeps (a status, then the event stream) and the rows
 * it draws from it: filtered by name, one per worker or one per pool, sorted by a key. */
#include "ctl/top_view.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/output.h"

json_t *top_model_new(void)
{
	return json_object();
}

static long long int_of(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* Whether a status worker had a process before: its next process is a restart. */
static bool had_process(const json_t *w)
{
	return json_is_integer(json_object_get(w, "pid")) ||
	       !json_is_null(json_object_get(w, "last_exit")) || int_of(w, "restarts") > 0;
}

static void set_since(json_t *w, const json_t *status_w, long long now_ms)
{
	json_object_set_new(w, "since_ms", json_integer(now_ms - int_of(status_w, "uptime_ms")));
}

void top_model_take_status(json_t *model, const json_t *status, bool full, long long now_ms)
{
	const json_t *sw;
	const char *name;
	json_t *w, *seen = json_object();
	void *tmp;
	size_t i;

	json_array_foreach(json_object_get(status, "workers"), i, sw) {
		if (!(name = json_string_value(json_object_get(sw, "name"))))
			continue;
		json_object_set_new(seen, name, json_true());
		w = json_object_get(model, name);
		if (!w || full) {
			json_t *copy = json_deep_copy(sw);

			if (!copy)
				continue;
			set_since(copy, sw, now_ms);
			json_object_set_new(copy, "ran", json_boolean(had_process(sw)));
			json_object_set_new(model, name, copy);
			continue;
		}
		json_object_set(w, "loop", json_object_get(sw, "loop"));
		json_object_set(w, "counters", json_object_get(sw, "counters"));
		/* the uptime is the process's the events announced, not an older or newer one */
		if (json_equal(json_object_get(w, "pid"), json_object_get(sw, "pid")))
			set_since(w, sw, now_ms);
		/* an event lost between the first status and the subscription is made good */
		if (int_of(sw, "restarts") > int_of(w, "restarts"))
			json_object_set(w, "restarts", json_object_get(sw, "restarts"));
	}
	json_object_foreach_safe(model, tmp, name, w)
		if (!json_object_get(seen, name))
			json_object_del(model, name);
	json_decref(seen);
}

static void set_str(json_t *w, const char *key, const char *value)
{
	json_object_set_new(w, key, json_string(value));
}

bool top_model_take_event(json_t *model, const json_t *ev, long long now_ms)
{
	const char *event = json_string_value(json_object_get(ev, "event"));
	const char *name = json_string_value(json_object_get(ev, "worker"));
	const char *pool = json_string_value(json_object_get(ev, "pool"));
	const json_t *pid = json_object_get(ev, "pid"), *error = json_object_get(ev, "error");
	json_t *w;
	void *tmp;
	const char *key;

	if (!event)
		return false;
	if (!strcmp(event, "pool.removed") && pool) {
		json_object_foreach_safe(model, tmp, key, w)
			if (!strcmp(json_string_value(json_object_get(w, "pool")) ?: "", pool))
				json_object_del(model, key);
		return true;
	}
	if (!name || !(w = json_object_get(model, name)))
		return false; /* a worker the next status brings */
	if (!strcmp(event, "worker.starting")) {
		set_str(w, "state", "starting");
		if (json_is_integer(pid)) { /* its process exists: a new one */
			long long restarts = int_of(w, "restarts");

			if (json_is_true(json_object_get(w, "ran")))
				json_object_set_new(w, "restarts", json_integer(restarts + 1));
			json_object_set(w, "pid", (json_t *)pid);
			json_object_set_new(w, "since_ms", json_integer(now_ms));
			json_object_set_new(w, "ran", json_true());
			json_object_set_new(w, "loop", json_null());
		}
	} else if (!strcmp(event, "worker.running")) {
		set_str(w, "state", "running");
	} else if (!strcmp(event, "worker.exited")) {
		json_object_set_new(w, "pid", json_null());
		json_object_set_new(w, "loop", json_null());
		json_object_set(w, "last_exit", json_object_get(ev, "exit") ?: json_null());
		json_object_set(w, "last_error", error ? (json_t *)error : json_null());
	} else if (!strcmp(event, "worker.backoff")) {
		set_str(w, "state", "backoff");
	} else if (!strcmp(event, "worker.failed")) {
		set_str(w, "state", "failed");
		if (error)
			json_object_set(w, "last_error", (json_t *)error);
	} else if (!strcmp(event, "worker.hung")) {
		if (error)
			json_object_set(w, "last_error", (json_t *)error);
	} else if (!strcmp(event, "worker.stopped")) {
		set_str(w, "state", "stopped");
		json_object_set_new(w, "pid", json_null());
	} else {
		return false;
	}
	return true;
}

/* Troubles first: the order of the state sort and which state a pool row shows. */
static int state_rank(const char *state)
{
	static const char *const order[] = { "failed", "backoff", "starting", "stopping",
	                                     "running", "stopped" };

	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
		if (!strcmp(state, order[i]))
			return (int)i;
	return (int)(sizeof order / sizeof order[0]);
}

long long top_loop_lag(const json_t *loop)
{
	const json_t *one;
	long long worst = -1;
	size_t i;

	if (json_is_object(loop))
		return json_is_integer(json_object_get(loop, "lag_us")) ? int_of(loop, "lag_us") : -1;
	json_array_foreach(loop, i, one)
		if (json_is_integer(json_object_get(one, "lag_us")) && int_of(one, "lag_us") > worst)
			worst = int_of(one, "lag_us");
	return worst;
}

static bool passes(const char *name, const char *filter)
{
	return !filter || !*filter || strstr(name, filter);
}

static void worker_row(struct top_row *r, const json_t *w, long long now_ms)
{
	const json_t *pid = json_object_get(w, "pid");

	snprintf(r->name, sizeof r->name, "%s", json_string_value(json_object_get(w, "name")) ?: "?");
	snprintf(r->pool, sizeof r->pool, "%s", json_string_value(json_object_get(w, "pool")) ?: "?");
	r->index = int_of(w, "index");
	snprintf(r->state, sizeof r->state, "%s",
	         json_string_value(json_object_get(w, "state")) ?: "?");
	r->pid = json_is_integer(pid) ? json_integer_value(pid) : -1;
	r->uptime_ms = r->pid < 0 ? 0 : now_ms - int_of(w, "since_ms");
	if (r->pid >= 0 && r->uptime_ms <= 0)
		r->uptime_ms = 1;
	r->restarts = int_of(w, "restarts");
	r->lag_us = r->pid < 0 ? -1 : top_loop_lag(json_object_get(w, "loop"));
	ctl_format_last(w, r->last, sizeof r->last);
	r->counters = json_is_object(json_object_get(w, "counters"))
	              ? json_deep_copy(json_object_get(w, "counters")) : json_object();
	r->workers = 1;
}

/* Adds a worker's row into its pool's row. */
static void fold(struct top_row *p, const struct top_row *r)
{
	const char *key;
	json_t *v;

	if (state_rank(r->state) < state_rank(p->state)) {
		memcpy(p->state, r->state, sizeof p->state);
		memcpy(p->last, r->last, sizeof p->last);
	}
	if (r->uptime_ms > 0 && (p->uptime_ms == 0 || r->uptime_ms < p->uptime_ms))
		p->uptime_ms = r->uptime_ms;
	p->restarts += r->restarts;
	if (r->lag_us > p->lag_us)
		p->lag_us = r->lag_us;
	json_object_foreach(r->counters, key, v)
		json_object_set_new(p->counters, key, json_integer(int_of(p->counters, key) +
		                                                   json_integer_value(v)));
	p->workers++;
}

static int cmp_ll(long long a, long long b)
{
	return a < b ? -1 : a > b;
}

/* The youngest first, a row without a process last. */
static long long uptime_key(const struct top_row *r)
{
	return r->uptime_ms ? r->uptime_ms : LLONG_MAX;
}

static int compare(const void *a, const void *b, void *arg)
{
	const struct top_row *x = a, *y = b;
	const struct top_view *v = arg;
	int c = 0;

	switch (v->sort) {
	case TOP_SORT_STATE: c = cmp_ll(state_rank(x->state), state_rank(y->state)); break;
	case TOP_SORT_RESTARTS: c = cmp_ll(y->restarts, x->restarts); break;
	case TOP_SORT_LAG: c = cmp_ll(y->lag_us, x->lag_us); break;
	case TOP_SORT_UPTIME:
		c = cmp_ll(uptime_key(x), uptime_key(y));
		break;
	default: break;
	}
	if (c == 0 && !(c = strcmp(x->pool, y->pool)))
		c = cmp_ll(x->index, y->index);
	return v->reverse ? -c : c;
}

size_t top_rows(const json_t *model, const struct top_view *v, long long now_ms,
                struct top_row **rows_out)
{
	struct top_row *rows = calloc(json_object_size(model) + 1, sizeof *rows), one;
	const char *name;
	const json_t *w;
	size_t n = 0, i;

	*rows_out = NULL;
	if (!rows)
		return 0;
	json_object_foreach((json_t *)model, name, w) {
		if (!passes(name, v->filter))
			continue;
		worker_row(&one, w, now_ms);
		if (!v->per_pool) {
			rows[n++] = one;
			continue;
		}
		for (i = 0; i < n && strcmp(rows[i].pool, one.pool) != 0; i++)
			;
		if (i == n) { /* the pool's first worker makes its row */
			rows[n] = one;
			rows[n++].index = -1;
		} else {
			fold(&rows[i], &one);
			json_decref(one.counters);
		}
	}
	for (i = 0; v->per_pool && i < n; i++) {
		snprintf(rows[i].name, sizeof rows[i].name, "%s (%d)", rows[i].pool, rows[i].workers);
		rows[i].pid = -1;
	}
	qsort_r(rows, n, sizeof *rows, compare, (void *)v);
	if (n == 0) {
		free(rows);
		return 0;
	}
	*rows_out = rows;
	return n;
}

void top_rows_free(struct top_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_decref(rows[i].counters);
	free(rows);
}

size_t top_count_filtered(const json_t *model, const char *filter)
{
	const char *name;
	const json_t *w;
	size_t n = 0;

	json_object_foreach((json_t *)model, name, w)
		n += passes(name, filter);
	return n;
}

/* "N: 3 running, 1 stopped" of counts by state rank. */
static void append_counts(char *buf, size_t len, const char *what, const int *by_rank, int total)
{
	static const char *const names[] = { "failed", "backoff", "starting", "stopping",
	                                     "running", "stopped", "other" };
	size_t used = strlen(buf);
	bool first = true;

	snprintf(buf + used, len - used, "%s%s %d", used ? "  " : "", what, total);
	for (int r = 0; r < 7; r++) {
		if (!by_rank[r])
			continue;
		used = strlen(buf);
		snprintf(buf + used, len - used, "%s%d %s", first ? ": " : ", ", by_rank[r], names[r]);
		first = false;
	}
}

void top_format_counts(const json_t *model, char *buf, size_t len)
{
	struct top_view v = { .sort = TOP_SORT_NAME, .per_pool = true };
	int pools[7] = { 0 }, workers[7] = { 0 };
	struct top_row *rows;
	size_t n = top_rows(model, &v, 0, &rows);
	const char *name;
	const json_t *w;

	json_object_foreach((json_t *)model, name, w)
		workers[state_rank(json_string_value(json_object_get(w, "state")) ?: "")]++;
	for (size_t i = 0; i < n; i++)
		pools[state_rank(rows[i].state)]++;
	top_rows_free(rows, n);
	buf[0] = '\0';
	append_counts(buf, len, "pools", pools, (int)n);
	append_counts(buf, len, "workers", workers, (int)json_object_size(model));
}

void top_format_lag(long long us, char *buf, size_t len)
{
	if (us < 0)
		snprintf(buf, len, "-");
	else if (us < 1000)
		snprintf(buf, len, "%lldus", us);
	else if (us < 10000)
		snprintf(buf, len, "%lld.%lldms", us / 1000, us % 1000 / 100);
	else if (us < 1000000)
		snprintf(buf, len, "%lldms", us / 1000);
	else
		snprintf(buf, len, "%lld.%llds", us / 1000000, us % 1000000 / 100000);
}

static void compact_number(long long n, char *buf, size_t len)
{
	if (n < 10000 && n > -10000)
		snprintf(buf, len, "%lld", n);
	else if (n < 10000000 && n > -10000000)
		snprintf(buf, len, "%lld.%lldk", n / 1000, (n < 0 ? -n : n) % 1000 / 100);
	else
		snprintf(buf, len, "%lldM", n / 1000000);
}

void top_format_counters(const json_t *counters, char *buf, size_t len)
{
	const char *key;
	const json_t *v;
	size_t used = 0;

	buf[0] = '\0';
	json_object_foreach((json_t *)counters, key, v) {
		char num[32];

		compact_number(json_integer_value(v), num, sizeof num);
		if (used < len)
			used += (size_t)snprintf(buf + used, len - used, "%s%s=%s", used ? " " : "",
			                         key, num);
	}
	if (!buf[0])
		snprintf(buf, len, "-");
}

const char *top_sort_name(enum top_sort sort)
{
	static const char *const names[TOP_SORT_N] = { "name", "state", "restarts", "lag", "uptime" };

	return sort < TOP_SORT_N ? names[sort] : "name";
}
