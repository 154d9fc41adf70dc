/* test_live: changing a running daemon: reload (no change keeps every pid, a changed pool
 * rolls one worker at a time, SIGHUP starts a new pool, an invalid file changes nothing),
 * add and remove, the event stream and its overflow, and the desired state surviving kill -9
 * of the daemon. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static struct lvd d;

static void teardown(void)
{
	lvd_stop(&d);
}

#define POOLS_A "{\"name\":\"a\",\"module\":\"ticker\",\"workers\":3,\"params\":{\"interval_ms\":%d}}"
#define POOLS_B "{\"name\":\"b\",\"exec\":[\"sleep\",\"1000\"],\"workers\":%d}"

static char *config(int interval, int b_workers, const char *extra)
{
	char *text;

	ck_assert_int_ge(asprintf(&text, "{\"state_dir\":\".\",\"pools\":[" POOLS_A "," POOLS_B "%s]}",
	                          interval, b_workers, extra ? extra : ""), 0);
	return text;
}

static void start_default(void)
{
	char *cfg = config(1000, 2, NULL);

	lvd_start(&d, "%s", cfg);
	free(cfg);
	json_decref(lvd_wait(&d, "a", "running", 0));
	json_decref(lvd_wait(&d, "b", "running", 0));
}

START_TEST(reload_without_change_keeps_every_pid)
{
	json_t *before, *after, *r;

	start_default();
	before = lvd_pids(&d);
	r = lvd_call(&d, "reload", NULL);
	ck_assert_uint_eq(json_array_size(json_object_get(r, "unchanged")), 2);
	ck_assert_uint_eq(json_array_size(json_object_get(r, "changed")), 0);
	json_decref(r);
	kill(d.pid, SIGHUP); /* the signal does the same */
	r = lvd_call(&d, "reload", NULL);
	json_decref(r);
	after = lvd_pids(&d);
	ck_assert(json_equal(before, after));
	json_decref(before);
	json_decref(after);
}
END_TEST

/* SIGHUP reloads for real: a pool new in the file starts, and the reload is announced. */
START_TEST(sighup_starts_a_pool_new_in_the_file)
{
	struct lv_client *sub;
	json_t *res = NULL, *err = NULL, *ev;
	char *cfg;
	bool reloaded = false, running = false;

	start_default();
	sub = lv_client_connect(d.sock);
	ck_assert_ptr_nonnull(sub);
	ck_assert_int_eq(lv_client_call(sub, "subscribe", json_pack("{s:[s,s]}", "events",
	                                "daemon.reloaded", "worker.running"), 10000, &res, &err), 0);
	ck_assert(json_is_true(json_object_get(res, "subscribed")));
	json_decref(res);
	cfg = config(1000, 2, ",{\"name\":\"c\",\"exec\":[\"sleep\",\"1000\"]}");
	lvd_write_config(&d, cfg);
	free(cfg);
	kill(d.pid, SIGHUP);
	while (!reloaded || !running) { /* fails after 20 s if SIGHUP did nothing */
		ev = lvd_next_notification(sub);
		if (!strcmp(JSTR(ev, "event"), "daemon.reloaded"))
			reloaded = true;
		else if (JSTR(ev, "worker") && !strcmp(JSTR(ev, "worker"), "c:0"))
			running = true;
		json_decref(ev);
	}
	lv_client_close(sub);
	json_decref(lvd_wait(&d, "c", "running", 0));
}
END_TEST

START_TEST(invalid_reload_changes_nothing)
{
	json_t *before, *after, *e;

	start_default();
	before = lvd_pids(&d);
	lvd_write_config(&d, "{\"pools\":[{\"name\":\"a\",\"module\":\"ticker\",\"wrokers\":9}]}");
	e = lvd_call_error(&d, "reload", NULL);
	ck_assert_int_eq(JINT(e, "code"), -32007);
	ck_assert_str_eq(JSTR(e, "message"),
	                 "pools[0].wrokers: unknown key; did you mean \"workers\"?");
	json_decref(e);
	after = lvd_pids(&d);
	ck_assert(json_equal(before, after));
	json_decref(before);
	json_decref(after);
}
END_TEST

START_TEST(changed_pool_rolls_one_worker_at_a_time)
{
	struct lv_client *sub;
	json_t *r, *res = NULL, *err = NULL, *before, *after;
	char *cfg;
	int running = 3, lowest = 3, replaced = 0;
	json_int_t last_seq = 0;

	start_default();
	before = lvd_pids(&d);
	sub = lv_client_connect(d.sock);
	ck_assert_int_eq(lv_client_call(sub, "subscribe", json_pack("{s:s}", "target", "a"), 10000,
	                                &res, &err), 0);
	ck_assert(json_is_true(json_object_get(res, "subscribed")));
	json_decref(res);
	/* successors that take a while to be ready: a roll that moved on while one is only
	 * starting would have two down at once, whatever the machine's speed */
	ck_assert_int_ge(asprintf(&cfg, "{\"state_dir\":\".\",\"job_path\":[\"%s\"],\"pools\":["
	                          "{\"name\":\"a\",\"module\":\"lv_testjob\",\"workers\":3,"
	                          "\"params\":{\"ready_after_ms\":%d}}," POOLS_B "]}",
	                          lvd_build_path("tests"), test_ms(1000), 2), 0);
	lvd_write_config(&d, cfg);
	free(cfg);
	r = lvd_call(&d, "reload", NULL);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(r, "changed"), 0)), "a");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(r, "unchanged"), 0)), "b");
	json_decref(r);
	/* watch the stream: a worker is down from its exit until its successor runs */
	while (replaced < 3) {
		json_t *ev = lvd_next_notification(sub);
		const char *name = JSTR(ev, "event");

		if (!strcmp(name, "pool.rolling") && JINT(ev, "done") == 0) {
			json_decref(ev); /* sent as the reload begins the roll: daemon.reloaded follows */
			continue;
		}
		ck_assert_int_eq(JINT(ev, "seq"), last_seq ? last_seq + 1 : JINT(ev, "seq"));
		last_seq = JINT(ev, "seq");
		if (!strcmp(name, "worker.exited"))
			running--;
		else if (!strcmp(name, "worker.running")) {
			running++;
			replaced++;
		}
		if (running < lowest)
			lowest = running;
		json_decref(ev);
	}
	ck_assert_int_eq(lowest, 2);
	after = lvd_pids(&d);
	for (int i = 0; i < 3; i++) {
		char name[8];
		snprintf(name, sizeof name, "a:%d", i);
		ck_assert(!json_equal(json_object_get(before, name), json_object_get(after, name)));
	}
	ck_assert(json_equal(json_object_get(before, "b:0"), json_object_get(after, "b:0")));
	json_decref(before);
	json_decref(after);
	lv_client_close(sub);
}
END_TEST

START_TEST(worker_count_change_only_scales)
{
	json_t *before, *after, *r;
	char *cfg;

	start_default();
	before = lvd_pids(&d);
	cfg = config(1000, 3, NULL);
	lvd_write_config(&d, cfg);
	free(cfg);
	r = lvd_call(&d, "reload", NULL);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(r, "scaled"), 0)), "b");
	json_decref(r);
	json_decref(lvd_wait(&d, "b", "running", 0));
	after = lvd_pids(&d);
	ck_assert(json_equal(json_object_get(before, "b:1"), json_object_get(after, "b:1")));
	ck_assert(json_is_integer(json_object_get(after, "b:2")));
	json_decref(before);
	json_decref(after);
}
END_TEST

/* A connection subscribed to pool.removed */
static struct lv_client *watch_removals(void)
{
	json_t *res = NULL, *err = NULL;
	struct lv_client *sub = lv_client_connect(d.sock);

	ck_assert_ptr_nonnull(sub);
	ck_assert_int_eq(lv_client_call(sub, "subscribe", json_pack("{s:[s]}", "events",
	                                "pool.removed"), 10000, &res, &err), 0);
	json_decref(res);
	return sub;
}

/* A worker's process is gone before the daemon hears of its exit (from the zygote), and
 * its pool only after that: this waits for the pool, then closes sub. */
static void await_removal(struct lv_client *sub, const char *pool)
{
	json_t *ev = lvd_next_notification(sub);

	ck_assert_str_eq(JSTR(ev, "pool"), pool);
	json_decref(ev);
	lv_client_close(sub);
}

START_TEST(reload_adds_and_removes_pools)
{
	json_t *r;
	struct lv_client *sub;
	pid_t b0;

	start_default();
	b0 = lvd_worker_pid(&d, "b:0");
	sub = watch_removals();
	lvd_write_config(&d, "{\"pools\":[{\"name\":\"a\",\"module\":\"ticker\",\"workers\":3,"
	                 "\"params\":{\"interval_ms\":1000}},{\"name\":\"c\",\"module\":\"ticker\"}]}");
	r = lvd_call(&d, "reload", NULL);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(r, "added"), 0)), "c");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(r, "removed"), 0)), "b");
	json_decref(r);
	json_decref(lvd_wait(&d, "c", "running", 0));
	ck_assert(pid_gone_within(b0, 10000));
	await_removal(sub, "b");
	r = lvd_call_error(&d, "status", "{\"target\":\"b\"}");
	ck_assert_int_eq(JINT(r, "code"), -32001);
	json_decref(r);
}
END_TEST

START_TEST(add_and_remove_at_runtime)
{
	json_t *r;
	struct lv_client *sub;
	pid_t pid;

	start_default();
	r = lvd_call(&d, "add", "{\"pool\":{\"name\":\"extra\",\"exec\":[\"sleep\",\"1000\"],"
	             "\"workers\":2}}");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "workers")), 2);
	json_decref(r);
	r = lvd_wait(&d, "extra", "running", 0);
	json_decref(r);
	pid = lvd_worker_pid(&d, "extra:1");
	r = lvd_call_error(&d, "add", "{\"pool\":{\"name\":\"extra\",\"exec\":[\"true\"]}}");
	ck_assert_int_eq(JINT(r, "code"), -32602);
	json_decref(r);
	r = lvd_call_error(&d, "add", "{\"pool\":{\"name\":\"bad\",\"exec\":[\"true\"],\"wrokers\":1}}");
	ck_assert_str_eq(JSTR(r, "message"),
	                 "params.pool.wrokers: unknown key; did you mean \"workers\"?");
	json_decref(r);
	sub = watch_removals();
	r = lvd_call(&d, "remove", "{\"pool\":\"extra\"}");
	ck_assert_str_eq(JSTR(r, "removed"), "extra");
	json_decref(r);
	ck_assert(pid_gone_within(pid, 5000));
	await_removal(sub, "extra");
	r = lvd_call_error(&d, "remove", "{\"pool\":\"extra\"}");
	ck_assert_int_eq(JINT(r, "code"), -32001);
	json_decref(r);
}
END_TEST

/* docs/config.md: "a `reload` removes added pools that are not in the file"; the pools of
 * the file keep their processes. */
START_TEST(a_reload_removes_pools_added_at_runtime)
{
	json_t *r, *before, *after;
	struct lv_client *sub;
	pid_t pid;

	start_default();
	json_decref(lvd_call(&d, "add", "{\"pool\":{\"name\":\"extra\",\"exec\":[\"sleep\",\"1000\"]}}"));
	json_decref(lvd_wait(&d, "extra", "running", 0));
	pid = lvd_worker_pid(&d, "extra:0");
	sub = watch_removals();
	before = lvd_pids(&d);
	json_object_del(before, "extra:0");
	r = lvd_call(&d, "reload", NULL);
	ck_assert_uint_eq(json_array_size(json_object_get(r, "removed")), 1);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(r, "removed"), 0)), "extra");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "unchanged")), 2);
	json_decref(r);
	ck_assert(pid_gone_within(pid, 10000));
	await_removal(sub, "extra");
	r = lvd_call_error(&d, "status", "{\"target\":\"extra\"}");
	ck_assert_int_eq(JINT(r, "code"), -32001);
	json_decref(r);
	after = lvd_pids(&d);
	ck_assert_msg(json_equal(before, after), "a reload that removes an added pool restarted others");
	json_decref(before);
	json_decref(after);
}
END_TEST

START_TEST(a_subscriber_that_stops_reading_is_cut_off)
{
	struct lv_client *sub;
	json_t *res = NULL, *err = NULL, *r;
	int small = 4096, saw_overflow = 0;
	char *line;

	lvd_start(&d, "{\"pools\":[{\"name\":\"m\",\"module\":\"ticker\",\"workers\":40}]}");
	json_decref(lvd_wait(&d, "m", "running", 0));
	sub = lv_client_connect(d.sock);
	setsockopt(lv_client_fd(sub), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
	ck_assert_int_eq(lv_client_call(sub, "subscribe", NULL, 10000, &res, &err), 0);
	json_decref(res);
	/* lots of events nobody reads */
	for (int i = 0; i < 60; i++) {
		r = lvd_call(&d, "restart", "{\"target\":\"m\"}");
		json_decref(r);
	}
	r = lvd_call(&d, "ping", NULL);
	ck_assert_str_eq(json_string_value(r), "pong");
	json_decref(r);
	/* what it gets: events, then "overflow", then the end */
	while ((line = lv_client_read_line(sub, 10000)) != NULL) {
		saw_overflow = strstr(line, "\"event\":\"overflow\"") != NULL;
		free(line);
	}
	ck_assert(saw_overflow);
	lv_client_close(sub);
}
END_TEST

START_TEST(desired_state_survives_kill9_of_the_daemon)
{
	json_t *w, *r;
	char *cfg = config(1000, 3, NULL);

	lvd_start(&d, "%s", cfg);
	free(cfg);
	json_decref(lvd_wait(&d, "b", "running", 0));
	json_decref(lvd_call(&d, "stop", "{\"target\":\"b:1\"}"));
	json_decref(lvd_call(&d, "scale", "{\"pool\":\"a\",\"workers\":1}"));
	json_decref(lvd_call(&d, "add", "{\"pool\":{\"name\":\"late\",\"exec\":[\"sleep\",\"1000\"]}}"));
	json_decref(lvd_call(&d, "remove", "{\"pool\":\"b\"}"));
	json_decref(lvd_call(&d, "add", "{\"pool\":" POOLS_B "}", 2));
	json_decref(lvd_call(&d, "stop", "{\"target\":\"b:0\"}"));
	/* stopped, then started again by the operator: it runs again after the restart */
	json_decref(lvd_call(&d, "stop", "{\"target\":\"a:0\"}"));
	json_decref(lvd_call(&d, "start", "{\"target\":\"a:0\"}"));
	kill(d.pid, SIGKILL);
	ck_assert(lvd_wait_exit(&d, 10000));
	lvd_restart_after_kill(&d);
	json_decref(lvd_wait(&d, "late", "running", 0));
	r = lvd_call(&d, "status", NULL);
	ck_assert_uint_eq(json_array_size(json_object_get(r, "workers")), 1 + 2 + 1);
	json_decref(r);
	w = lvd_worker(&d, "b:0");
	ck_assert_str_eq(JSTR(w, "state"), "stopped");
	json_decref(w);
	w = lvd_worker(&d, "a:0");
	ck_assert_str_ne(JSTR(w, "state"), "stopped");
	json_decref(w);
	json_decref(lvd_wait(&d, "b:1", "running", 0));
	json_decref(lvd_wait(&d, "a", "running", 0));
}
END_TEST

START_TEST(corrupt_state_file_gives_the_config_defaults)
{
	char path[400];
	FILE *f;
	char *log;

	start_default();
	json_decref(lvd_call(&d, "stop", "{\"target\":\"b:1\"}"));
	kill(d.pid, SIGKILL);
	ck_assert(lvd_wait_exit(&d, 10000));
	snprintf(path, sizeof path, "%s/state.json", d.dir);
	f = fopen(path, "w");
	fputs("{\"version\":1,\"pools\":{\"b\":", f); /* cut short */
	fclose(f);
	lvd_restart_after_kill(&d);
	json_decref(lvd_wait(&d, "b", "running", 0));
	log = slurp(d.log);
	ck_assert_ptr_nonnull(strstr(log, "state: ignoring"));
	free(log);
}
END_TEST

/* app's workers (ready once their trap is set) leave at once on SIGTERM, but for the one
 * whose pid is in DIR/slow, which takes a while: a db stopped once the first app worker is gone, not the last, is
 * seen stopping before that one. */
#define APP_EXEC "[\"sh\",\"-c\",\"trap '[ \\\"$(cat %s/slow)\\\" = $$ ] && sleep %d; exit 0' TERM; " \
                 "systemd-notify --ready; sleep 1000 & wait\"],\"ready\":\"notify\""

START_TEST(after_orders_start_and_shutdown)
{
	struct lv_client *sub;
	json_t *w, *db, *res = NULL, *err = NULL, *app;
	size_t i;
	int app_exits = 0, app_exits_before_db = -1;
	char turn[] = "/tmp/lvt_after.XXXXXX", slow[64];
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(turn));
	/* started by hand, so that the daemon's own READY=1 (which waits for every autostart
	 * worker) does not hide the waiting */
	lvd_start(&d, "{\"job_path\":[\"%s\"],\"pools\":["
	              "{\"name\":\"app\",\"exec\":" APP_EXEC ",\"workers\":2,\"after\":[\"db\"],"
	              "\"autostart\":false},"
	              "{\"name\":\"db\",\"module\":\"lv_testjob\",\"params\":{\"ready_after_ms\":%d},"
	              "\"autostart\":false}]}", lvd_build_path("tests"), turn, test_ms(1000) / 1000,
	              test_ms(400));
	json_decref(lvd_call(&d, "start", "{\"target\":\"db\",\"wait\":false}"));
	json_decref(lvd_call(&d, "start", "{\"target\":\"app\",\"wait\":false}"));
	for (int k = 0; k < 2; k++) {
		char name[8];

		snprintf(name, sizeof name, "app:%d", k);
		w = lvd_worker(&d, name);
		ck_assert_str_eq(JSTR(w, "state"), "starting");
		ck_assert(json_is_null(json_object_get(w, "pid")));
		ck_assert_str_eq(JSTR(w, "last_error"), "waiting for pool db (starting)");
		json_decref(w);
	}
	w = lvd_wait(&d, "app", "running", 0);
	db = lvd_worker(&d, "db:0");
	ck_assert_uint_eq(json_array_size(json_object_get(w, "workers")), 2);
	json_array_foreach(json_object_get(w, "workers"), i, app)
		ck_assert_int_gt(JINT(db, "uptime_ms"), JINT(app, "uptime_ms"));
	json_decref(db);
	json_decref(w);
	snprintf(slow, sizeof slow, "%s/slow", turn);
	ck_assert_ptr_nonnull(f = fopen(slow, "w"));
	fprintf(f, "%d\n", (int)lvd_worker_pid(&d, "app:1"));
	fclose(f);
	/* shutdown: app goes first, db only once every app worker is gone */
	sub = lv_client_connect(d.sock);
	ck_assert_int_eq(lv_client_call(sub, "subscribe", json_pack("{s:[s]}", "events",
	                                "worker.exited"), 10000, &res, &err), 0);
	json_decref(res);
	json_decref(lvd_call(&d, "shutdown", NULL));
	while (app_exits_before_db < 0) {
		json_t *ev = lvd_next_notification(sub);

		if (!strcmp(JSTR(ev, "pool"), "db"))
			app_exits_before_db = app_exits;
		else
			app_exits++;
		json_decref(ev);
	}
	ck_assert_int_eq(app_exits_before_db, 2);
	lv_client_close(sub);
	ck_assert(lvd_wait_exit(&d, 20000));
	ck_assert_int_eq(unlink(slow), 0);
	ck_assert_int_eq(rmdir(turn), 0);
}
END_TEST

START_TEST(a_failed_dependency_makes_followers_wait)
{
	json_t *w;
	char log[4096];
	int st;

	lvd_start(&d, "{\"pools\":[{\"name\":\"db\",\"exec\":[\"/nonexistent/db\"],\"restart\":\"never\"},"
	              "{\"name\":\"app\",\"exec\":[\"sleep\",\"1000\"],\"after\":[\"db\"]}]}");
	json_decref(lvd_wait(&d, "db", "failed", 0));
	lvd_expect_no_change(&d, "app", "[\"running\",\"backoff\",\"failed\"]", 300);
	w = lvd_worker(&d, "app:0");
	ck_assert_str_eq(JSTR(w, "state"), "starting");
	ck_assert_int_eq(JINT(w, "restarts"), 0);
	ck_assert_str_eq(JSTR(w, "last_error"), "waiting for pool db (failed)");
	json_decref(w);
	lvd_stop(&d);
	st = lvd_try_start(&d, "{\"pools\":[{\"name\":\"a\",\"exec\":[\"true\"],\"after\":[\"b\"]},"
	                   "{\"name\":\"b\",\"exec\":[\"true\"],\"after\":[\"a\"]}]}", log, sizeof log);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	ck_assert_msg(strstr(log, "pools: dependency cycle: a -> b -> a") != NULL, "%s", log);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("live");
	TCase *tc = tcase_create("reload");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, reload_without_change_keeps_every_pid);
	tcase_add_test(tc, sighup_starts_a_pool_new_in_the_file);
	tcase_add_test(tc, invalid_reload_changes_nothing);
	tcase_add_test(tc, changed_pool_rolls_one_worker_at_a_time);
	tcase_add_test(tc, worker_count_change_only_scales);
	tcase_add_test(tc, reload_adds_and_removes_pools);
	tcase_add_test(tc, add_and_remove_at_runtime);
	tcase_add_test(tc, a_reload_removes_pools_added_at_runtime);
	tcase_add_test(tc, a_subscriber_that_stops_reading_is_cut_off);
	tcase_add_test(tc, desired_state_survives_kill9_of_the_daemon);
	tcase_add_test(tc, corrupt_state_file_gives_the_config_defaults);
	tcase_add_test(tc, after_orders_start_and_shutdown);
	tcase_add_test(tc, a_failed_dependency_makes_followers_wait);
	suite_add_tcase(su, tc);
	return lvd_run_suite(su);
}
