/* test_floods: a worker flooding its channel (messages, bytes, garbage) is throttled and
 * evicted however fast the daemon reads, while honest and busy loggers carry on. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static struct lvd d;

static void teardown(void)
{
	lvd_stop(&d);
}

/* The worker beside the flooder carried on, never restarted. */
static void expect_untouched(const char *worker)
{
	json_t *w = lvd_worker(&d, worker);

	ck_assert_str_eq(JSTR(w, "state"), "running");
	ck_assert_int_eq(JINT(w, "restarts"), 0);
	json_decref(w);
}

START_TEST(a_flooding_worker_is_throttled_then_evicted)
{
	json_t *w;

	lvd_start(&d, "{\"job_path\":[\"%s\"],\"pools\":["
	              "{\"name\":\"flood\",\"module\":\"lv_testjob\",\"restart\":\"never\","
	              "\"params\":{\"log_flood\":300,\"tick_ms\":1}},"
	              "{\"name\":\"garbage\",\"module\":\"lv_testjob\",\"restart\":\"never\","
	              "\"params\":{\"garbage\":true}},"
	              "{\"name\":\"badhb\",\"module\":\"lv_testjob\",\"restart\":\"never\","
	              "\"params\":{\"bad_counters\":true}},"
	              "{\"name\":\"calm\",\"module\":\"ticker\"}]}", lvd_build_path("tests"));
	w = lvd_wait(&d, "garbage", "failed", 0);
	ck_assert_str_eq(JSTR(first_worker(w), "last_error"), "sent 100 invalid channel messages");
	json_decref(w);
	w = lvd_wait(&d, "badhb", "failed", 0);
	ck_assert_str_eq(JSTR(first_worker(w), "last_error"), "sent 100 invalid channel messages");
	json_decref(w);
	w = lvd_call(&d, "ping", NULL);
	json_decref(w);
	w = lvd_wait(&d, "flood", "failed", 0);
	printf("message flood: %s\n", JSTR(first_worker(w), "last_error"));
	ck_assert_msg(strstr(JSTR(first_worker(w), "last_error"), "flooding its channel"),
	              "last_error: %s", JSTR(first_worker(w), "last_error"));
	json_decref(w);
	/* everyone else carried on */
	expect_untouched("calm:0");
}
END_TEST

/* 60 KiB messages, a few thousand a second: under the message rate, over a gigabyte a
 * second to parse. The byte rate catches them. */
START_TEST(a_worker_flooding_bytes_is_throttled_then_evicted)
{
	const char *why;
	json_t *w;

	lvd_start(&d, "{\"job_path\":[\"%s\"],\"pools\":["
	              "{\"name\":\"big\",\"module\":\"lv_testjob\",\"restart\":\"never\","
	              "\"heartbeat_ms\":60000,\"hang_timeout_ms\":0,"
	              "\"params\":{\"big_msg_kb\":60,\"big_msgs_per_tick\":10,\"tick_ms\":1}},"
	              "{\"name\":\"calm\",\"module\":\"ticker\"}]}", lvd_build_path("tests"));
	w = lvd_wait(&d, "big", "failed", 0);
	why = JSTR(first_worker(w), "last_error");
	printf("byte flood: %s\n", why);
	/* a daemon too slow to read 4 MiB/s finds the channel kept full instead */
	ck_assert_msg(!strcmp(why, "flooding its channel: over 4096 KiB/s for 5 s") ||
	              !strcmp(why, "flooding its channel: kept it full for 5 s"), "last_error: %s", why);
	json_decref(w);
	expect_untouched("calm:0");
}
END_TEST

/* docs/security.md: a busy logging job, a thousand 2 KiB lines a second in bursts of 40
 * KiB (ten reads each), is no flood: it stays under the budget, and the daemon reads its
 * channel empty after each burst. Under valgrind the daemon reads about 1 MiB/s, so the
 * lines are 200 bytes there, and a second it falls behind (starved) is only reported.
 * Watched 8 s of the daemon's clock, past the 5 s that evict:
 * the rule counts wall-clock seconds, however slowly the daemon runs. */
START_TEST(a_busy_logger_is_neither_throttled_nor_evicted)
{
	int pad = lvd_under_valgrind() ? 200 : 2000;
	json_t *w, *e;
	char *log, *flood;

	if (lvd_under_valgrind())
		printf("busy logger: 200-byte lines, the daemon runs under valgrind\n");
	lvd_start(&d, "{\"job_path\":[\"%s\"],\"pools\":[{\"name\":\"busy\",\"module\":"
	              "\"lv_testjob\",\"restart\":\"never\",\"params\":{\"log_flood\":20,"
	              "\"log_pad\":%d,\"tick_ms\":20}}]}", lvd_build_path("tests"), pad);
	json_decref(lvd_wait(&d, "busy", "running", 0));
	e = lvd_call_error(&d, "wait", "{\"target\":\"busy\",\"state\":[\"failed\",\"stopped\"],"
	                   "\"timeout_ms\":8000}");
	ck_assert_int_eq(JINT(e, "code"), -32002); /* timed out: it never stopped */
	json_decref(e);
	w = lvd_worker(&d, "busy:0");
	ck_assert_str_eq(JSTR(w, "state"), "running");
	ck_assert(json_is_null(json_object_get(w, "last_error")));
	ck_assert_int_ge(JINT(json_object_get(w, "counters"), "ticks"), 100); /* it did log */
	json_decref(w);
	log = slurp(d.log);
	flood = strstr(log, "floods its channel");
	if (flood && lvd_under_valgrind()) /* starved too, it may fall behind for a second */
		printf("busy logger: the daemon under valgrind fell behind: %.120s\n", flood);
	else
		ck_assert_msg(!flood, "%.200s", flood);
	free(log);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("floods");
	TCase *tc = tcase_create("channel");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, a_flooding_worker_is_throttled_then_evicted);
	tcase_add_test(tc, a_worker_flooding_bytes_is_throttled_then_evicted);
	tcase_add_test(tc, a_busy_logger_is_neither_throttled_nor_evicted);
	suite_add_tcase(su, tc);
	return lvd_run_suite(su);
}
