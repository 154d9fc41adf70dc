/* test_rolling: restart with "rolling": one worker at a time, never fewer than N-1 running,
 * progress on the event stream, the reply once all are replaced; a replacement that cannot
 * run stops the roll and leaves the rest serving; loopvisorctl restart --rolling. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static struct lvd d;
static char out[65536], err[65536];

static void teardown(void)
{
	lvd_stop(&d);
}

static struct lv_client *subscribe(const char *target)
{
	struct lv_client *sub = lv_client_connect(d.sock);
	json_t *res = NULL, *e = NULL;

	ck_assert_ptr_nonnull(sub);
	ck_assert_int_eq(lv_client_call(sub, "subscribe", json_pack("{s:s}", "target", target),
	                                10000, &res, &e), 0);
	ck_assert(json_is_true(json_object_get(res, "subscribed")));
	json_decref(res);
	return sub;
}

/* Workers that take a second to be ready: a roll that moved on while one is only starting
 * would have two down at once, whatever the machine's speed. */
static void start_slow_pool(int workers)
{
	lvd_start(&d, "{\"state_dir\":\".\",\"job_path\":[\"%s\"],\"pools\":[{\"name\":\"a\","
	              "\"module\":\"lv_testjob\",\"workers\":%d,\"params\":{\"ready_after_ms\":%d}},"
	              "{\"name\":\"b\",\"exec\":[\"sleep\",\"1000\"]}]}",
	          lvd_build_path("tests"), workers, test_ms(300));
	json_decref(lvd_wait(&d, "a", "running", 0));
	json_decref(lvd_wait(&d, "b", "running", 0));
}

START_TEST(rolling_restart_keeps_n_minus_1_running)
{
	struct lv_client *sub, *op;
	json_t *before, *after, *res = NULL, *e = NULL;
	int running = 3, lowest = 3, replaced = 0, progress = 0;
	long id;
	bool rolled = false;

	start_slow_pool(3);
	before = lvd_pids(&d);
	sub = subscribe("a");
	op = lv_client_connect(d.sock);
	ck_assert_int_eq(lv_client_send(op, "restart", json_pack("{s:s, s:b}", "target", "a",
	                                                         "rolling", 1), &id), 0);
	/* a worker is down from its exit until its successor runs */
	while (!rolled) {
		json_t *ev = lvd_next_notification(sub);
		const char *name = JSTR(ev, "event");

		if (!strcmp(name, "worker.exited")) {
			running--;
		} else if (!strcmp(name, "worker.running")) {
			running++;
			replaced++;
		} else if (!strcmp(name, "pool.rolling")) {
			ck_assert_int_eq(JINT(ev, "total"), 3);
			ck_assert_int_eq(JINT(ev, "done"), progress++); /* 0 when it begins, ..., 3 */
			ck_assert_int_eq(JINT(ev, "done"), replaced);
		} else if (!strcmp(name, "pool.rolled")) {
			ck_assert_int_eq(JINT(ev, "done"), 3);
			rolled = true;
		}
		if (running < lowest)
			lowest = running;
		json_decref(ev);
	}
	ck_assert_int_eq(lowest, 2);
	ck_assert_int_eq(replaced, 3);
	ck_assert_int_eq(progress, 4);
	/* the reply comes once the roll is over */
	ck_assert_int_eq(lv_client_receive(op, id, 10000, &res, &e), 0);
	ck_assert_ptr_null(e);
	ck_assert_int_eq(json_array_size(json_object_get(res, "workers")), 3);
	json_decref(res);
	after = lvd_pids(&d);
	for (int i = 0; i < 3; i++) {
		char name[8];
		snprintf(name, sizeof name, "a:%d", i);
		ck_assert(!json_equal(json_object_get(before, name), json_object_get(after, name)));
	}
	ck_assert(json_equal(json_object_get(before, "b:0"), json_object_get(after, "b:0")));
	json_decref(before);
	json_decref(after);
	lv_client_close(op);
	lv_client_close(sub);
}
END_TEST

/* A program that exists for the first starts only: a replacement cannot exec it. (One that
 * execs and exits at once counts as running: without readiness, exec is all there is.) */
START_TEST(a_failing_replacement_stops_the_roll)
{
	json_t *before, *after, *e;
	struct lv_client *sub;
	char prog[400];
	const char *cp[] = { "/bin/cp", "/bin/sleep", prog, NULL };
	bool stopped = false;

	snprintf(prog, sizeof prog, "/tmp/lv-rolling-sleep.%d", (int)getpid());
	ck_assert_int_eq(run_program(cp, out, sizeof out, err, sizeof err), 0);
	lvd_start(&d, "{\"pools\":[{\"name\":\"a\",\"workers\":3,\"start_limit\":{\"burst\":2,"
	              "\"interval_ms\":60000},\"exec\":[\"%s\",\"1000\"]}]}", prog);
	json_decref(lvd_wait(&d, "a", "running", 0));
	ck_assert_int_eq(unlink(prog), 0);
	before = lvd_pids(&d);
	sub = subscribe("a");
	e = lvd_call_error(&d, "restart", "{\"target\":\"a\",\"rolling\":true}");
	ck_assert_int_eq(JINT(e, "code"), -32004);
	ck_assert_str_eq(JSTR(json_object_get(e, "data"), "worker"), "a:0");
	ck_assert_int_eq(JINT(json_object_get(e, "data"), "done"), 0);
	ck_assert_int_eq(JINT(json_object_get(e, "data"), "total"), 3);
	ck_assert_msg(!strncmp(JSTR(e, "message"),
	                       "rolling restart stopped after 0 of 3 workers: a:0 is ", 52),
	              "%s", JSTR(e, "message"));
	ck_assert_msg(strstr(JSTR(e, "message"), "No such file"), "%s", JSTR(e, "message"));
	json_decref(e);
	while (!stopped) {
		json_t *ev = lvd_next_notification(sub);

		ck_assert_str_ne(JSTR(ev, "event"), "pool.rolled");
		if (!strcmp(JSTR(ev, "event"), "pool.roll_failed")) {
			ck_assert_str_eq(JSTR(ev, "worker"), "a:0");
			stopped = true;
		}
		json_decref(ev);
	}
	/* the others were never touched: they still serve */
	after = lvd_pids(&d);
	ck_assert(json_equal(json_object_get(before, "a:1"), json_object_get(after, "a:1")));
	ck_assert(json_equal(json_object_get(before, "a:2"), json_object_get(after, "a:2")));
	json_decref(before);
	json_decref(after);
	lv_client_close(sub);
}
END_TEST

/* Stopped workers stay stopped; a pool:index target is a plain restart. */
START_TEST(rolling_leaves_stopped_workers_stopped)
{
	json_t *r, *w;

	start_slow_pool(2);
	json_decref(lvd_call(&d, "stop", "{\"target\":\"a:1\"}"));
	r = lvd_call(&d, "restart", "{\"target\":\"a\",\"rolling\":true}");
	json_decref(r);
	w = lvd_worker(&d, "a:1");
	ck_assert_str_eq(JSTR(w, "state"), "stopped");
	json_decref(w);
	w = lvd_worker(&d, "a:0");
	ck_assert_str_eq(JSTR(w, "state"), "running");
	ck_assert_int_eq(JINT(w, "restarts"), 1);
	json_decref(w);
	r = lvd_call(&d, "restart", "{\"target\":\"a:1\",\"rolling\":true}");
	json_decref(r);
	w = lvd_worker(&d, "a:1");
	ck_assert_str_eq(JSTR(w, "state"), "running");
	json_decref(w);
}
END_TEST

static int ctl(const char *a1, const char *a2, const char *a3, const char *a4)
{
	const char *argv[] = { lvd_build_path("bin/loopvisorctl"), "-s", d.sock, a1, a2, a3, a4,
	                       NULL };

	return run_program(argv, out, sizeof out, err, sizeof err);
}

START_TEST(ctl_restart_rolling)
{
	json_t *w;

	start_slow_pool(2);
	ck_assert_int_eq(ctl("restart", "--rolling", "a", NULL), 0);
	ck_assert_str_eq(err, "");
	for (int i = 0; i < 2; i++) {
		char name[8];

		snprintf(name, sizeof name, "a:%d", i);
		w = lvd_worker(&d, name);
		ck_assert_int_eq(JINT(w, "restarts"), 1);
		json_decref(w);
	}
	ck_assert_int_eq(ctl("--rolling", "restart", "a", "b"), 0); /* before the command too */
	w = lvd_worker(&d, "b:0");
	ck_assert_int_eq(JINT(w, "restarts"), 1);
	json_decref(w);
	ck_assert_int_eq(ctl("stop", "--rolling", "a", NULL), 2);
	ck_assert_str_eq(err, "loopvisorctl: --rolling is for restart\n");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rolling");
	TCase *tc = tcase_create("rolling");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, rolling_restart_keeps_n_minus_1_running);
	tcase_add_test(tc, a_failing_replacement_stops_the_roll);
	tcase_add_test(tc, rolling_leaves_stopped_workers_stopped);
	tcase_add_test(tc, ctl_restart_rolling);
	suite_add_tcase(s, tc);
	return lvd_run_suite(s);
}
