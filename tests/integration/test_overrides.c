/* test_overrides: a runtime scale against the config file's worker count: kept across a
 * restart and a reload while the file says what it said, beaten by an edit of the file,
 * visible in status, and undone by a scale to "config"; reset drops it and held stops. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static struct lvd d;

static void teardown(void)
{
	lvd_stop(&d);
}

#define CONFIG "{\"state_dir\":\".\",\"pools\":[{\"name\":\"w\",\"exec\":[\"sleep\",\"1000\"]," \
	"\"workers\":%d},{\"name\":\"other\",\"exec\":[\"sleep\",\"1000\"]}]}"

static void write_config(int workers)
{
	char *cfg;

	ck_assert_int_ge(asprintf(&cfg, CONFIG, workers), 0);
	lvd_write_config(&d, cfg);
	free(cfg);
}

static void kill_and_restart(void)
{
	kill(d.pid, SIGKILL);
	ck_assert(lvd_wait_exit(&d, 10000));
	lvd_restart_after_kill(&d);
}

/* Asserts what status says of pool w, and that `workers` of them run. */
static void expect_pool(int workers, int config_workers, bool override)
{
	json_t *r, *p, *ws;

	r = lvd_wait(&d, "w", "running", 0);
	ws = json_object_get(r, "workers");
	ck_assert_uint_eq(json_array_size(ws), (size_t)workers);
	json_decref(r);
	r = lvd_call(&d, "status", "{\"target\":\"w\"}");
	p = json_array_get(json_object_get(r, "pools"), 0);
	ck_assert_int_eq(JINT(p, "workers"), workers);
	ck_assert_int_eq(JINT(p, "config_workers"), config_workers);
	ck_assert_msg(json_is_boolean(json_object_get(p, "override")) &&
	              json_is_true(json_object_get(p, "override")) == override,
	              "override should be %d", override);
	ck_assert_int_eq(JINT(p, "running"), workers);
	json_decref(r);
}

static void start_with(int workers)
{
	lvd_start(&d, CONFIG, workers);
	json_decref(lvd_wait(&d, "w", "running", 0));
}

START_TEST(a_scale_outlives_a_restart_while_the_file_agrees)
{
	start_with(2);
	expect_pool(2, 2, false);
	json_decref(lvd_call(&d, "scale", "{\"pool\":\"w\",\"workers\":3}"));
	expect_pool(3, 2, true);
	kill_and_restart();
	expect_pool(3, 2, true);
}
END_TEST

START_TEST(an_edit_of_the_files_count_beats_a_scale_at_restart)
{
	start_with(2);
	json_decref(lvd_call(&d, "scale", "{\"pool\":\"w\",\"workers\":3}"));
	json_decref(lvd_call(&d, "stop", "{\"target\":\"other\"}")); /* another saved decision */
	write_config(4);
	kill_and_restart();
	expect_pool(4, 4, false);
	json_decref(lvd_wait(&d, "other", "stopped", 0)); /* which still holds */
	/* and fewer than before */
	write_config(1);
	kill_and_restart();
	expect_pool(1, 1, false);
}
END_TEST

START_TEST(a_scale_to_config_ends_the_override)
{
	json_t *r, *e;

	start_with(2);
	json_decref(lvd_call(&d, "scale", "{\"pool\":\"w\",\"workers\":4}"));
	expect_pool(4, 2, true);
	r = lvd_call(&d, "scale", "{\"pool\":\"w\",\"workers\":\"config\"}");
	ck_assert_int_eq(JINT(r, "workers"), 2);
	json_decref(r);
	expect_pool(2, 2, false);
	kill_and_restart();
	expect_pool(2, 2, false);
	e = lvd_call_error(&d, "scale", "{\"pool\":\"w\",\"workers\":\"more\"}");
	ck_assert_int_eq(JINT(e, "code"), -32602);
	json_decref(e);
}
END_TEST

static const char *reload_list_of(json_t *result, const char *pool)
{
	static const char *const keys[] = { "added", "removed", "changed", "scaled", "unchanged" };
	json_t *name;
	size_t i;

	for (size_t k = 0; k < 5; k++)
		json_array_foreach(json_object_get(result, keys[k]), i, name)
			if (!strcmp(json_string_value(name), pool))
				return keys[k];
	return "none";
}

START_TEST(a_reload_keeps_an_override_unless_the_file_changed_the_count)
{
	json_t *r;

	start_with(2);
	json_decref(lvd_call(&d, "scale", "{\"pool\":\"w\",\"workers\":3}"));
	r = lvd_call(&d, "reload", NULL);
	ck_assert_str_eq(reload_list_of(r, "w"), "unchanged");
	json_decref(r);
	expect_pool(3, 2, true);
	write_config(5);
	r = lvd_call(&d, "reload", NULL);
	ck_assert_str_eq(reload_list_of(r, "w"), "scaled");
	json_decref(r);
	expect_pool(5, 5, false);
	kill_and_restart();
	expect_pool(5, 5, false);
}
END_TEST

static int ctl(const char *a1, const char *a2, char *out, size_t len)
{
	const char *argv[] = { lvd_build_path("bin/loopvisorctl"), "-s", d.sock, a1, a2, NULL };
	char err[4096];

	return run_program(argv, out, len, err, sizeof err);
}

/* A scale and a held stop are both runtime decisions: both outlive a reload of an unchanged
 * file and a restart, status shows them, and reset drops both so the config rules again. */
START_TEST(reset_drops_a_scale_and_held_stops)
{
	char out[8192];
	json_t *r, *p, *w;

	start_with(2);
	json_decref(lvd_wait(&d, "other", "running", 0));
	json_decref(lvd_call(&d, "scale", "{\"pool\":\"w\",\"workers\":3}"));
	json_decref(lvd_call(&d, "stop", "{\"target\":\"w:0\"}"));
	json_decref(lvd_call(&d, "stop", "{\"target\":\"other\"}"));
	json_decref(lvd_call(&d, "reload", NULL));
	/* a reload that changes the pool (so that it rolls) keeps both decisions alike */
	lvd_write_config(&d, "{\"state_dir\":\".\",\"pools\":[{\"name\":\"w\",\"exec\":[\"sleep\","
	                     "\"1001\"],\"workers\":2},{\"name\":\"other\",\"exec\":[\"sleep\",\"1000\"]}]}");
	r = lvd_call(&d, "reload", NULL);
	ck_assert_str_eq(reload_list_of(r, "w"), "changed");
	json_decref(r);
	kill_and_restart();
	r = lvd_call(&d, "status", "{\"target\":\"w\"}");
	p = json_array_get(json_object_get(r, "pools"), 0);
	ck_assert_int_eq(JINT(p, "workers"), 3);
	ck_assert_int_eq(JINT(p, "held"), 1);
	json_decref(r);
	ck_assert_int_eq(ctl("status", NULL, out, sizeof out), 0);
	ck_assert_msg(strstr(out, "\nw: 3 workers by a runtime scale (config: 2), 1 stopped by a "
	                          "command; loopvisorctl reset w returns to the config\n"), "%s", out);
	ck_assert_msg(strstr(out, "\nother: 1 stopped by a command; loopvisorctl reset other "
	                          "returns to the config\n"), "%s", out);

	ck_assert_int_eq(ctl("reset", "w", out, sizeof out), 0);
	ck_assert_str_eq(out, "w: as configured again: 2 workers\n");
	expect_pool(2, 2, false);
	r = lvd_call(&d, "status", "{\"target\":\"w\"}");
	ck_assert_int_eq(JINT(json_array_get(json_object_get(r, "pools"), 0), "held"), 0);
	json_decref(r);
	r = lvd_call(&d, "reset", "{\"pool\":\"other\"}");
	ck_assert_int_eq(JINT(r, "workers"), 1);
	json_decref(r);
	w = lvd_worker(&d, "other:0");
	ck_assert_str_eq(JSTR(w, "state"), "running");
	json_decref(w);
	ck_assert_int_eq(ctl("status", NULL, out, sizeof out), 0);
	ck_assert_msg(!strstr(out, "loopvisorctl reset"), "%s", out);
	kill_and_restart(); /* and the state file forgot them too */
	expect_pool(2, 2, false);
	ck_assert_int_eq(ctl("reset", "nope", out, sizeof out), 1);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("overrides");
	TCase *tc = tcase_create("overrides");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, a_scale_outlives_a_restart_while_the_file_agrees);
	tcase_add_test(tc, an_edit_of_the_files_count_beats_a_scale_at_restart);
	tcase_add_test(tc, a_scale_to_config_ends_the_override);
	tcase_add_test(tc, a_reload_keeps_an_override_unless_the_file_changed_the_count);
	tcase_add_test(tc, reset_drops_a_scale_and_held_stops);
	suite_add_tcase(su, tc);
	return lvd_run_suite(su);
}
