/* test_ctl_output: loopvisorctl's table and line formats, byte for byte: uptimes, the LAST
 * column, "-" for a worker without a process, and columns sized to their widest cell. */
#include <check.h>

#include "check_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/output.h"

static char *render(const char *status_json)
{
	json_t *status = json_loads(status_json, 0, NULL);
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(status);
	ctl_print_status(out, status);
	fclose(out);
	json_decref(status);
	return buf;
}

START_TEST(uptime_formats)
{
	char buf[32];
	static const struct { long long ms; const char *text; } cases[] = {
		{ 0, "-" }, { 850, "850ms" }, { 12345, "12.3s" }, { 312000, "5m12s" },
		{ 11000000, "3h3m" }, { 90000000, "1d1h" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ctl_format_uptime(cases[i].ms, buf, sizeof buf);
		ck_assert_str_eq(buf, cases[i].text);
	}
}
END_TEST

START_TEST(last_column)
{
	char buf[128];
	json_t *w = json_loads("{\"last_exit\":{\"code\":3},\"last_error\":null}", 0, NULL);

	ctl_format_last(w, buf, sizeof buf);
	ck_assert_str_eq(buf, "exit 3");
	json_object_set_new(w, "last_exit", json_pack("{s:s}", "signal", "KILL"));
	ctl_format_last(w, buf, sizeof buf);
	ck_assert_str_eq(buf, "killed by KILL");
	json_object_set_new(w, "last_error", json_string("exec /x: No such file or directory"));
	ctl_format_last(w, buf, sizeof buf);
	ck_assert_str_eq(buf, "exec /x: No such file or directory");
	json_object_set_new(w, "last_error", json_null());
	json_object_set_new(w, "last_exit", json_null());
	ctl_format_last(w, buf, sizeof buf);
	ck_assert_str_eq(buf, "-");
	json_decref(w);
}
END_TEST

START_TEST(table_is_aligned)
{
	char *out = render(
		"{\"pools\":[],\"workers\":["
		"{\"name\":\"web:0\",\"state\":\"running\",\"pid\":4242,\"restarts\":0,"
		"\"uptime_ms\":312000,\"last_exit\":null,\"last_error\":null},"
		"{\"name\":\"worker-pool:10\",\"state\":\"backoff\",\"pid\":null,\"restarts\":12,"
		"\"uptime_ms\":0,\"last_exit\":{\"signal\":\"SEGV\"},\"last_error\":null}]}");

	ck_assert_str_eq(out,
		"NAME            STATE    PID   UPTIME  RESTARTS  LAST\n"
		"web:0           running  4242  5m12s   0         -\n"
		"worker-pool:10  backoff  -     -       12        killed by SEGV\n");
	free(out);
}
END_TEST

/* With cgroups on, CPU (% over the process's life) and MEM; "-" where there is no figure
 * (no process, no memory controller). Without any "resources", no such columns (above). */
START_TEST(cpu_and_memory_columns)
{
	char *out = render(
		"{\"workers\":["
		"{\"name\":\"web:0\",\"state\":\"running\",\"pid\":7,\"restarts\":0,\"uptime_ms\":850,"
		"\"last_exit\":null,\"last_error\":null,\"resources\":{\"cpu_percent\":12.34,"
		"\"memory_bytes\":7340032}},"
		"{\"name\":\"web:1\",\"state\":\"running\",\"pid\":8,\"restarts\":0,\"uptime_ms\":850,"
		"\"last_exit\":null,\"last_error\":null,\"resources\":{\"cpu_percent\":0,"
		"\"memory_bytes\":512}},"
		"{\"name\":\"web:2\",\"state\":\"stopped\",\"pid\":null,\"restarts\":1,\"uptime_ms\":0,"
		"\"last_exit\":{\"code\":0},\"last_error\":null,\"resources\":{\"cpu_percent\":null,"
		"\"memory_bytes\":null}}]}");

	ck_assert_str_eq(out,
		"NAME   STATE    PID  UPTIME  CPU    MEM   RESTARTS  LAST\n"
		"web:0  running  7    850ms   12.3%  7.0M  0         -\n"
		"web:1  running  8    850ms   0.0%   512B  0         -\n"
		"web:2  stopped  -    -       -      -     1         exit 0\n");
	free(out);
}
END_TEST

START_TEST(stopped_worker_hides_uptime)
{
	/* no process: PID and UPTIME are "-" even if a stale uptime came along; a number
	 * signal and a long error widen LAST without disturbing the other columns */
	char *out = render(
		"{\"workers\":["
		"{\"name\":\"a:0\",\"state\":\"stopped\",\"pid\":null,\"restarts\":3,"
		"\"uptime_ms\":5000,\"last_exit\":{\"signal\":9},\"last_error\":null},"
		"{\"name\":\"a:1\",\"state\":\"failed\",\"pid\":null,\"restarts\":100,"
		"\"uptime_ms\":0,\"last_exit\":{\"code\":127},"
		"\"last_error\":\"start limit reached: 5 starts in 10s\"},"
		"{\"name\":\"a:2\",\"state\":\"running\",\"pid\":1,\"restarts\":0,"
		"\"uptime_ms\":12345,\"last_exit\":{\"code\":0},\"last_error\":null}]}");

	ck_assert_str_eq(out,
		"NAME  STATE    PID  UPTIME  RESTARTS  LAST\n"
		"a:0   stopped  -    -       3         killed by signal 9\n"
		"a:1   failed   -    -       100       start limit reached: 5 starts in 10s\n"
		"a:2   running  1    12.3s   0         exit 0\n");
	free(out);
}
END_TEST

START_TEST(missing_workers_key)
{
	char *out = render("{\"pools\":[]}");

	ck_assert_str_eq(out, "no workers\n");
	free(out);
}
END_TEST

START_TEST(empty_status)
{
	char *out = render("{\"pools\":[],\"workers\":[]}");

	ck_assert_str_eq(out, "no workers\n");
	free(out);
}
END_TEST

START_TEST(names)
{
	json_t *r = json_loads("{\"workers\":[\"a:0\",\"a:1\"]}", 0, NULL);
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	ctl_print_names(out, "started", r);
	fclose(out);
	ck_assert_str_eq(buf, "started 2 workers of a\n"); /* one line, however many */
	free(buf);
	json_decref(r);
	r = json_loads("{\"workers\":[\"a:0\",\"ab:1\",\"b:0\"]}", 0, NULL);
	out = open_memstream(&buf, &len);
	ctl_print_names(out, "stopped", r);
	json_array_clear(json_object_get(r, "workers"));
	json_array_append_new(json_object_get(r, "workers"), json_string("b:7"));
	ctl_print_names(out, "stopped", r);
	fclose(out);
	ck_assert_str_eq(buf, "stopped 3 workers\nstopped b:7\n");
	free(buf);
	json_decref(r);
}
END_TEST

START_TEST(skipped_lines_notice)
{
	json_t *line = json_loads("{\"skipped\":1234}", 0, NULL);
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	ctl_print_log_line(out, line);
	fclose(out);
	ck_assert_str_eq(buf, "-- 1234 lines skipped: the reader fell behind --\n");
	free(buf);
	json_decref(line);
}
END_TEST

/* An error reply's line: what the data adds, never what the message says already. */
START_TEST(error_said_once)
{
	static const struct { const char *error, *line; } cases[] = {
		{ "{\"code\":-32004,\"message\":\"web:0 is failed: exit 3\","
		  "\"data\":{\"worker\":\"web:0\",\"last_error\":\"exit 3\"}}",
		  "loopvisorctl: web:0 is failed: exit 3\n" },
		{ "{\"code\":-32004,\"message\":\"a worker failed\","
		  "\"data\":{\"worker\":\"web:0\",\"last_error\":\"exit 3\"}}",
		  "loopvisorctl: a worker failed: web:0: exit 3\n" },
		{ "{\"code\":-32001,\"message\":\"no such pool or worker\","
		  "\"data\":{\"target\":\"nope\"}}",
		  "loopvisorctl: no such pool or worker: nope\n" },
		{ "{\"code\":-32002,\"message\":\"timed out after 5 ms waiting for a\","
		  "\"data\":{\"workers\":[\"a:0\",\"a:1\"]}}",
		  "loopvisorctl: timed out after 5 ms waiting for a; still waiting for a:0, a:1\n" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_t *e = json_loads(cases[i].error, 0, NULL);
		char *buf = NULL;
		size_t len = 0;
		FILE *out = open_memstream(&buf, &len);

		ctl_print_error(out, e);
		fclose(out);
		ck_assert_str_eq(buf, cases[i].line);
		free(buf);
		json_decref(e);
	}
}
END_TEST

int main(void)
{
	Suite *su = suite_create("ctl_output");
	TCase *tc = tcase_create("format");

	tcase_add_test(tc, uptime_formats);
	tcase_add_test(tc, last_column);
	tcase_add_test(tc, table_is_aligned);
	tcase_add_test(tc, stopped_worker_hides_uptime);
	tcase_add_test(tc, cpu_and_memory_columns);
	tcase_add_test(tc, missing_workers_key);
	tcase_add_test(tc, empty_status);
	tcase_add_test(tc, names);
	tcase_add_test(tc, skipped_lines_notice);
	tcase_add_test(tc, error_said_once);
	suite_add_tcase(su, tc);
	return lv_check_run(su);
}
