/* test_workers: worker lifecycles against the real daemon: module and exec workers,
 * start/stop/restart, every restart policy, crash loops, stop timeouts, scale, signal. */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdio.h>

#include "harness.h"

static struct lvd d;

static void teardown(void)
{
	lvd_stop(&d);
}

START_TEST(module_worker_runs_and_reports)
{
	json_t *st, *w, *pool;

	lvd_start(&d, "{\"pools\":[{\"name\":\"tick\",\"module\":\"ticker\","
	              "\"params\":{\"interval_ms\":50},\"workers\":2}]}");
	json_decref(lvd_wait(&d, "tick", "running", 0));
	st = lvd_call(&d, "status", NULL);
	pool = json_array_get(json_object_get(st, "pools"), 0);
	ck_assert_str_eq(JSTR(pool, "name"), "tick");
	ck_assert_str_eq(JSTR(pool, "kind"), "module");
	ck_assert_int_eq(JINT(pool, "workers"), 2);
	ck_assert_int_eq(JINT(pool, "running"), 2);
	ck_assert_uint_eq(json_array_size(json_object_get(st, "workers")), 2);
	w = first_worker(st);
	ck_assert_str_eq(JSTR(w, "name"), "tick:0");
	ck_assert_str_eq(JSTR(w, "pool"), "tick");
	ck_assert_int_eq(JINT(w, "index"), 0);
	ck_assert_str_eq(JSTR(w, "state"), "running");
	ck_assert_int_gt(JINT(w, "pid"), 0);
	ck_assert_int_eq(JINT(w, "restarts"), 0);
	ck_assert(json_is_integer(json_object_get(w, "uptime_ms")));
	ck_assert(json_is_null(json_object_get(w, "last_exit")));
	ck_assert(json_is_null(json_object_get(w, "last_error")));
	json_decref(st);
}
END_TEST

START_TEST(exec_stop_start_restart)
{
	json_t *r, *w;
	pid_t pid1, pid2;

	lvd_start(&d, "{\"pools\":[{\"name\":\"s\",\"exec\":[\"sleep\",\"1000\"]}]}");
	json_decref(lvd_wait(&d, "s", "running", 0));
	pid1 = lvd_worker_pid(&d, "s:0");

	r = lvd_call(&d, "stop", "{\"target\":\"s\"}");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(r, "workers"), 0)), "s:0");
	json_decref(r);
	w = lvd_worker(&d, "s:0");
	ck_assert_str_eq(JSTR(w, "state"), "stopped");
	ck_assert(json_is_null(json_object_get(w, "pid")));
	ck_assert_str_eq(JSTR(json_object_get(w, "last_exit"), "signal"), "TERM");
	json_decref(w);
	ck_assert(pid_gone_within(pid1, 5000));

	json_decref(lvd_call(&d, "start", "{\"target\":\"s:0\"}"));
	w = lvd_worker(&d, "s:0");
	ck_assert_str_eq(JSTR(w, "state"), "running");
	pid2 = (pid_t)JINT(w, "pid");
	ck_assert_int_ne(pid2, pid1);
	ck_assert_int_eq(JINT(w, "restarts"), 1);
	json_decref(w);

	json_decref(lvd_call(&d, "restart", "{\"target\":\"s\"}"));
	w = lvd_worker(&d, "s:0");
	ck_assert_str_eq(JSTR(w, "state"), "running");
	ck_assert_int_ne(JINT(w, "pid"), pid2);
	ck_assert_int_eq(JINT(w, "restarts"), 2);
	json_decref(w);
}
END_TEST

START_TEST(stopped_by_command_stays_stopped)
{
	json_t *r;

	lvd_start(&d, "{\"pools\":[{\"name\":\"s\",\"exec\":[\"sleep\",\"1000\"],\"workers\":2}]}");
	json_decref(lvd_wait(&d, "s", "running", 0));
	json_decref(lvd_call(&d, "stop", "{\"target\":\"s:1\"}"));
	/* a restart of its sibling and a while later: s:1 is still stopped */
	json_decref(lvd_call(&d, "restart", "{\"target\":\"s:0\"}"));
	r = lvd_worker(&d, "s:1");
	ck_assert_str_eq(JSTR(r, "state"), "stopped");
	json_decref(r);
	r = lvd_call(&d, "stop", "{\"target\":\"s\",\"wait\":false}");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "workers")), 2);
	json_decref(r);
	json_decref(lvd_wait(&d, "s", "stopped", 0));
}
END_TEST

START_TEST(policy_always_restarts_clean_exit)
{
	json_t *w;

	lvd_start(&d, "{\"pools\":[{\"name\":\"e\",\"exec\":[\"true\"],\"restart\":\"always\"}]}");
	/* exits 0 at once, over and over: restarted each time, with backoff */
	w = lvd_wait(&d, "e", "[\"starting\",\"running\",\"backoff\",\"failed\"]", 2);
	json_decref(w);
	w = lvd_worker(&d, "e:0");
	ck_assert_int_eq(JINT(json_object_get(w, "last_exit"), "code"), 0);
	ck_assert_int_ge(JINT(w, "restarts"), 2);
	json_decref(w);
}
END_TEST

/* README: "exponential backoff from 100 ms for quick failures". A worker that fails at
 * once waits 100, 200, then 400 ms in backoff (from the events' times; the upper bound is
 * generous and stretches with CK_TIMEOUT_MULTIPLIER). */
START_TEST(backoff_doubles_from_100_ms)
{
	static const long long want[] = { 100, 200, 400 };
	const char *m = getenv("CK_TIMEOUT_MULTIPLIER");
	long long k = m && atoi(m) > 1 ? atoi(m) : 1, backoff_at = 0;
	struct lv_client *sub;
	json_t *res = NULL, *err = NULL, *ev;
	int n = 0;

	lvd_start(&d, "{\"pools\":[{\"name\":\"q\",\"exec\":[\"false\"],\"restart\":\"always\","
	              "\"autostart\":false,\"start_limit\":{\"burst\":100,\"interval_ms\":60000}}]}");
	ck_assert_ptr_nonnull(sub = lv_client_connect(d.sock));
	ck_assert_int_eq(lv_client_call(sub, "subscribe", json_pack("{s:[s,s], s:s}", "events",
	                                "worker.backoff", "worker.starting", "target", "q"), 10000,
	                                &res, &err), 0);
	json_decref(res);
	json_decref(lvd_call(&d, "start", "{\"target\":\"q\",\"wait\":false}"));
	while (n < 3) {
		ev = lvd_next_notification(sub);
		if (!strcmp(JSTR(ev, "event"), "worker.backoff")) {
			backoff_at = JINT(ev, "time");
		} else if (backoff_at) {
			long long waited = JINT(ev, "time") - backoff_at;

			printf("backoff %d: %lld ms (%lld ms promised)\n", n + 1, waited, want[n]);
			ck_assert_int_ge(waited, want[n] - 2); /* times are in whole ms */
			ck_assert_int_le(waited, want[n] + 1000 * k);
			backoff_at = 0;
			n++;
		}
		json_decref(ev);
	}
	lv_client_close(sub);
	json_decref(lvd_call(&d, "stop", "{\"target\":\"q\"}"));
}
END_TEST

START_TEST(policy_on_failure)
{
	json_t *w;

	lvd_start(&d, "{\"pools\":["
	              "{\"name\":\"ok\",\"exec\":[\"true\"],\"restart\":\"on-failure\"},"
	              "{\"name\":\"bad\",\"exec\":[\"sh\",\"-c\",\"exit 3\"],\"restart\":\"on-failure\"}]}");
	w = lvd_wait(&d, "ok", "stopped", 0);
	ck_assert_int_eq(JINT(json_object_get(first_worker(w), "last_exit"), "code"), 0);
	ck_assert_int_eq(JINT(first_worker(w), "restarts"), 0);
	json_decref(w);
	w = lvd_wait(&d, "bad", "[\"starting\",\"running\",\"backoff\",\"failed\"]", 1);
	ck_assert_int_eq(JINT(json_object_get(first_worker(w), "last_exit"), "code"), 3);
	json_decref(w);
}
END_TEST

START_TEST(policy_never)
{
	json_t *w;

	lvd_start(&d, "{\"pools\":["
	              "{\"name\":\"ok\",\"exec\":[\"true\"],\"restart\":\"never\"},"
	              "{\"name\":\"bad\",\"exec\":[\"false\"],\"restart\":\"never\"}]}");
	w = lvd_wait(&d, "ok", "stopped", 0);
	ck_assert_int_eq(JINT(first_worker(w), "restarts"), 0);
	json_decref(w);
	w = lvd_wait(&d, "bad", "failed", 0);
	ck_assert_int_eq(JINT(json_object_get(first_worker(w), "last_exit"), "code"), 1);
	ck_assert_int_eq(JINT(first_worker(w), "restarts"), 0);
	json_decref(w);
}
END_TEST

START_TEST(crash_loop_ends_in_failed_until_started)
{
	json_t *w, *e;
	char *log;

	lvd_start(&d, "{\"pools\":[{\"name\":\"c\",\"exec\":[\"false\"],"
	              "\"start_limit\":{\"burst\":3,\"interval_ms\":60000}},"
	              "{\"name\":\"nx\",\"exec\":[\"no-such-program-lv\"],\"autostart\":false,"
	              "\"start_limit\":{\"burst\":2,\"interval_ms\":60000}}]}");
	w = lvd_wait(&d, "c", "failed", 0);
	ck_assert_int_eq(JINT(first_worker(w), "restarts"), 2);
	/* the exit that made the loop stays told */
	ck_assert_str_eq(JSTR(first_worker(w), "last_error"),
	                 "start limit hit after 3 starts in 60 s; last: exit 1");
	json_decref(w);
	/* an explicit start tries again (the exec itself succeeds, so start says running) */
	json_decref(lvd_call(&d, "start", "{\"target\":\"c\"}"));
	w = lvd_wait(&d, "c", "failed", 5);
	ck_assert_int_eq(JINT(first_worker(w), "restarts"), 5);
	json_decref(w);
	/* a start that cannot succeed answers with the reason once the worker has failed */
	e = lvd_call_error(&d, "start", "{\"target\":\"nx\"}");
	ck_assert_int_eq(JINT(e, "code"), -32004);
	ck_assert_str_eq(JSTR(json_object_get(e, "data"), "worker"), "nx:0");
	ck_assert_str_eq(JSTR(json_object_get(e, "data"), "last_error"),
	                 "start limit hit after 2 starts in 60 s; last: exec no-such-program-lv: "
	                 "No such file or directory");
	json_decref(e);
	/* and the log said so at the first failure, not only when the limit gave up */
	log = slurp(d.log);
	ck_assert_ptr_nonnull(log);
	ck_assert_msg(strstr(log, "nx:0: cannot start: exec no-such-program-lv: No such file"),
	              "%s", log);
	free(log);
}
END_TEST

START_TEST(exec_errors_are_text)
{
	json_t *w;

	lvd_start(&d, "{\"pools\":["
	              "{\"name\":\"noent\",\"exec\":[\"/nonexistent/prog\"],\"restart\":\"never\"},"
	              "{\"name\":\"nocwd\",\"exec\":[\"true\"],\"cwd\":\"/nonexistent/dir\","
	              "\"restart\":\"never\"},"
	              "{\"name\":\"noperm\",\"exec\":[\"/etc/passwd\"],\"restart\":\"never\"}]}");
	w = lvd_wait(&d, "noent", "failed", 0);
	ck_assert_str_eq(JSTR(first_worker(w), "last_error"),
	                 "exec /nonexistent/prog: No such file or directory");
	json_decref(w);
	w = lvd_wait(&d, "nocwd", "failed", 0);
	ck_assert_str_eq(JSTR(first_worker(w), "last_error"),
	                 "chdir /nonexistent/dir: No such file or directory");
	json_decref(w);
	w = lvd_wait(&d, "noperm", "failed", 0);
	ck_assert_str_eq(JSTR(first_worker(w), "last_error"), "exec /etc/passwd: Permission denied");
	json_decref(w);
}
END_TEST

/* An error text cut inside a UTF-8 character (the child's 1024-byte message) used to be
 * kept as is: jansson refused it, so the -32004 reply and the worker.exited event lost it
 * and status showed every non-ASCII byte as '?'. */
START_TEST(an_error_cut_inside_a_character_is_kept_up_to_it)
{
	char cwd[1300];
	json_t *e, *w;

	strcpy(cwd, "/nonexistent/x"); /* "chdir " + 14 bytes: the cut falls inside a character */
	for (int i = 0; i < 600; i++)
		strcat(cwd, "\xc3\xa9");
	lvd_start(&d, "{\"pools\":[{\"name\":\"p\",\"exec\":[\"true\"],\"cwd\":\"%s\","
	              "\"restart\":\"never\",\"autostart\":false}]}", cwd);
	e = lvd_call_error(&d, "start", "{\"target\":\"p\"}");
	ck_assert_int_eq(JINT(e, "code"), -32004);
	ck_assert_ptr_nonnull(JSTR(json_object_get(e, "data"), "last_error"));
	ck_assert_int_eq(strncmp(JSTR(json_object_get(e, "data"), "last_error"),
	                         "chdir /nonexistent/x\xc3\xa9", 22), 0);
	json_decref(e);
	w = lvd_worker(&d, "p:0");
	ck_assert_uint_eq(strlen(JSTR(w, "last_error")), 1022); /* 1023, less the half character */
	ck_assert_int_eq(strncmp(JSTR(w, "last_error"), "chdir /nonexistent/x\xc3\xa9", 22), 0);
	json_decref(w);
}
END_TEST

START_TEST(module_errors_are_text)
{
	json_t *w;

	lvd_start(&d, "{\"job_path\":[\"%s\"],\"pools\":["
	              "{\"name\":\"abi\",\"module\":\"lv_badabi\",\"restart\":\"never\"},"
	              "{\"name\":\"missing\",\"module\":\"nosuchjob\",\"restart\":\"never\"},"
	              "{\"name\":\"refuses\",\"module\":\"lv_testjob\",\"restart\":\"never\","
	              "\"params\":{\"fail_start\":\"port taken\"}},"
	              "{\"name\":\"nosym\",\"module\":\"lv_nosymbol\",\"restart\":\"never\"},"
	              "{\"name\":\"notelf\",\"module\":\"/etc/passwd\",\"restart\":\"never\"}]}",
	              lvd_build_path("tests"));
	w = lvd_wait(&d, "abi", "failed", 0);
	ck_assert_ptr_nonnull(strstr(JSTR(first_worker(w), "last_error"), "job ABI version 3"));
	json_decref(w);
	w = lvd_wait(&d, "refuses", "failed", 0);
	ck_assert_str_eq(JSTR(first_worker(w), "last_error"), "start failed: port taken");
	json_decref(w);
	w = lvd_wait(&d, "nosym", "failed", 0);
	ck_assert_ptr_nonnull(strstr(JSTR(first_worker(w), "last_error"),
	                             "no loopvisor_job symbol: not a loopvisor job module"));
	json_decref(w);
	w = lvd_wait(&d, "notelf", "failed", 0);
	ck_assert_msg(!strncmp(JSTR(first_worker(w), "last_error"), "dlopen: /etc/passwd: ", 21), "%s",
	              JSTR(first_worker(w), "last_error"));
	json_decref(w);
	w = lvd_wait(&d, "missing", "failed", 0);
	ck_assert_ptr_nonnull(strstr(JSTR(first_worker(w), "last_error"), "nosuchjob.so"));
	json_decref(w);
}
END_TEST

START_TEST(stop_timeout_kills_the_group)
{
	char dir[] = "/tmp/lvfifo.XXXXXX", fifo[64], line[16] = "";
	json_t *w;
	pid_t pid;
	FILE *f;

	/* the shell says on a FIFO when it ignores TERM, so the stop cannot come too early */
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(fifo, sizeof fifo, "%s/ready", dir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	lvd_start(&d, "{\"pools\":[{\"name\":\"stubborn\",\"exec\":[\"sh\",\"-c\","
	              "\"trap '' TERM; sleep 1000 & echo ready > %s; wait\"],"
	              "\"stop_timeout_ms\":300}]}", fifo);
	f = fopen(fifo, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
	fclose(f);
	ck_assert_str_eq(line, "ready\n");
	pid = lvd_worker_pid(&d, "stubborn:0");
	json_decref(lvd_call(&d, "stop", "{\"target\":\"stubborn\"}"));
	w = lvd_worker(&d, "stubborn:0");
	ck_assert_str_eq(JSTR(w, "state"), "stopped");
	ck_assert_str_eq(JSTR(json_object_get(w, "last_exit"), "signal"), "KILL");
	json_decref(w);
	/* nothing of its process group is left running (the orphaned sleep included) */
	ck_assert(group_gone_within(pid, 5000));
	unlink(fifo);
	rmdir(dir);
}
END_TEST

START_TEST(module_ignoring_stop_is_killed)
{
	json_t *w;

	lvd_start(&d, "{\"job_path\":[\"%s\"],\"pools\":[{\"name\":\"m\",\"module\":\"lv_testjob\","
	              "\"params\":{\"ignore_stop\":true},\"stop_timeout_ms\":200}]}",
	              lvd_build_path("tests"));
	json_decref(lvd_wait(&d, "m", "running", 0));
	json_decref(lvd_call(&d, "stop", "{\"target\":\"m\"}"));
	w = lvd_worker(&d, "m:0");
	ck_assert_str_eq(JSTR(json_object_get(w, "last_exit"), "signal"), "KILL");
	json_decref(w);
}
END_TEST

START_TEST(kill9_of_workers_restarts_them)
{
	json_t *w;
	pid_t a, b;

	lvd_start(&d, "{\"pools\":[{\"name\":\"m\",\"module\":\"ticker\",\"workers\":2}]}");
	json_decref(lvd_wait(&d, "m", "running", 0));
	a = lvd_worker_pid(&d, "m:0");
	b = lvd_worker_pid(&d, "m:1");
	/* both at once: the SIGCHLDs coalesce, and both must still be reaped */
	kill(a, SIGKILL);
	kill(b, SIGKILL);
	w = lvd_wait(&d, "m", "running", 1);
	ck_assert_int_ne(JINT(json_array_get(json_object_get(w, "workers"), 0), "pid"), a);
	ck_assert_int_ne(JINT(json_array_get(json_object_get(w, "workers"), 1), "pid"), b);
	ck_assert_str_eq(JSTR(json_object_get(first_worker(w), "last_exit"), "signal"), "KILL");
	json_decref(w);
}
END_TEST

START_TEST(scale_up_and_down)
{
	json_t *r, *st;
	pid_t pid;

	lvd_start(&d, "{\"pools\":[{\"name\":\"m\",\"module\":\"ticker\",\"workers\":1}]}");
	json_decref(lvd_wait(&d, "m", "running", 0));
	r = lvd_call(&d, "scale", "{\"pool\":\"m\",\"workers\":4}");
	ck_assert_int_eq(JINT(r, "workers"), 4);
	json_decref(r);
	r = lvd_wait(&d, "m", "running", 0);
	ck_assert_uint_eq(json_array_size(json_object_get(r, "workers")), 4);
	json_decref(r);
	pid = lvd_worker_pid(&d, "m:3");
	json_decref(lvd_call(&d, "scale", "{\"pool\":\"m\",\"workers\":1}"));
	/* the reply comes once the surplus is stopped and gone from the table */
	st = lvd_call(&d, "status", NULL);
	ck_assert_uint_eq(json_array_size(json_object_get(st, "workers")), 1);
	ck_assert_int_eq(JINT(json_array_get(json_object_get(st, "pools"), 0), "workers"), 1);
	json_decref(st);
	ck_assert(pid_gone_within(pid, 5000));
	r = lvd_call_error(&d, "scale", "{\"pool\":\"m\",\"workers\":10001}");
	ck_assert_int_eq(JINT(r, "code"), -32602);
	json_decref(r);
	r = lvd_call_error(&d, "scale", "{\"pool\":\"nope\",\"workers\":1}");
	ck_assert_int_eq(JINT(r, "code"), -32001);
	json_decref(r);
}
END_TEST

START_TEST(signal_reaches_the_worker)
{
	json_t *r;

	lvd_start(&d, "{\"pools\":[{\"name\":\"s\",\"exec\":[\"sleep\",\"1000\"],"
	              "\"restart\":\"on-failure\"}]}");
	json_decref(lvd_wait(&d, "s", "running", 0));
	r = lvd_call(&d, "signal", "{\"target\":\"s\",\"signal\":\"USR1\"}");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(r, "workers"), 0)), "s:0");
	json_decref(r);
	/* sleep dies of USR1, a failure for on-failure: restarted */
	r = lvd_wait(&d, "s", "running", 1);
	ck_assert_str_eq(JSTR(json_object_get(first_worker(r), "last_exit"), "signal"), "USR1");
	json_decref(r);
	r = lvd_call(&d, "signal", "{\"target\":\"s:0\",\"signal\":9}");
	json_decref(r);
	json_decref(lvd_wait(&d, "s", "running", 2));
	r = lvd_call_error(&d, "signal", "{\"target\":\"s\",\"signal\":\"NOPE\"}");
	ck_assert_int_eq(JINT(r, "code"), -32602);
	json_decref(r);
}
END_TEST

START_TEST(autostart_false_waits_for_start)
{
	json_t *w;

	lvd_start(&d, "{\"pools\":[{\"name\":\"s\",\"exec\":[\"sleep\",\"1000\"],"
	              "\"autostart\":false}]}");
	w = lvd_worker(&d, "s:0");
	ck_assert_str_eq(JSTR(w, "state"), "stopped");
	json_decref(w);
	json_decref(lvd_call(&d, "start", "{\"target\":\"s\"}"));
	w = lvd_worker(&d, "s:0");
	ck_assert_str_eq(JSTR(w, "state"), "running");
	json_decref(w);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("workers");
	TCase *tc = tcase_create("lifecycle");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, module_worker_runs_and_reports);
	tcase_add_test(tc, exec_stop_start_restart);
	tcase_add_test(tc, stopped_by_command_stays_stopped);
	tcase_add_test(tc, policy_always_restarts_clean_exit);
	tcase_add_test(tc, policy_on_failure);
	tcase_add_test(tc, policy_never);
	tcase_add_test(tc, crash_loop_ends_in_failed_until_started);
	tcase_add_test(tc, backoff_doubles_from_100_ms);
	tcase_add_test(tc, exec_errors_are_text);
	tcase_add_test(tc, an_error_cut_inside_a_character_is_kept_up_to_it);
	tcase_add_test(tc, module_errors_are_text);
	tcase_add_test(tc, stop_timeout_kills_the_group);
	tcase_add_test(tc, module_ignoring_stop_is_killed);
	tcase_add_test(tc, kill9_of_workers_restarts_them);
	tcase_add_test(tc, scale_up_and_down);
	tcase_add_test(tc, signal_reaches_the_worker);
	tcase_add_test(tc, autostart_false_waits_for_start);
	suite_add_tcase(su, tc);
	return lvd_run_suite(su);
}
