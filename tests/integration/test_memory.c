/* test_memory: what needs the memory controller in cgroup v2 (docs/cgroups.md): a pool's
 * memory limits in each worker's leaf, memory accounted for every worker, memory_restart
 * (a graceful restart, reason "memory") and an OOM kill told apart (reason "oom",
 * loopvisor_worker_oom_kills_total). This project's CI hosts have no memory controller in
 * cgroup v2: there the program says it skipped and exits 77, which ctest reports as
 * skipped. make test-vm runs it in a VM whose kernel has one (tests/vm/).
 *
 * Each daemon runs in a box named like a unit's folder, with INVOCATION_ID set, so that it
 * moves into its "supervisor" leaf and the box hands the controller down to its workers. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgbox.h"
#include "harness.h"

static struct lvd d;
static char http[64]; /* the daemon's HTTP listener (a Unix socket) */

static void teardown(void)
{
	lvd_stop(&d);
	unlink(http);
}

/* pools: JSON text in which %s is mem_helper's path */
static void start(const char *pools)
{
	char list[2048];

	snprintf(list, sizeof list, pools, lvd_build_path("tests/mem_helper"));
	snprintf(http, sizeof http, "/tmp/lv-memory-%d.sock", (int)getpid());
	lvd_setenv("INVOCATION_ID=lvtest");
	lvd_start(&d, "{\"http\":{\"listen\":[\"unix:%s\"]},\"pools\":[%s]}", http, list);
}

/* The value of the sample whose line starts with prefix, or -1. */
static double sample(const char *prefix)
{
	char *text = scrape_metrics(http), *at;
	double v = -1;

	if ((at = strstr(text, prefix)))
		v = strtod(at + strlen(prefix), NULL);
	free(text);
	return v;
}

/* A file of worker's leaf, as the status says where it is. */
static char *leaf_file(const char *worker, const char *file)
{
	json_t *w = lvd_worker(&d, worker);
	char path[1200];

	snprintf(path, sizeof path, "/sys/fs/cgroup%s/%s", JSTR(w, "cgroup"), file);
	json_decref(w);
	return slurp(path);
}

/* Worker 0 of pool started again, its last process ended for reason by signal, its error
 * saying what, and the pool's restarts counted so. */
static void restarted_for(const char *pool, const char *reason, const char *signal,
                          const char *what)
{
	char name[64], line[160];
	json_t *w;

	snprintf(name, sizeof name, "%s:0", pool);
	json_decref(lvd_wait(&d, name, "[\"running\",\"backoff\"]", 1));
	w = lvd_worker(&d, name);
	ck_assert_str_eq(JSTR(w, "last_end"), reason);
	ck_assert_str_eq(JSTR(json_object_get(w, "last_exit"), "signal"), signal);
	ck_assert_msg(strstr(JSTR(w, "last_error"), what), "%s", JSTR(w, "last_error"));
	json_decref(w);
	snprintf(line, sizeof line, "loopvisor_pool_restarts_total{pool=\"%s\",reason=\"%s\"} ",
	         pool, reason);
	ck_assert_msg(sample(line) >= 1, "%s", line);
}

START_TEST(memory_restart_is_a_graceful_restart)
{
	json_t *st, *w, *res;
	char *text;

	/* grows 1 MiB every 10 ms toward 64 MiB: passes 16 MiB well below its memory_max */
	start("{\"name\":\"grow\",\"exec\":[\"%s\",\"64\"],"
	      "\"memory_restart\":\"16M\",\"limits\":{\"memory_max\":\"96M\"}},"
	      "{\"name\":\"idle\",\"exec\":[\"sleep\",\"1000\"]}");
	st = lvd_call(&d, "status", NULL);
	ck_assert_msg(!strncmp(JSTR(st, "cgroup"), "on: ", 4), "%s", JSTR(st, "cgroup"));
	json_decref(st);
	ck_assert_ptr_nonnull(text = leaf_file("grow:0", "memory.max"));
	ck_assert_str_eq(text, "100663296\n");
	free(text);

	/* asked with its stop signal first, as a stop is, not killed */
	restarted_for("grow", "memory", "TERM", "memory_restart");

	/* memory is accounted for a worker whose pool sets no limit too */
	w = lvd_worker(&d, "idle:0");
	res = json_object_get(w, "resources");
	ck_assert_msg(json_integer_value(json_object_get(res, "memory_bytes")) > 0,
	              "no memory figure for idle:0");
	ck_assert(json_is_integer(json_object_get(res, "memory_peak_bytes")));
	json_decref(w);
	ck_assert(sample("loopvisor_worker_memory_bytes{pool=\"idle\",worker=\"idle:0\"} ") > 0);
}
END_TEST

START_TEST(an_oom_kill_is_told_apart)
{
	/* wants 200 MiB within a 32 MiB memory_max: the kernel's OOM killer ends it */
	start("{\"name\":\"hog\",\"exec\":[\"%s\",\"200\",\"1\"],"
	      "\"limits\":{\"memory_max\":\"32M\"}}");
	restarted_for("hog", "oom", "KILL", "OOM killer");
	ck_assert(sample("loopvisor_worker_oom_kills_total{pool=\"hog\",worker=\"hog:0\"} ") >= 1);
}
END_TEST

/* Whether the workers of a daemon started here could have the memory controller. */
static bool memory_here(void)
{
	char box[512];
	bool yes;

	if (!cgbox_make(box, sizeof box)) {
		printf("test_memory: skipped: no writable cgroup v2 folder here\n");
		return false;
	}
	yes = cgbox_offers(box, "memory");
	cgbox_remove(box);
	if (!yes)
		printf("test_memory: skipped: cgroup v2 has no memory controller here (make test-vm "
		       "runs these tests in a VM that has one)\n");
	return yes;
}

int main(void)
{
	Suite *su;
	TCase *tc;

	cgbox_as_unit(true);
	if (!memory_here())
		return 77;
	su = suite_create("memory");
	tc = tcase_create("memory");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, memory_restart_is_a_graceful_restart);
	tcase_add_test(tc, an_oom_kill_is_told_apart);
	suite_add_tcase(su, tc);
	return lvd_run_suite(su);
}
