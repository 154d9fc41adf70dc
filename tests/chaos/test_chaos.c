/* test_chaos: faults and storms that must change nothing: a crash storm (control latency,
 * no zombies, no fd or memory growth), kill -9 of the daemon mid-reload and inside a state
 * save (the state file never corrupt, workers converge), fd exhaustion (errors, backoff, no busy loop),
 * orphans of workers (reaped by the daemon as subreaper), the daemon as PID 1 of a PID
 * namespace, and valgrind's memcheck over a daemon's whole life. CHAOS_SECONDS bounds
 * the storm (default 10). */
#include <check.h>
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static struct lvd d;

static void teardown(void)
{
	lvd_set_wrapper(NULL);
	lvd_stop(&d);
}

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* How many children pid has (in state `state`, or any with 0); *one gets one of them. */
static int children_of(pid_t pid, char state, pid_t *one)
{
	DIR *proc = opendir("/proc");
	struct dirent *e;
	int n = 0;

	while (proc && (e = readdir(proc))) {
		char path[300], *stat, *p, st;
		int ppid;

		if (atoi(e->d_name) <= 0)
			continue;
		snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
		if (!(stat = slurp(path)))
			continue;
		if ((p = strrchr(stat, ')')) && sscanf(p + 2, "%c %d", &st, &ppid) == 2 &&
		    ppid == pid && (!state || st == state)) {
			n++;
			if (one)
				*one = (pid_t)atoi(e->d_name);
		}
		free(stat);
	}
	if (proc)
		closedir(proc);
	return n;
}

/* Children of pid in state Z (zombies nobody reaped). */
static int zombies_of(pid_t pid)
{
	return children_of(pid, 'Z', NULL);
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

START_TEST(crash_storm)
{
	int seconds = getenv("CHAOS_SECONDS") ? atoi(getenv("CHAOS_SECONDS")) : 10;
	long long *lat = malloc(sizeof *lat * 2000000), end;
	long rss_before, rss_after;
	int fds_before, fds_after, n = 0;
	json_t *r;

	/* 200 workers that each live a little over a second: restarted at once, forever */
	lvd_start(&d, "{\"pools\":[{\"name\":\"storm\",\"exec\":[\"sleep\",\"1.05\"],\"workers\":200,"
	              "\"start_limit\":{\"burst\":1000,\"interval_ms\":1000}}]}");
	json_decref(lvd_wait(&d, "storm", "running", 0));
	fds_before = count_fds(d.pid);
	rss_before = proc_status_value(d.pid, "VmRSS:");
	for (end = now_us() + seconds * 1000000LL; now_us() < end && n < 2000000; n++) {
		long long t = now_us();
		r = lvd_call(&d, "ping", NULL);
		lat[n] = now_us() - t;
		json_decref(r);
	}
	qsort(lat, (size_t)n, sizeof *lat, cmp_ll);
	printf("crash storm: %d pings, p50 %lld us, p99 %lld us, max %lld us\n", n, lat[n / 2],
	       lat[n * 99 / 100], lat[n - 1]);
	r = lvd_call(&d, "status", "{\"target\":\"storm:0\"}");
	ck_assert_int_gt(JINT(first_worker(r), "restarts"), seconds / 2);
	json_decref(r);
	ck_assert_int_lt(lat[n * 99 / 100], 50000);
	json_decref(lvd_call(&d, "stop", "{\"target\":\"storm\"}"));
	json_decref(lvd_call(&d, "start", "{\"target\":\"storm\"}"));
	ck_assert_int_eq(zombies_of(d.pid), 0);
	fds_after = count_fds(d.pid);
	rss_after = proc_status_value(d.pid, "VmRSS:");
	printf("crash storm: fds %d -> %d, rss %ld -> %ld kB\n", fds_before, fds_after, rss_before,
	       rss_after);
	ck_assert_int_eq(fds_after, fds_before);
	ck_assert_int_lt(rss_after, rss_before + 4096);
	free(lat);
}
END_TEST

START_TEST(kill9_during_reload_leaves_a_good_state)
{
	char path[400];
	json_t *state;

	for (int round = 0; round < 5; round++) {
		struct lv_client *sub;
		json_t *res = NULL, *err = NULL;
		char cfg[512];

		snprintf(cfg, sizeof cfg, "{\"state_dir\":\".\",\"pools\":[{\"name\":\"r\","
		         "\"module\":\"ticker\",\"workers\":4,\"params\":{\"interval_ms\":%d}}]}",
		         1000 + round);
		if (round == 0)
			lvd_start(&d, "%s", cfg);
		else
			lvd_restart_after_kill(&d);
		json_decref(lvd_wait(&d, "r", "[\"running\",\"stopped\"]", 0));
		json_decref(lvd_call(&d, "stop", "{\"target\":\"r:3\"}"));
		sub = lv_client_connect(d.sock);
		ck_assert_int_eq(lv_client_call(sub, "subscribe", json_pack("{s:[s]}", "events",
		                                "worker.exited"), 10000, &res, &err), 0);
		json_decref(res);
		{
			char changed[512];
			snprintf(changed, sizeof changed, "{\"state_dir\":\".\",\"pools\":[{\"name\":\"r\","
			         "\"module\":\"ticker\",\"workers\":4,\"params\":{\"interval_ms\":%d}}]}",
			         2000 + round);
			lvd_write_config(&d, changed);
		}
		json_decref(lvd_call(&d, "reload", NULL));
		/* in the middle of the rolling restart */
		for (int k = 0; k <= round % 3; k++)
			json_decref(lvd_next_notification(sub));
		kill(d.pid, SIGKILL);
		ck_assert(lvd_wait_exit(&d, 10000));
		lv_client_close(sub);
		snprintf(path, sizeof path, "%s/state.json", d.dir);
		state = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
		ck_assert_msg(state != NULL, "state file corrupt after round %d", round);
		json_decref(state);
	}
	lvd_restart_after_kill(&d);
	json_decref(lvd_wait(&d, "r:0", "running", 0));
	json_decref(lvd_wait(&d, "r:3", "stopped", 0)); /* what the operator left stopped */
}
END_TEST

/* A child that makes the daemon save its state over and over (every stop and start does),
 * until the daemon is gone. */
static pid_t save_driver(const char *sock)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct lv_client *c = lv_client_connect(sock);

		for (unsigned i = 0; c; i++) {
			json_t *res = NULL, *err = NULL;

			if (lv_client_call(c, i % 2 ? "start" : "stop", json_pack("{s:s}", "target", "r:7"),
			                   10000, &res, &err) < 0)
				break;
			json_decref(res);
			json_decref(err);
		}
		_exit(0);
	}
	return pid;
}

START_TEST(kill9_inside_a_state_save_leaves_a_good_state)
{
	char path[400], tmp[420];
	int inside = 0, round;

	lvd_start(&d, "{\"state_dir\":\".\",\"pools\":[{\"name\":\"r\",\"exec\":[\"sleep\","
	              "\"1000\"],\"workers\":8}]}");
	snprintf(path, sizeof path, "%s/state.json", d.dir);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	json_decref(lvd_call(&d, "stop", "{\"target\":\"r:7\"}")); /* the first save */
	ck_assert_int_eq(access(path, F_OK), 0);
	/* a save writes state.json.tmp, fsyncs it and renames it over state.json: the kill
	 * lands as soon as the temp file is seen, and counts as inside if it is left behind */
	for (round = 0; round < 20 && inside < 3; round++) {
		pid_t driver;
		long long deadline;
		struct stat st;
		json_t *state;

		if (round > 0)
			lvd_restart_after_kill(&d);
		json_decref(lvd_wait(&d, "r:0", "running", 0));
		unlink(tmp); /* what the last round left */
		driver = save_driver(d.sock);
		deadline = now_us() + 10000000;
		while (stat(tmp, &st) < 0 && now_us() < deadline)
			;
		kill(d.pid, SIGKILL);
		ck_assert(lvd_wait_exit(&d, 10000));
		ck_assert_int_eq(waitpid(driver, NULL, 0), driver);
		inside += stat(tmp, &st) == 0;
		state = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
		ck_assert_msg(state != NULL, "state file corrupt after round %d", round);
		ck_assert_ptr_nonnull(json_object_get(json_object_get(state, "pools"), "r"));
		json_decref(state);
	}
	printf("state save: %d of %d kills -9 landed inside a save\n", inside, round);
	ck_assert_msg(inside > 0, "no kill landed inside a save in %d rounds", round);
	/* the last round's temp file is left over: the next save replaces it */
	lvd_restart_after_kill(&d);
	for (int i = 0; i < 7; i++) {
		char target[16];

		snprintf(target, sizeof target, "r:%d", i);
		json_decref(lvd_wait(&d, target, "running", 0));
	}
	json_decref(lvd_call(&d, "stop", "{\"target\":\"r:0\"}"));
	ck_assert_int_ne(access(tmp, F_OK), 0);
}
END_TEST

START_TEST(fd_exhaustion_means_errors_and_backoff_not_a_busy_loop)
{
	json_t *w;
	char stat_path[64], *stat, *p;
	long before, after;

	/* too few descriptors for 30 module workers (5 each in the supervisor) */
	/* started by hand: with too few descriptors the pool never settles, so READY=1 would
	 * never come (as it should not) */
	lvd_start_limited(&d, 64, "{\"pools\":[{\"name\":\"m\",\"module\":\"ticker\","
	                  "\"workers\":30,\"autostart\":false,"
	                  "\"start_limit\":{\"burst\":1000,\"interval_ms\":1000}}]}");
	json_decref(lvd_call(&d, "start", "{\"target\":\"m\",\"wait\":false}"));
	snprintf(stat_path, sizeof stat_path, "/proc/%d/stat", (int)d.pid);
	stat = slurp(stat_path);
	p = strrchr(stat, ')');
	sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld", &before);
	free(stat);
	lvd_expect_no_change(&d, "m", "\"failed\"", 1000);
	/* which workers get descriptors is a race; some of them cannot, and the log says so
	 * (their status may have moved on to a later try by now) */
	w = lvd_call(&d, "ping", NULL);
	{
		char *log = slurp(d.log);

		ck_assert_ptr_nonnull(log);
		ck_assert_msg(strstr(log, ": Too many open files") != NULL, "no spawn was short of "
		              "descriptors: %.2000s", log);
		free(log);
	}
	json_decref(w);
	stat = slurp(stat_path);
	p = strrchr(stat, ')');
	sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld", &after);
	free(stat);
	ck_assert_int_lt(after - before, 30); /* well under a third of a core */
	json_decref(lvd_call(&d, "ping", NULL));
}
END_TEST

START_TEST(fork_failure_means_errors_and_backoff)
{
	/* root ignores RLIMIT_NPROC: run the daemon as nobody, allowed 20 processes */
	const char *as_nobody[] = { "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
	                            "prlimit", "--nproc=20:20", NULL };
	json_t *w;

	if (geteuid() != 0) {
		printf("skipped: RLIMIT_NPROC as another user needs root\n");
		return;
	}
	lvd_set_wrapper(as_nobody);
	lvd_start(&d, "{\"pools\":[{\"name\":\"p\",\"exec\":[\"sleep\",\"1000\"],\"workers\":40,"
	              "\"autostart\":false,\"start_limit\":{\"burst\":1000,\"interval_ms\":1000}}]}");
	json_decref(lvd_call(&d, "start", "{\"target\":\"p\",\"wait\":false}"));
	lvd_expect_no_change(&d, "p:39", "\"failed\"", 1000);
	w = lvd_worker(&d, "p:39");
	ck_assert_msg(JSTR(w, "last_error") && strstr(JSTR(w, "last_error"), "fork: "), "%s",
	              JSTR(w, "last_error"));
	ck_assert_str_eq(JSTR(w, "state"), "backoff");
	json_decref(w);
	json_decref(lvd_call(&d, "ping", NULL));
	/* room again: the backoff brings them all up */
	json_decref(lvd_call(&d, "scale", "{\"pool\":\"p\",\"workers\":10}"));
	json_decref(lvd_wait(&d, "p", "running", 0));
}
END_TEST

/* Live children of pid whose command line is argv0 arg1 ("sleep", "301"); with kill, each
 * is killed through a pidfd opened while it was still pid's child (so the signal cannot
 * reach a process that reused its number). */
static int children_running(pid_t pid, const char *arg1, bool kill_them)
{
	DIR *proc = opendir("/proc");
	struct dirent *e;
	int n = 0;

	while (proc && (e = readdir(proc))) {
		char path[300], *stat, *p, state, cmd[64] = "";
		int ppid, pidfd = -1;
		FILE *f;
		size_t len = 0;

		if (atoi(e->d_name) <= 0)
			continue;
		if (kill_them)
			pidfd = (int)syscall(SYS_pidfd_open, atoi(e->d_name), 0);
		snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
		if ((f = fopen(path, "r"))) {
			len = fread(cmd, 1, sizeof cmd - 1, f);
			fclose(f);
		}
		snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
		stat = slurp(path);
		if (stat && (p = strrchr(stat, ')')) && sscanf(p + 2, "%c %d", &state, &ppid) == 2 &&
		    ppid == pid && state != 'Z' && len > 6 && !strcmp(cmd, "sleep") &&
		    !strcmp(cmd + 6, arg1)) {
			n++;
			if (pidfd >= 0)
				syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
		}
		free(stat);
		if (pidfd >= 0)
			close(pidfd);
	}
	if (proc)
		closedir(proc);
	return n;
}

/* Polls until count(pid) == want for up to ms (stretched with CK_TIMEOUT_MULTIPLIER). */
static bool becomes(int (*count)(pid_t), pid_t pid, int want, int ms)
{
	const char *m = getenv("CK_TIMEOUT_MULTIPLIER");
	long long end = now_us() + (long long)ms * 1000 * (m && atoi(m) > 1 ? atoi(m) : 1);

	while (count(pid) != want)
		if (now_us() > end)
			return false;
		else
			poll(NULL, 0, 20);
	return true;
}

static int orphans_of(pid_t pid)
{
	return children_running(pid, "301", false);
}

START_TEST(orphans_of_workers_are_reaped_by_the_daemon)
{
	/* the subshell forks a sleep and leaves: the sleep's new parent is loopvisord, the
	 * subreaper (without it, init), which reaps it once it dies */
	lvd_start(&d, "{\"pools\":[{\"name\":\"o\",\"exec\":[\"sh\",\"-c\","
	              "\"(setsid sleep 301 &); exec sleep 1000\"],\"workers\":5}]}");
	json_decref(lvd_wait(&d, "o", "running", 0));
	ck_assert_msg(becomes(orphans_of, d.pid, 5, 10000), "%d orphans came to the daemon, not 5",
	              orphans_of(d.pid));
	ck_assert_int_eq(children_running(d.pid, "301", true), 5);
	/* once they are dead, nothing of them is left: not even a zombie */
	ck_assert(becomes(orphans_of, d.pid, 0, 10000));
	ck_assert(becomes(zombies_of, d.pid, 0, 10000));
	json_decref(lvd_call(&d, "stop", "{\"target\":\"o\"}"));
	ck_assert_int_eq(zombies_of(d.pid), 0);
}
END_TEST

/* The one child of pid (the daemon that unshare forked), or 0. */
static pid_t only_child(pid_t pid)
{
	pid_t child = 0;

	return children_of(pid, 0, &child) > 0 ? child : 0;
}

START_TEST(pid1_in_a_pid_namespace)
{
	const char *unshare[] = { "unshare", "--pid", "--fork", "--mount-proc", NULL };
	json_t *r, *w;
	pid_t inner;
	size_t i;

	if (geteuid() != 0) {
		printf("skipped: a PID namespace needs root\n");
		return;
	}
	lvd_set_wrapper(unshare);
	lvd_start(&d, "{\"pools\":[{\"name\":\"o\",\"exec\":[\"sh\",\"-c\","
	              "\"(setsid sleep 301 &); exec sleep 1000\"],\"workers\":3}]}");
	json_decref(lvd_wait(&d, "o", "running", 0));
	ck_assert_int_gt(inner = only_child(d.pid), 0); /* the daemon, as the host sees it */
	/* as PID 1 it is the reaper of the whole namespace: the orphans are its children, and
	 * once they die nothing of them is left, not even a zombie */
	ck_assert_msg(becomes(orphans_of, inner, 3, 10000), "%d orphans came to the daemon, not 3",
	              orphans_of(inner));
	ck_assert_int_eq(children_running(inner, "301", true), 3);
	ck_assert(becomes(orphans_of, inner, 0, 10000));
	ck_assert(becomes(zombies_of, inner, 0, 10000));
	/* its workers stop cleanly (the stop signal ends them, no kill after a timeout), then
	 * it exits 0 */
	json_decref(lvd_call(&d, "stop", "{\"target\":\"o\"}"));
	r = lvd_call(&d, "status", "{\"target\":\"o\"}");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "workers")), 3);
	json_array_foreach(json_object_get(r, "workers"), i, w) {
		ck_assert_str_eq(JSTR(w, "state"), "stopped");
		ck_assert_str_eq(JSTR(json_object_get(w, "last_exit"), "signal"), "TERM");
	}
	json_decref(r);
	json_decref(lvd_call(&d, "shutdown", NULL));
	ck_assert(lvd_wait_exit(&d, 20000));
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
	/* the pids it reported are the namespace's: as host pids they are other processes,
	 * whose groups the teardown must not kill (its check of the leader's ancestry would
	 * refuse them too) */
	d.n_groups = 0;
}
END_TEST

START_TEST(memcheck_over_a_daemon_life)
{
	/* the zygote and the module workers it forks run under memcheck too; sleep does not */
	const char *valgrind[] = { "valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
	                           "--errors-for-leak-kinds=definite", "--trace-children=yes",
	                           "--trace-children-skip=*/sleep", NULL };
	char *log, *bad;

	if (access("/usr/bin/valgrind", X_OK) != 0) {
		printf("skipped: no valgrind\n");
		return;
	}
	lvd_set_wrapper(valgrind);
	lvd_start(&d, "{\"state_dir\":\".\",\"pools\":[{\"name\":\"m\",\"module\":\"ticker\","
	              "\"workers\":2},{\"name\":\"e\",\"exec\":[\"sleep\",\"1000\"],\"workers\":2}]}");
	json_decref(lvd_wait(&d, "m", "running", 0));
	json_decref(lvd_call(&d, "restart", "{\"target\":\"m\"}"));
	json_decref(lvd_call(&d, "scale", "{\"pool\":\"e\",\"workers\":4}"));
	json_decref(lvd_call(&d, "tail", "{\"target\":\"m\"}"));
	json_decref(lvd_call(&d, "inspect", "{\"target\":\"m:0\"}"));
	json_decref(lvd_call(&d, "reload", NULL));
	kill(lvd_worker_pid(&d, "e:1"), SIGKILL);
	json_decref(lvd_wait(&d, "e:1", "running", 1)); /* restarted under memcheck */
	json_decref(lvd_call(&d, "shutdown", NULL));
	ck_assert(lvd_wait_exit(&d, 60000));
	/* 99 would mean valgrind found errors or leaks: in the daemon, a worker or the zygote,
	 * whose reports go to the daemon's log */
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
	log = slurp(d.log);
	ck_assert_ptr_nonnull(log);
	if (!(bad = strstr(log, "exited with code 99")))
		bad = strstr(log, "== ");
	ck_assert_msg(!bad, "%.300s", bad);
	free(log);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("chaos");
	TCase *tc = tcase_create("faults");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, crash_storm);
	tcase_add_test(tc, kill9_during_reload_leaves_a_good_state);
	tcase_add_test(tc, kill9_inside_a_state_save_leaves_a_good_state);
	tcase_add_test(tc, fd_exhaustion_means_errors_and_backoff_not_a_busy_loop);
	tcase_add_test(tc, fork_failure_means_errors_and_backoff);
	tcase_add_test(tc, orphans_of_workers_are_reaped_by_the_daemon);
	tcase_add_test(tc, pid1_in_a_pid_namespace);
	tcase_add_test(tc, memcheck_over_a_daemon_life);
	suite_add_tcase(su, tc);
	return lvd_run_suite(su);
}
