/* test_cgroups: each worker in a cgroup v2 leaf of its own (docs/cgroups.md), on this host's
 * real cgroup v2 hierarchy, inside the folder the harness gives each daemon (cgbox.h):
 * placement as /proc/PID/cgroup shows it (exec workers born there, module workers joining),
 * a setsid escapee killed when its worker stops, when its worker's main process exits on its
 * own (the exit reported only once the leaf is empty) and at shutdown, the same without
 * cgroup.kill (freeze, kill, thaw), CPU accounting, and "cgroup": "off". Hosts without a
 * writable cgroup v2 folder skip, saying so. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgbox.h"
#include "harness.h"

static struct lvd d;
static char dir[64];

static void setup(void)
{
	make_temp_dir(dir, sizeof dir, "cgroups");
}

static void teardown(void)
{
	lvd_stop(&d);
	remove_tree(dir);
}

/* Whether this host gives the daemon cgroups: said, and the test skipped, when not. */
static bool cgroups_here(void)
{
	char box[512];

	if (!cgbox_make(box, sizeof box)) {
		printf("skipped: no writable cgroup v2 folder here (not root, or no cgroup2 mount)\n");
		fflush(stdout);
		return false;
	}
	cgbox_remove(box);
	return true;
}

/* "0::/PATH" of pid's /proc/PID/cgroup, PATH into out. */
static void cgroup_of(pid_t pid, char *out, size_t len)
{
	char file[64], line[1024];
	FILE *f;

	snprintf(file, sizeof file, "/proc/%d/cgroup", (int)pid);
	ck_assert_ptr_nonnull(f = fopen(file, "re"));
	out[0] = '\0';
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "0::", 3))
			snprintf(out, len, "%.*s", (int)strcspn(line + 3, "\n"), line + 3);
	fclose(f);
}

/* The top-level "cgroup" of a status: "on: PATH", "off: WHY" or "degraded: WHY". */
static void daemon_state(char *out, size_t len)
{
	json_t *st = lvd_call(&d, "status", NULL);

	snprintf(out, len, "%s", json_string_value(json_object_get(st, "cgroup")));
	json_decref(st);
}

static bool has_pid(void *arg)
{
	char *text = slurp(arg);
	bool ok = text && atoi(text) > 0;

	free(text);
	return ok;
}

/* The pid the worker's escapee wrote into FILE (the worker's shell writes it before it
 * execs), waited for as the folder changes. */
static pid_t escapee(const char *file)
{
	char *text;
	pid_t pid;

	ck_assert_msg(until_changed(dir, has_pid, (void *)file, 10000), "no pid in %s", file);
	text = slurp(file);
	pid = atoi(text);
	free(text);
	ck_assert(!cgbox_pid_dead(pid));
	return pid;
}

/* A pool whose workers leave a setsid'd sleep behind, its pid in DIR/esc-INDEX. */
#define ESCAPING_POOL(name, extra)                                                            \
	"{\"name\":\"" name "\",\"stop_timeout_ms\":2000" extra ",\"exec\":[\"sh\",\"-c\","    \
	"\"setsid sleep 1000 & echo $! > %s/esc-{index}.tmp && mv %s/esc-{index}.tmp "          \
	"%s/esc-{index} && exec sleep 1000\"]}"

START_TEST(workers_are_placed_in_their_own_leaves)
{
	json_t *st, *w;
	char got[1024], box[600], state[700];

	if (!cgroups_here())
		return;
	lvd_start(&d, "{\"pools\":[{\"name\":\"web\",\"workers\":2,\"exec\":[\"sleep\",\"1000\"]},"
	              "{\"name\":\"tick\",\"module\":\"ticker\"}]}");
	daemon_state(state, sizeof state);
	ck_assert_msg(!strncmp(state, "on: ", 4), "%s", state);
	/* under the harness's folder, as loopvisor-PID */
	snprintf(box, sizeof box, "%s/loopvisor-%d", d.cgroup, (int)d.pid);
	ck_assert_str_eq(state + 4, box);
	for (int i = 0; i < 3; i++) {
		const char *name = i < 2 ? (i ? "web:1" : "web:0") : "tick:0";
		const char *leaf;

		w = lvd_worker(&d, name);
		leaf = json_string_value(json_object_get(w, "cgroup"));
		ck_assert_ptr_nonnull(leaf);
		cgroup_of((pid_t)json_integer_value(json_object_get(w, "pid")), got, sizeof got);
		ck_assert_str_eq(got, leaf);
		ck_assert_ptr_nonnull(strstr(leaf, i < 2 ? (i ? "/pool-web/w-1" : "/pool-web/w-0")
		                                         : "/pool-tick/w-0"));
		ck_assert(json_is_object(json_object_get(w, "resources")));
		json_decref(w);
	}
	st = lvd_call(&d, "version", NULL);
	ck_assert_str_eq(json_string_value(json_object_get(st, "cgroup")), state);
	json_decref(st);
	/* inspect answers with the same accounting beside what the loops say */
	st = lvd_call(&d, "inspect", "{\"target\":\"tick:0\"}");
	ck_assert(json_is_integer(json_object_get(json_object_get(st, "resources"), "tasks")));
	json_decref(st);
}
END_TEST

/* stop: what the worker left behind goes with it, though it left the process group */
START_TEST(a_setsid_escapee_dies_on_stop)
{
	char file[128];
	pid_t esc;

	if (!cgroups_here())
		return;
	lvd_start(&d, "{\"pools\":[" ESCAPING_POOL("esc", "") "]}", dir, dir, dir);
	snprintf(file, sizeof file, "%s/esc-0", dir);
	esc = escapee(file);
	json_decref(lvd_call(&d, "stop", "{\"target\":\"esc\"}")); /* answers once stopped */
	ck_assert_msg(cgbox_pid_dead(esc), "the escapee %d outlived stop", (int)esc);
	/* and a start after it gets a leaf that works (a killed leaf is not reused) */
	json_decref(lvd_call(&d, "start", "{\"target\":\"esc\"}"));
	json_decref(lvd_wait(&d, "esc:0", "running", 0));
	lvd_expect_no_change(&d, "esc:0", "[\"backoff\",\"failed\"]", 300);
}
END_TEST

/* Its main process dies (not a stop): the exit is reported only once the leaf is empty, so
 * whoever sees the worker stopped finds nothing of it left. */
START_TEST(an_exit_is_reported_once_the_leaf_is_empty)
{
	char file[128];
	pid_t esc;
	json_t *w;

	if (!cgroups_here())
		return;
	lvd_start(&d, "{\"pools\":[{\"name\":\"esc\",\"restart\":\"never\",\"exec\":[\"sh\",\"-c\","
	              "\"setsid sleep 1000 & echo $! > %s/esc.tmp && mv %s/esc.tmp %s/esc-0 && "
	              "exec sleep 1000\"]}]}", dir, dir, dir);
	snprintf(file, sizeof file, "%s/esc-0", dir);
	esc = escapee(file);
	w = lvd_worker(&d, "esc:0");
	kill((pid_t)json_integer_value(json_object_get(w, "pid")), SIGKILL);
	json_decref(w);
	json_decref(lvd_wait(&d, "esc:0", "failed", 0)); /* killed, and "restart": "never" */
	ck_assert_msg(cgbox_pid_dead(esc), "the escapee %d outlived its worker", (int)esc);
}
END_TEST

/* Without cgroup.kill (kernels before 5.14): freeze, kill each process, thaw. */
START_TEST(without_cgroup_kill_the_leaf_is_emptied_all_the_same)
{
	char file[128];
	pid_t esc;

	if (!cgroups_here())
		return;
	lvd_setenv("LOOPVISOR_CGROUP_NO_KILL=1");
	lvd_start(&d, "{\"pools\":[" ESCAPING_POOL("esc", "") "]}", dir, dir, dir);
	snprintf(file, sizeof file, "%s/esc-0", dir);
	esc = escapee(file);
	json_decref(lvd_call(&d, "stop", "{\"target\":\"esc\"}"));
	ck_assert_msg(cgbox_pid_dead(esc), "the escapee %d outlived stop", (int)esc);
}
END_TEST

/* Shutdown leaves no process of any worker behind, and no folder of the daemon's. */
START_TEST(shutdown_leaves_nothing_behind)
{
	char file[128], box[600];
	pid_t esc;
	struct stat st;

	if (!cgroups_here())
		return;
	lvd_start(&d, "{\"pools\":[" ESCAPING_POOL("esc", ",\"workers\":2") "]}", dir, dir, dir);
	snprintf(file, sizeof file, "%s/esc-1", dir);
	esc = escapee(file);
	snprintf(box, sizeof box, "%s/loopvisor-%d", d.cgroup, (int)d.pid);
	ck_assert_int_eq(stat(box, &st), 0);
	json_decref(lvd_call(&d, "shutdown", NULL));
	ck_assert(lvd_wait_exit(&d, 30000));
	ck_assert_msg(cgbox_pid_dead(esc), "the escapee %d outlived the daemon", (int)esc);
	ck_assert_msg(stat(box, &st) < 0 && errno == ENOENT, "%s is still there", box);
}
END_TEST

static bool cpu_counted(void *arg)
{
	json_t *w = lvd_worker(&d, arg), *res = json_object_get(w, "resources");
	bool ok = json_integer_value(json_object_get(res, "cpu_user_usec")) +
	          json_integer_value(json_object_get(res, "cpu_system_usec")) >= 20000;

	json_decref(w);
	return ok;
}

START_TEST(cpu_time_and_tasks_are_accounted)
{
	json_t *w, *res;
	bool counted = false;
	char http[128], *text;

	if (!cgroups_here())
		return;
	/* a busy shell and an idle child: two tasks, CPU rising */
	snprintf(http, sizeof http, "%s/http.sock", dir);
	lvd_start(&d, "{\"http\":{\"listen\":[\"unix:%s\"]},\"pools\":[{\"name\":\"busy\","
	              "\"exec\":[\"sh\",\"-c\",\"sleep 1000 & while :; do :; done\"]}]}", http);
	/* cpu.stat changes without an inotify event: status is asked until it says so (each
	 * ask a round trip, no sleep), for at most 30 s of a loaded machine */
	for (time_t end = time(NULL) + 30; !(counted = cpu_counted("busy:0")) && time(NULL) < end;)
		json_decref(lvd_call(&d, "ping", NULL));
	ck_assert_msg(counted, "20 ms of CPU never showed");
	w = lvd_worker(&d, "busy:0");
	res = json_object_get(w, "resources");
	ck_assert_int_eq(json_integer_value(json_object_get(res, "tasks")), 2);
	ck_assert(json_is_object(json_object_get(res, "pressure")));
	json_decref(w);
	/* and the same figures as metrics, per worker and (pressure) per pool */
	text = scrape_metrics(http);
	ck_assert_msg(strstr(text, "loopvisor_worker_cpu_seconds_total{pool=\"busy\",worker=\"busy:0\","
	                           "mode=\"user\"} "), "%.2000s", text);
	ck_assert_ptr_nonnull(strstr(text, "loopvisor_worker_tasks{pool=\"busy\",worker=\"busy:0\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(text, "loopvisor_pool_pressure_stalled_seconds_total{pool=\"busy\","
	                                   "resource=\"cpu\",kind=\"some\"} "));
	free(text);
}
END_TEST

/* A limit is applied to each worker's leaf, or, where the subtree has no such controller
 * (this project's CI hosts have no memory controller in cgroup v2), the status says so. */
START_TEST(limits_are_applied_or_reported)
{
	json_t *w;
	char state[700], file[1200], *text;

	if (!cgroups_here())
		return;
	/* memory_restart needs the memory controller as much as a limit does */
	lvd_start(&d, "{\"pools\":[{\"name\":\"grow\",\"memory_restart\":\"64M\",\"exec\":"
	              "[\"sleep\",\"1000\"]},{\"name\":\"web\",\"limits\":{\"memory_max\":\"64M\"},"
	              "\"exec\":[\"sleep\",\"1000\"]}]}");
	daemon_state(state, sizeof state);
	w = lvd_worker(&d, "web:0");
	ck_assert_str_eq(JSTR(w, "state"), "running");
	if (strncmp(state, "on: ", 4) == 0) {
		snprintf(file, sizeof file, "%s/pool-web/w-0/memory.max", state + 4);
		ck_assert_ptr_nonnull(text = slurp(file));
		ck_assert_str_eq(text, "67108864\n");
		free(text);
	} else {
		ck_assert_str_eq(state, "degraded: no memory controller (pool grow)");
		printf("limits: this host has no memory controller in cgroup v2: checked the report\n");
	}
	json_decref(w);
}
END_TEST

START_TEST(off_keeps_workers_in_the_daemons_cgroup)
{
	json_t *st, *w;
	char daemon_cg[1024], worker_cg[1024];

	lvd_start(&d, "{\"cgroup\":\"off\",\"pools\":[{\"name\":\"web\",\"exec\":[\"sleep\","
	              "\"1000\"]}]}");
	st = lvd_call(&d, "status", NULL);
	ck_assert_str_eq(json_string_value(json_object_get(st, "cgroup")),
	                 "off: the config says \"cgroup\": \"off\"");
	json_decref(st);
	w = lvd_worker(&d, "web:0");
	ck_assert_ptr_null(json_object_get(w, "cgroup"));
	ck_assert_ptr_null(json_object_get(w, "resources"));
	cgroup_of(d.pid, daemon_cg, sizeof daemon_cg);
	cgroup_of((pid_t)json_integer_value(json_object_get(w, "pid")), worker_cg, sizeof worker_cg);
	ck_assert_str_eq(worker_cg, daemon_cg);
	json_decref(w);
}
END_TEST

/* A unit's folder the daemon cannot write (no Delegate=yes): cgroups off, saying why, and
 * the workers run all the same. The daemon runs as a user of its own there, for root may
 * write any cgroup folder. */
START_TEST(a_folder_it_cannot_write_turns_cgroups_off)
{
	static const char *const as_user[] = { "setpriv", "--reuid=lvt_cgroup", "--regid=lvt_cgroup",
		                                   "--clear-groups", NULL };
	char state[700], expect[700];
	json_t *w;

	if (!cgroups_here()) /* root, with a cgroup v2 folder */
		return;
	ensure_user("lvt_cgroup");
	cgbox_as_unit(true);
	lvd_setenv("INVOCATION_ID=lvtest");
	lvd_set_wrapper(as_user);
	lvd_start(&d, "{\"pools\":[{\"name\":\"web\",\"exec\":[\"sleep\",\"1000\"]}]}");
	lvd_set_wrapper(NULL);
	cgbox_as_unit(false);
	daemon_state(state, sizeof state);
	snprintf(expect, sizeof expect, "off: %s is not writable (does the unit say Delegate=yes?)",
	         d.cgroup);
	ck_assert_str_eq(state, expect);
	w = lvd_worker(&d, "web:0");
	ck_assert_str_eq(JSTR(w, "state"), "running");
	ck_assert_ptr_null(json_object_get(w, "cgroup"));
	json_decref(w);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("cgroups");
	TCase *tc = tcase_create("cgroups");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, workers_are_placed_in_their_own_leaves);
	tcase_add_test(tc, a_setsid_escapee_dies_on_stop);
	tcase_add_test(tc, an_exit_is_reported_once_the_leaf_is_empty);
	tcase_add_test(tc, without_cgroup_kill_the_leaf_is_emptied_all_the_same);
	tcase_add_test(tc, shutdown_leaves_nothing_behind);
	tcase_add_test(tc, cpu_time_and_tasks_are_accounted);
	tcase_add_test(tc, limits_are_applied_or_reported);
	tcase_add_test(tc, off_keeps_workers_in_the_daemons_cgroup);
	tcase_add_test(tc, a_folder_it_cannot_write_turns_cgroups_off);
	suite_add_tcase(su, tc);
	return lvd_run_suite(su);
}
