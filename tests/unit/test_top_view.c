/* test_top_view: loopvisorctl top's rows without a terminal: a model from a status and events,
 * sorting by each key and reversed, the name filter, and one row per pool that sums its workers. */
#include <check.h>

#include "check_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/top_view.h"

/* web: 3 workers (web:0 restarted once, web:1 twice and laggy), job: one stopped, api: one backing off */
static const char *const status_json =
	"{\"pools\":[],\"workers\":["
	"{\"name\":\"web:0\",\"pool\":\"web\",\"index\":0,\"state\":\"running\",\"pid\":100,"
	"\"restarts\":1,\"uptime_ms\":5000,\"last_exit\":null,\"last_error\":null,"
	"\"loop\":{\"lag_us\":300},\"counters\":{\"req\":10}},"
	"{\"name\":\"web:10\",\"pool\":\"web\",\"index\":10,\"state\":\"running\",\"pid\":110,"
	"\"restarts\":0,\"uptime_ms\":9000,\"last_exit\":null,\"last_error\":null,"
	"\"loop\":[{\"lag_us\":50},{\"lag_us\":700}],\"counters\":{\"req\":5,\"err\":1}},"
	"{\"name\":\"web:1\",\"pool\":\"web\",\"index\":1,\"state\":\"running\",\"pid\":101,"
	"\"restarts\":2,\"uptime_ms\":1000,\"last_exit\":{\"signal\":\"KILL\"},\"last_error\":null,"
	"\"loop\":{\"lag_us\":90000},\"counters\":{\"req\":20000}},"
	"{\"name\":\"job:0\",\"pool\":\"job\",\"index\":0,\"state\":\"stopped\",\"pid\":null,"
	"\"restarts\":0,\"uptime_ms\":0,\"last_exit\":null,\"last_error\":null,\"loop\":null,"
	"\"counters\":{}},"
	"{\"name\":\"api:0\",\"pool\":\"api\",\"index\":0,\"state\":\"backoff\",\"pid\":null,"
	"\"restarts\":1,\"uptime_ms\":0,\"last_exit\":{\"code\":3},\"last_error\":null,"
	"\"loop\":null,\"counters\":{}}]}";

static json_t *model_at(long long now)
{
	json_t *status = json_loads(status_json, 0, NULL), *model = top_model_new();

	ck_assert_ptr_nonnull(status);
	top_model_take_status(model, status, true, now);
	json_decref(status);
	return model;
}

/* The rows' names in order, space-separated. */
static void names(const json_t *model, const struct top_view *v, char *buf, size_t len)
{
	struct top_row *rows;
	size_t n = top_rows(model, v, 100000, &rows), used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? " " : "", rows[i].name);
	top_rows_free(rows, n);
}

START_TEST(sorts_by_each_key)
{
	json_t *m = model_at(100000);
	struct top_view v = { .sort = TOP_SORT_NAME };
	char buf[256];

	names(m, &v, buf, sizeof buf); /* pools by name, indexes as numbers: web:10 after web:1 */
	ck_assert_str_eq(buf, "api:0 job:0 web:0 web:1 web:10");
	v.sort = TOP_SORT_STATE; /* troubles first */
	names(m, &v, buf, sizeof buf);
	ck_assert_str_eq(buf, "api:0 web:0 web:1 web:10 job:0");
	v.sort = TOP_SORT_RESTARTS;
	names(m, &v, buf, sizeof buf);
	ck_assert_str_eq(buf, "web:1 api:0 web:0 job:0 web:10"); /* ties by name */
	v.sort = TOP_SORT_LAG; /* the worst loop of web:10 counts; no lag last */
	names(m, &v, buf, sizeof buf);
	ck_assert_str_eq(buf, "web:1 web:10 web:0 api:0 job:0");
	v.sort = TOP_SORT_UPTIME; /* the youngest first, no process last */
	names(m, &v, buf, sizeof buf);
	ck_assert_str_eq(buf, "web:1 web:0 web:10 api:0 job:0");
	v.reverse = true;
	names(m, &v, buf, sizeof buf);
	ck_assert_str_eq(buf, "job:0 api:0 web:10 web:0 web:1");
	ck_assert_str_eq(top_sort_name(TOP_SORT_LAG), "lag");
	json_decref(m);
}
END_TEST

START_TEST(filters_by_name)
{
	json_t *m = model_at(100000);
	struct top_view v = { .sort = TOP_SORT_NAME, .filter = "web:1" };
	char buf[256];

	names(m, &v, buf, sizeof buf);
	ck_assert_str_eq(buf, "web:1 web:10");
	ck_assert_uint_eq(top_count_filtered(m, "web:1"), 2);
	v.filter = "job";
	names(m, &v, buf, sizeof buf);
	ck_assert_str_eq(buf, "job:0");
	v.filter = "nothing";
	names(m, &v, buf, sizeof buf);
	ck_assert_str_eq(buf, "");
	v.filter = "";
	names(m, &v, buf, sizeof buf);
	ck_assert_str_eq(buf, "api:0 job:0 web:0 web:1 web:10");
	ck_assert_uint_eq(top_count_filtered(m, NULL), 5);
	json_decref(m);
}
END_TEST

START_TEST(one_row_per_pool)
{
	json_t *m = model_at(100000);
	struct top_view v = { .sort = TOP_SORT_NAME, .per_pool = true };
	struct top_row *rows;
	size_t n = top_rows(m, &v, 100000, &rows);
	char jobs[128];

	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(rows[2].name, "web (3)");
	ck_assert_str_eq(rows[2].state, "running");
	ck_assert_int_eq(rows[2].pid, -1);
	ck_assert_int_eq(rows[2].restarts, 3);        /* summed */
	ck_assert_int_eq(rows[2].lag_us, 90000);     /* the worst */
	ck_assert_int_eq(rows[2].uptime_ms, 1000);   /* the youngest */
	top_format_counters(rows[2].counters, jobs, sizeof jobs);
	ck_assert_str_eq(jobs, "req=20.0k err=1");   /* summed per name */
	ck_assert_str_eq(rows[0].name, "api (1)");
	ck_assert_str_eq(rows[0].state, "backoff");
	ck_assert_str_eq(rows[0].last, "exit 3");
	top_rows_free(rows, n);
	v.filter = "web:1"; /* the filter picks workers, the pool row sums those */
	n = top_rows(m, &v, 100000, &rows);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(rows[0].name, "web (2)");
	top_rows_free(rows, n);
	json_decref(m);
}
END_TEST

START_TEST(a_pool_shows_its_worst_state)
{
	json_t *m = model_at(100000);
	json_t *ev = json_pack("{s:s, s:s, s:s, s:s}", "event", "worker.failed", "worker", "web:0",
	                       "pool", "web", "error", "start limit hit");
	struct top_view v = { .sort = TOP_SORT_STATE, .per_pool = true };
	struct top_row *rows;
	size_t n;
	char counts[256];

	ck_assert(top_model_take_event(m, ev, 100000));
	n = top_rows(m, &v, 100000, &rows);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(rows[0].name, "web (3)");
	ck_assert_str_eq(rows[0].state, "failed");
	ck_assert_str_eq(rows[0].last, "start limit hit");
	top_rows_free(rows, n);
	top_format_counts(m, counts, sizeof counts);
	ck_assert_str_eq(counts, "pools 3: 1 failed, 1 backoff, 1 stopped  "
	                         "workers 5: 1 failed, 1 backoff, 2 running, 1 stopped");
	json_decref(ev);
	json_decref(m);
}
END_TEST

static void event(json_t *m, const char *name, const char *worker, long long pid, long long now)
{
	json_t *ev = json_pack("{s:s, s:s}", "event", name, "worker", worker);

	if (pid > 0)
		json_object_set_new(ev, "pid", json_integer(pid));
	top_model_take_event(m, ev, now);
	json_decref(ev);
}

/* state, pid and restarts come from events; a later status does not take them back */
START_TEST(events_move_workers)
{
	json_t *m = model_at(100000), *status;
	struct top_view v = { .sort = TOP_SORT_NAME, .filter = "job" };
	struct top_row *rows;
	size_t n;

	event(m, "worker.starting", "job:0", 300, 200000); /* its first process: no restart */
	event(m, "worker.running", "job:0", 0, 200000);
	event(m, "worker.exited", "job:0", 300, 201000);
	event(m, "worker.starting", "job:0", 301, 202000); /* its second: a restart */
	n = top_rows(m, &v, 203000, &rows);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(rows[0].state, "starting");
	ck_assert_int_eq(rows[0].pid, 301);
	ck_assert_int_eq(rows[0].restarts, 1);
	ck_assert_int_eq(rows[0].uptime_ms, 1000);
	top_rows_free(rows, n);
	status = json_loads(status_json, 0, NULL); /* older news: job:0 stopped */
	top_model_take_status(m, status, false, 203000);
	n = top_rows(m, &v, 203000, &rows);
	ck_assert_str_eq(rows[0].state, "starting");
	ck_assert_int_eq(rows[0].pid, 301);
	top_rows_free(rows, n);
	top_model_take_status(m, status, true, 203000); /* a full one takes it all */
	n = top_rows(m, &v, 203000, &rows);
	ck_assert_str_eq(rows[0].state, "stopped");
	top_rows_free(rows, n);
	json_decref(status);
	json_decref(m);
}
END_TEST

START_TEST(status_adds_and_drops_workers)
{
	json_t *m = model_at(100000);
	json_t *status = json_loads("{\"workers\":[{\"name\":\"new:0\",\"pool\":\"new\",\"index\":0,"
	                            "\"state\":\"running\",\"pid\":7,\"restarts\":0,\"uptime_ms\":10,"
	                            "\"last_exit\":null,\"loop\":null,\"counters\":{}}]}", 0, NULL);
	json_t *removed = json_pack("{s:s, s:s}", "event", "pool.removed", "pool", "new");

	top_model_take_status(m, status, false, 100000);
	ck_assert_uint_eq(json_object_size(m), 1);
	ck_assert_ptr_nonnull(json_object_get(m, "new:0"));
	ck_assert(top_model_take_event(m, removed, 100000));
	ck_assert_uint_eq(json_object_size(m), 0);
	json_decref(removed);
	json_decref(status);
	json_decref(m);
}
END_TEST

START_TEST(formats)
{
	char buf[64];
	json_t *loops = json_loads("[{\"lag_us\":5},{\"lag_us\":null},{\"lag_us\":12}]", 0, NULL);

	top_format_lag(-1, buf, sizeof buf);
	ck_assert_str_eq(buf, "-");
	top_format_lag(850, buf, sizeof buf);
	ck_assert_str_eq(buf, "850us");
	top_format_lag(1250, buf, sizeof buf);
	ck_assert_str_eq(buf, "1.2ms");
	top_format_lag(35000, buf, sizeof buf);
	ck_assert_str_eq(buf, "35ms");
	top_format_lag(1500000, buf, sizeof buf);
	ck_assert_str_eq(buf, "1.5s");
	ck_assert_int_eq(top_loop_lag(loops), 12);
	ck_assert_int_eq(top_loop_lag(json_null()), -1);
	json_decref(loops);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("top_view");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, sorts_by_each_key);
	tcase_add_test(tc, filters_by_name);
	tcase_add_test(tc, one_row_per_pool);
	tcase_add_test(tc, a_pool_shows_its_worst_state);
	tcase_add_test(tc, events_move_workers);
	tcase_add_test(tc, status_adds_and_drops_workers);
	tcase_add_test(tc, formats);
	suite_add_tcase(su, tc);
	return lv_check_run(su);
}
