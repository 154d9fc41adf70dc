/* test_lifecycle: what a request may meet while pools and workers come and go: an inspect
 * whose worker is removed under it, commands on a pool being removed, a reload during a
 * removal, and requests that would start workers while the daemon shuts down. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static struct lvd d;

static void teardown(void)
{
	lvd_stop(&d);
}

/* A worker that ignores the request to stop: its stop lasts the pool's stop_timeout_ms. */
#define DEAF "\"module\":\"lv_testjob\",\"params\":{\"ignore_stop\":true}"
#define JOBS "\"job_path\":[\"%s\"]"

/* The reply to one raw request line on c, read within ms: its "result" or "error" member
 * (a new reference), or NULL if none came. */
static json_t *reply_within(struct lv_client *c, int ms, bool *is_error)
{
	char *line = lv_client_read_line(c, test_ms(ms));
	json_t *msg = line ? json_loads(line, 0, NULL) : NULL, *out;

	free(line);
	*is_error = json_object_get(msg, "error") != NULL;
	out = json_incref(json_object_get(msg, *is_error ? "error" : "result"));
	json_decref(msg);
	return out;
}

static void send_line(struct lv_client *c, const char *line)
{
	ck_assert_int_eq(lv_client_send_line(c, line, strlen(line)), 0);
}

/* The error a call on c got (fails the test on a result). */
static json_t *error_of(struct lv_client *c, const char *method, const char *params)
{
	json_t *res = NULL, *err = NULL;

	ck_assert_int_eq(lv_client_call(c, method, params ? json_loads(params, 0, NULL) : NULL,
	                                test_ms(10000), &res, &err), 0);
	ck_assert_msg(err != NULL, "%s %s succeeded", method, params ? params : "");
	json_decref(res);
	return err;
}

static void expect_error(struct lv_client *c, const char *method, const char *params, int code)
{
	json_t *e = error_of(c, method, params);

	ck_assert_msg(JINT(e, "code") == code, "%s %s: %s (%d), not %d", method,
	              params ? params : "", JSTR(e, "message"), (int)JINT(e, "code"), code);
	json_decref(e);
}

/* Pipelined on one connection: the inspect is parked before the next line is read. */
static void expect_inspect_settled_by(struct lv_client *c, const char *worker, const char *then)
{
	char line[512];
	json_t *r;
	bool err;

	snprintf(line, sizeof line, "{\"jsonrpc\":\"2.0\",\"method\":\"inspect\",\"params\":"
	         "{\"target\":\"%s\",\"timeout_ms\":30000},\"id\":1}", worker);
	send_line(c, line);
	send_line(c, then);
	r = reply_within(c, 10000, &err);
	ck_assert_msg(r != NULL, "the inspect of %s was not answered when it went", worker);
	ck_assert(err);
	ck_assert_int_eq(JINT(r, "code"), -32006);
	ck_assert_str_eq(JSTR(json_object_get(r, "data"), "worker"), worker);
	ck_assert_ptr_nonnull(strstr(JSTR(r, "message"), "before it answered"));
	json_decref(r);
	r = reply_within(c, 10000, &err);
	ck_assert_msg(r != NULL && !err, "no reply to %s", then);
	json_decref(r);
}

START_TEST(an_inspect_is_answered_when_its_worker_goes)
{
	struct lv_client *c;
	json_t *r;

	lvd_start(&d, "{\"job_path\":[\"%s\"],\"pools\":[{\"name\":\"stuck\",\"module\":"
	              "\"lv_testjob\",\"workers\":2,\"hang_timeout_ms\":0,\"stop_timeout_ms\":300,"
	              "\"params\":{\"block_on_inspect\":true}}]}", lvd_build_path("tests"));
	json_decref(lvd_wait(&d, "stuck", "running", 0));
	c = lv_client_connect(d.sock);
	ck_assert_ptr_nonnull(c);
	/* scaled away while its loop hangs in the question: killed after the stop timeout */
	expect_inspect_settled_by(c, "stuck:1", "{\"jsonrpc\":\"2.0\",\"method\":\"scale\","
	                          "\"params\":{\"pool\":\"stuck\",\"workers\":1,\"wait\":false},\"id\":2}");
	/* the whole pool removed */
	expect_inspect_settled_by(c, "stuck:0", "{\"jsonrpc\":\"2.0\",\"method\":\"remove\","
	                          "\"params\":{\"pool\":\"stuck\",\"wait\":false},\"id\":3}");
	lv_client_close(c);
	r = lvd_call(&d, "ping", NULL);
	ck_assert_str_eq(json_string_value(r), "pong");
	json_decref(r);
}
END_TEST

/* A connection subscribed to pool.added and pool.removed */
static struct lv_client *watch_pools(void)
{
	json_t *res = NULL, *err = NULL;
	struct lv_client *sub = lv_client_connect(d.sock);

	ck_assert_ptr_nonnull(sub);
	ck_assert_int_eq(lv_client_call(sub, "subscribe", json_pack("{s:[s,s]}", "events",
	                                "pool.added", "pool.removed"), 10000, &res, &err), 0);
	ck_assert_ptr_nonnull(res);
	json_decref(res);
	return sub;
}

static void expect_event(struct lv_client *sub, const char *event, const char *pool)
{
	json_t *ev = lvd_next_notification(sub);

	ck_assert_str_eq(JSTR(ev, "event"), event);
	ck_assert_str_eq(JSTR(ev, "pool"), pool);
	json_decref(ev);
}

static int pools_named(const char *name)
{
	json_t *st = lvd_call(&d, "status", NULL), *p;
	size_t i;
	int n = 0;

	json_array_foreach(json_object_get(st, "pools"), i, p)
		n += !strcmp(JSTR(p, "name"), name);
	json_decref(st);
	return n;
}

START_TEST(a_pool_being_removed_takes_no_commands)
{
	struct lv_client *sub;
	json_t *r;

	lvd_start(&d, "{" JOBS ",\"pools\":[{\"name\":\"slow\"," DEAF ",\"workers\":2,"
	              "\"stop_timeout_ms\":3000}]}", lvd_build_path("tests"));
	json_decref(lvd_wait(&d, "slow", "running", 0));
	sub = watch_pools();
	json_decref(lvd_call(&d, "remove", "{\"pool\":\"slow\",\"wait\":false}"));
	expect_error(d.c, "scale", "{\"pool\":\"slow\",\"workers\":3}", -32008);
	expect_error(d.c, "start", "{\"target\":\"slow\"}", -32008);
	expect_error(d.c, "restart", "{\"target\":\"slow:0\"}", -32008);
	expect_error(d.c, "stop", "{\"target\":\"slow\"}", -32008);
	expect_error(d.c, "signal", "{\"target\":\"slow\",\"signal\":\"HUP\"}", -32008);
	expect_error(d.c, "add", "{\"pool\":{\"name\":\"slow\",\"exec\":[\"true\"]}}", -32008);
	r = lvd_call(&d, "status", "{\"target\":\"slow\"}");
	ck_assert_int_eq(JINT(json_array_get(json_object_get(r, "pools"), 0), "workers"), 0);
	json_decref(r);
	expect_event(sub, "pool.removed", "slow");
	/* gone: its name is free again */
	json_decref(lvd_call(&d, "add", "{\"pool\":{\"name\":\"slow\"," DEAF ","
	                     "\"stop_timeout_ms\":300}}"));
	json_decref(lvd_wait(&d, "slow", "running", 0));
	r = lvd_call(&d, "remove", "{\"pool\":\"slow\"}");
	ck_assert_str_eq(JSTR(r, "removed"), "slow");
	json_decref(r);
	lv_client_close(sub);
}
END_TEST

#define RELOAD_CONFIG "{\"state_dir\":\".\"," JOBS ",\"pools\":[{\"name\":\"keep\",\"exec\":" \
	"[\"sleep\",\"1000\"]},{\"name\":\"slow\"," DEAF ",\"stop_timeout_ms\":%d}]}"

static void start_reload_config(int stop_ms)
{
	lvd_start(&d, RELOAD_CONFIG, lvd_build_path("tests"), stop_ms);
	json_decref(lvd_wait(&d, "slow", "running", 0));
	json_decref(lvd_wait(&d, "keep", "running", 0));
}

static void remove_then_reload(void)
{
	json_t *r;

	json_decref(lvd_call(&d, "remove", "{\"pool\":\"slow\",\"wait\":false}"));
	for (int i = 0; i < 3; i++) {
		r = lvd_call(&d, "reload", NULL);
		ck_assert_str_eq(json_string_value(json_array_get(json_object_get(r, "added"), 0)),
		                 "slow");
		json_decref(r);
		ck_assert_int_eq(pools_named("slow"), 1);
	}
}

static void kill_and_restart(void)
{
	kill(d.pid, SIGKILL);
	ck_assert(lvd_wait_exit(&d, 10000));
	lvd_restart_after_kill(&d);
}

START_TEST(a_reload_during_a_removal_adds_the_pool_back_once_it_is_gone)
{
	struct lv_client *sub;
	pid_t old;

	start_reload_config(1500);
	old = lvd_worker_pid(&d, "slow:0");
	sub = watch_pools();
	remove_then_reload();
	expect_event(sub, "pool.removed", "slow");
	expect_event(sub, "pool.added", "slow");
	json_decref(lvd_wait(&d, "slow", "running", 0));
	ck_assert_int_ne(lvd_worker_pid(&d, "slow:0"), old);
	ck_assert_int_eq(pools_named("slow"), 1);
	lv_client_close(sub);
	/* what the state file says after that keeps the config's pool */
	kill_and_restart();
	json_decref(lvd_wait(&d, "slow", "running", 0));
	/* removed again, for good this time: a remove while it is on its way out cancels the
	 * reload's wish to bring it back */
	sub = watch_pools();
	remove_then_reload();
	json_decref(lvd_call(&d, "remove", "{\"pool\":\"slow\",\"wait\":false}"));
	expect_event(sub, "pool.removed", "slow"); /* a re-add would come in the same turn */
	lv_client_close(sub);
	ck_assert_int_eq(pools_named("slow"), 0);
}
END_TEST

START_TEST(a_kill_during_a_removal_a_reload_undid_keeps_the_pool)
{
	start_reload_config(20000);
	remove_then_reload(); /* slow takes 20 s to go: the kill comes first */
	kill_and_restart();
	json_decref(lvd_wait(&d, "slow", "running", 0));
	ck_assert_int_eq(pools_named("slow"), 1);
}
END_TEST

START_TEST(a_removed_config_pool_stays_removed_until_the_file_changes_it)
{
	json_t *e;
	char *cfg;

	start_reload_config(300);
	json_decref(lvd_call(&d, "remove", "{\"pool\":\"slow\"}"));
	kill_and_restart();
	json_decref(lvd_wait(&d, "keep", "running", 0));
	e = lvd_call_error(&d, "status", "{\"target\":\"slow\"}");
	ck_assert_int_eq(JINT(e, "code"), -32001);
	json_decref(e);
	/* the file says something new about it: the file wins */
	ck_assert_int_ge(asprintf(&cfg, RELOAD_CONFIG, lvd_build_path("tests"), 400), 0);
	lvd_write_config(&d, cfg);
	free(cfg);
	kill_and_restart();
	json_decref(lvd_wait(&d, "slow", "running", 0));
}
END_TEST

/* Read notifications until the daemon is gone; counts flap's events after it said stopping. */
static void count_flap_events(struct lv_client *sub, int *starting, int *stopped)
{
	bool stopping = false;
	char *line;

	while ((line = lv_client_read_line(sub, test_ms(20000))) != NULL) {
		json_t *msg = json_loads(line, 0, NULL), *p = json_object_get(msg, "params");
		const char *ev = JSTR(p, "event"), *pool = JSTR(p, "pool");

		free(line);
		stopping |= ev && !strcmp(ev, "daemon.stopping");
		if (stopping && pool && !strcmp(pool, "flap")) {
			*starting += !strcmp(ev, "worker.starting");
			*stopped += !strcmp(ev, "worker.stopped");
		}
		json_decref(msg);
	}
}

START_TEST(nothing_starts_while_the_daemon_shuts_down)
{
	struct lv_client *c2, *sub;
	json_t *r, *res = NULL, *err = NULL;
	int starting = 0, stopped = 0;

	/* slow follows flap, so flap is stopped last: it keeps its backoff timer meanwhile */
	lvd_start(&d, "{" JOBS ",\"pools\":[{\"name\":\"flap\",\"exec\":[\"sh\",\"-c\","
	              "\"sleep 0.2; exit 1\"],\"start_limit\":{\"burst\":1000,\"interval_ms\":1000}},"
	              "{\"name\":\"slow\"," DEAF ",\"after\":[\"flap\"],\"stop_timeout_ms\":4000},"
	              "{\"name\":\"idle\",\"exec\":[\"sleep\",\"1000\"],\"autostart\":false}]}",
	              lvd_build_path("tests"));
	json_decref(lvd_wait(&d, "slow", "running", 0));
	sub = lv_client_connect(d.sock);
	ck_assert_int_eq(lv_client_call(sub, "subscribe", json_pack("{s:[s,s,s]}", "events",
	                                "daemon.stopping", "worker.starting", "worker.stopped"),
	                                10000, &res, &err), 0);
	json_decref(res);
	json_decref(lvd_wait(&d, "flap", "backoff", 3)); /* its next start is 400+ ms away */
	c2 = lv_client_connect(d.sock);
	ck_assert_ptr_nonnull(c2);
	json_decref(lvd_call(&d, "shutdown", NULL));
	expect_error(c2, "add", "{\"pool\":{\"name\":\"late\",\"exec\":[\"sleep\",\"1000\"]}}", -32005);
	expect_error(c2, "scale", "{\"pool\":\"slow\",\"workers\":3}", -32005);
	expect_error(c2, "reload", NULL, -32005);
	expect_error(c2, "start", "{\"target\":\"idle\"}", -32005);
	expect_error(c2, "restart", "{\"target\":\"slow\"}", -32005);
	expect_error(c2, "remove", "{\"pool\":\"idle\"}", -32005);
	ck_assert_int_eq(lv_client_call(c2, "status", NULL, test_ms(10000), &r, &err), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(r, "pools")), 3);
	ck_assert_uint_eq(json_array_size(json_object_get(r, "workers")), 3);
	ck_assert(json_is_null(json_object_get(json_array_get(json_object_get(r, "workers"), 2),
	                                       "pid")));
	json_decref(r);
	lv_client_close(c2);
	count_flap_events(sub, &starting, &stopped);
	lv_client_close(sub);
	ck_assert_int_eq(starting, 0);
	ck_assert_int_ge(stopped, 1);
	ck_assert(lvd_wait_exit(&d, 20000));
}
END_TEST

int main(void)
{
	Suite *su = suite_create("lifecycle");
	TCase *tc = tcase_create("lifecycle");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, an_inspect_is_answered_when_its_worker_goes);
	tcase_add_test(tc, a_pool_being_removed_takes_no_commands);
	tcase_add_test(tc, a_reload_during_a_removal_adds_the_pool_back_once_it_is_gone);
	tcase_add_test(tc, a_kill_during_a_removal_a_reload_undid_keeps_the_pool);
	tcase_add_test(tc, a_removed_config_pool_stays_removed_until_the_file_changes_it);
	tcase_add_test(tc, nothing_starts_while_the_daemon_shuts_down);
	suite_add_tcase(su, tc);
	return lvd_run_suite(su);
}
