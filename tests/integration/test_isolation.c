/* test_isolation: what a worker inherits and what outlives what: no descriptor shared with
 * the supervisor, clean signal state, and no worker surviving a kill -9 of the daemon. */
#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/kcmp.h>

#include "harness.h"

static struct lvd d;

static void teardown(void)
{
	lvd_set_wrapper(NULL);
	lvd_stop(&d);
}

static int list_fds(pid_t pid, int *fds, int max)
{
	char path[64];
	struct dirent *e;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	ck_assert_ptr_nonnull(dir);
	while ((e = readdir(dir)) && n < max)
		if (e->d_name[0] != '.')
			fds[n++] = atoi(e->d_name);
	closedir(dir);
	return n;
}

static long kcmp_file(pid_t a, pid_t b, int fa, int fb)
{
	return syscall(SYS_kcmp, a, b, KCMP_FILE, fa, fb);
}

/* No descriptor of the worker but stdout/stderr is an open file of the daemon's: not its
 * epoll instance, not the control socket, not another worker's channel. */
static void assert_shares_nothing(pid_t daemon, pid_t worker)
{
	int dfds[256], wfds[256];
	int nd = list_fds(daemon, dfds, 256), nw = list_fds(worker, wfds, 256);

	if (kcmp_file(daemon, worker, 0, 0) < 0) {
		printf("skipped: kcmp not permitted here, no descriptor compared\n");
		return;
	}
	for (int i = 0; i < nw; i++) {
		if (wfds[i] == 1 || wfds[i] == 2)
			continue;
		for (int j = 0; j < nd; j++)
			ck_assert_msg(kcmp_file(daemon, worker, dfds[j], wfds[i]) != 0,
			              "worker %d fd %d is the daemon's fd %d", worker, wfds[i], dfds[j]);
	}
}

static char *proc_field(pid_t pid, const char *field)
{
	char path[64], *status, *line, *out;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	status = slurp(path);
	ck_assert_ptr_nonnull(status);
	line = strstr(status, field);
	ck_assert_ptr_nonnull(line);
	line += strlen(field);
	while (*line == ' ' || *line == '\t')
		line++;
	out = strndup(line, strcspn(line, "\n"));
	free(status);
	return out;
}

static pid_t ppid_of(pid_t pid);

/* Loop 0: workers from the zygote; loop 1: forked by the daemon itself, as after a zygote
 * loss (LOOPVISOR_NO_ZYGOTE): only the worker's own close_range keeps the daemon's files
 * out of it then. */
START_TEST(workers_share_no_descriptor_with_the_daemon)
{
	pid_t m0, m1, s0;
	int fds[256], n;

	if (_i == 1 && lvd_under_valgrind()) {
		/* a module worker the daemon forks stays under valgrind (no exec) and shares
		 * valgrind's own descriptors with it: nothing of the daemon's to judge there */
		printf("skipped: daemon-forked workers under valgrind carry valgrind's descriptors\n");
		return;
	}
	if (_i == 1)
		lvd_setenv("LOOPVISOR_NO_ZYGOTE=1");
	lvd_start(&d, "{\"pools\":[{\"name\":\"m\",\"module\":\"ticker\",\"workers\":2},"
	              "{\"name\":\"s\",\"exec\":[\"sleep\",\"1000\"]}]}");
	json_decref(lvd_wait(&d, "m", "running", 0));
	json_decref(lvd_wait(&d, "s", "running", 0));
	m0 = lvd_worker_pid(&d, "m:0");
	m1 = lvd_worker_pid(&d, "m:1");
	s0 = lvd_worker_pid(&d, "s:0");
	ck_assert_int_eq(ppid_of(m0) == d.pid, _i == 1); /* the path this loop is about */
	assert_shares_nothing(d.pid, m0);
	assert_shares_nothing(d.pid, m1);
	assert_shares_nothing(d.pid, s0);
	/* siblings share nothing either */
	if (kcmp_file(m0, m1, 0, 0) >= 0)
		ck_assert_int_ne(kcmp_file(m0, m1, 3, 3), 0);
	/* an exec worker keeps exactly stdin, stdout and stderr */
	n = list_fds(s0, fds, 256);
	ck_assert_int_eq(n, 3);
}
END_TEST

/* The reaper kills what a dead worker left in its process group: a background sleep does
 * not outlive the worker that started it. Loop 0: reaped by its zygote; loop 1: forked and
 * reaped by the daemon itself (LOOPVISOR_NO_ZYGOTE). */
START_TEST(a_dead_workers_group_is_killed_at_reap)
{
	char file[64], *text;
	pid_t sleeper;

	snprintf(file, sizeof file, "/tmp/lvt_group.%d", (int)getpid());
	unlink(file);
	if (_i == 1)
		lvd_setenv("LOOPVISOR_NO_ZYGOTE=1");
	lvd_start(&d, "{\"pools\":[{\"name\":\"g\",\"restart\":\"never\",\"exec\":[\"sh\",\"-c\","
	              "\"sleep 120 & echo $! > %s.new && mv %s.new %s; exit 0\"]}]}", file, file, file);
	json_decref(lvd_wait(&d, "g", "[\"stopped\",\"failed\"]", 0));
	text = slurp(file);
	unlink(file);
	ck_assert_ptr_nonnull(text);
	sleeper = (pid_t)atoi(text);
	free(text);
	ck_assert_int_gt(sleeper, 1);
	/* a survivor ends by itself within 2 minutes: the test signals nothing it did not start */
	ck_assert_msg(pid_gone_within(sleeper, 10000), "the worker's background sleep %d outlived it",
	              (int)sleeper);
}
END_TEST

START_TEST(workers_start_with_clean_signals_and_own_group)
{
	pid_t s0, m0;
	char *v;

	lvd_start(&d, "{\"pools\":[{\"name\":\"m\",\"module\":\"ticker\"},"
	              "{\"name\":\"s\",\"exec\":[\"sleep\",\"1000\"]}]}");
	json_decref(lvd_wait(&d, "m", "running", 0));
	json_decref(lvd_wait(&d, "s", "running", 0));
	s0 = lvd_worker_pid(&d, "s:0");
	m0 = lvd_worker_pid(&d, "m:0");
	/* the daemon ignores SIGPIPE; an exec'd program must not inherit that */
	v = proc_field(s0, "SigIgn:");
	ck_assert_str_eq(v, "0000000000000000");
	free(v);
	v = proc_field(s0, "SigBlk:");
	ck_assert_str_eq(v, "0000000000000000");
	free(v);
	/* each worker leads its own session, and so its own process group */
	ck_assert_int_eq(getsid(s0), s0);
	ck_assert_int_eq(getsid(m0), m0);
	ck_assert_int_eq(getpgid(s0), s0);
	ck_assert_int_eq(getpgid(m0), m0);
	/* a module worker's stop signals arrive through handlers: nothing blocked or ignored */
	v = proc_field(m0, "SigBlk:");
	ck_assert_str_eq(v, "0000000000000000");
	free(v);
	v = proc_field(m0, "SigIgn:");
	ck_assert_str_eq(v, "0000000000000000");
	free(v);
}
END_TEST

static unsigned long long sigmask_field(pid_t pid, const char *field)
{
	char *v = proc_field(pid, field);
	unsigned long long mask = strtoull(v, NULL, 16);

	free(v);
	return mask;
}

/* The children of pid: a scan of /proc (no CONFIG_PROC_CHILDREN needed). */
static int children_of(pid_t pid, pid_t *out, int max)
{
	DIR *dir = opendir("/proc");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(dir);
	while ((e = readdir(dir)) && n < max) {
		pid_t p = (pid_t)atoi(e->d_name);
		char path[64], *stat, *end;

		if (p <= 0)
			continue;
		snprintf(path, sizeof path, "/proc/%d/stat", (int)p);
		if (!(stat = slurp(path)))
			continue;
		if ((end = strrchr(stat, ')')) && atoi(end + 4) == pid)
			out[n++] = p;
		free(stat);
	}
	closedir(dir);
	return n;
}

/* What a module job starts by fork+exec, posix_spawn, popen or a plain fork inherits no
 * blocked stop signal, no ignored SIGPIPE and none of the worker's handlers, so a plain
 * kill ends it. */
START_TEST(what_a_job_starts_has_default_signals)
{
	const unsigned long long stop_sigs = 1ULL << (SIGTERM - 1) | 1ULL << (SIGINT - 1) |
	                                     1ULL << (SIGPIPE - 1);
	unsigned long long held[8];
	bool ended[8];
	pid_t kids[8];
	int n;

	lvd_start(&d, "{\"job_path\":[\"%s\"],\"pools\":[{\"name\":\"j\",\"module\":\"lv_testjob\","
	              "\"params\":{\"spawn_children\":true}}]}", lvd_build_path("tests"));
	json_decref(lvd_wait(&d, "j", "running", 0));
	n = children_of(lvd_worker_pid(&d, "j:0"), kids, 8);
	ck_assert_int_eq(n, 4);
	for (int i = 0; i < n; i++) {
		held[i] = (sigmask_field(kids[i], "SigBlk:") | sigmask_field(kids[i], "SigIgn:") |
		           sigmask_field(kids[i], "SigCgt:")) & stop_sigs;
		kill(kids[i], SIGTERM);
	}
	for (int i = 0; i < n; i++)
		if (!(ended[i] = pid_gone_within(kids[i], 5000)))
			kill(kids[i], SIGKILL); /* not left behind when the test fails */
	for (int i = 0; i < n; i++) {
		ck_assert_msg(!held[i], "child %d blocks, ignores or handles signals %llx",
		              (int)kids[i], held[i]);
		ck_assert_msg(ended[i], "child %d ignored SIGTERM", (int)kids[i]);
	}
}
END_TEST

START_TEST(no_worker_survives_kill9_of_the_daemon)
{
	pid_t pids[4];

	lvd_start(&d, "{\"pools\":[{\"name\":\"m\",\"module\":\"ticker\",\"workers\":2},"
	              "{\"name\":\"s\",\"exec\":[\"sleep\",\"1000\"],\"workers\":2}]}");
	json_decref(lvd_wait(&d, "m", "running", 0));
	json_decref(lvd_wait(&d, "s", "running", 0));
	pids[0] = lvd_worker_pid(&d, "m:0");
	pids[1] = lvd_worker_pid(&d, "m:1");
	pids[2] = lvd_worker_pid(&d, "s:0");
	pids[3] = lvd_worker_pid(&d, "s:1");
	kill(d.pid, SIGKILL);
	ck_assert(lvd_wait_exit(&d, 10000));
	for (int i = 0; i < 4; i++)
		ck_assert_msg(pid_gone_within(pids[i], 10000), "worker %d survived", (int)pids[i]);
}
END_TEST

static pid_t ppid_of(pid_t pid)
{
	char *v = proc_field(pid, "PPid:");
	pid_t ppid = (pid_t)atoi(v);

	free(v);
	return ppid;
}

#define USER_POOLS "{\"pools\":[{\"name\":\"m\",\"module\":\"ticker\",\"workers\":2," \
	"\"user\":\"lvt_worker\"},{\"name\":\"s\",\"exec\":[\"sleep\",\"1000\"],\"workers\":2," \
	"\"user\":\"lvt_worker\"}]}"

/* The kernel clears PR_SET_PDEATHSIG when a process changes its credentials: set before the
 * worker became its user, it would be gone. Loop 0: workers from the zygote (which dies
 * with the daemon); loop 1: forked by the daemon itself (LOOPVISOR_NO_ZYGOTE). */
START_TEST(no_worker_of_another_user_survives_kill9_of_the_daemon)
{
	pid_t pids[4];

	if (skip_unless_root(__func__))
		return;
	ensure_user("lvt_worker");
	if (_i == 1)
		lvd_setenv("LOOPVISOR_NO_ZYGOTE=1");
	lvd_start(&d, USER_POOLS);
	json_decref(lvd_wait(&d, "m", "running", 0));
	json_decref(lvd_wait(&d, "s", "running", 0));
	pids[0] = lvd_worker_pid(&d, "m:0");
	pids[1] = lvd_worker_pid(&d, "m:1");
	pids[2] = lvd_worker_pid(&d, "s:0");
	pids[3] = lvd_worker_pid(&d, "s:1");
	for (int i = 0; i < 4; i++) {
		char *uid = proc_field(pids[i], "Uid:");

		ck_assert_int_ne(atoi(uid), 0); /* it changed user: PDEATHSIG was set after */
		free(uid);
	}
	kill(d.pid, SIGKILL);
	ck_assert(lvd_wait_exit(&d, 10000));
	for (int i = 0; i < 4; i++)
		ck_assert_msg(pid_gone_within(pids[i], 10000), "worker %d survived", (int)pids[i]);
}
END_TEST

/* A zygote that dies takes its workers with it, whatever user they run as: they are not
 * left running, reparented to the daemon, while it starts them again. */
START_TEST(no_worker_of_another_user_survives_its_zygote)
{
	pid_t m0, s0, zygote;

	if (skip_unless_root(__func__))
		return;
	ensure_user("lvt_worker");
	lvd_start(&d, USER_POOLS);
	json_decref(lvd_wait(&d, "m", "running", 0));
	json_decref(lvd_wait(&d, "s", "running", 0));
	m0 = lvd_worker_pid(&d, "m:0");
	s0 = lvd_worker_pid(&d, "s:0");
	zygote = ppid_of(m0);
	ck_assert_int_ne(zygote, d.pid);
	kill(zygote, SIGKILL);
	ck_assert_msg(pid_gone_within(m0, 10000), "module worker %d survived its zygote", (int)m0);
	ck_assert_msg(pid_gone_within(s0, 10000), "exec worker %d survived its zygote", (int)s0);
	json_decref(lvd_wait(&d, "m:0", "running", 1));
	json_decref(lvd_wait(&d, "s:0", "running", 1));
}
END_TEST

START_TEST(worker_signal_never_reaches_the_daemon)
{
	json_t *r;
	pid_t m0;

	lvd_start(&d, "{\"pools\":[{\"name\":\"m\",\"module\":\"ticker\",\"workers\":3}]}");
	json_decref(lvd_wait(&d, "m", "running", 0));
	/* SIGTERM to workers stops them gracefully, and only them */
	for (int i = 0; i < 3; i++) {
		char name[16];
		snprintf(name, sizeof name, "m:%d", i);
		m0 = lvd_worker_pid(&d, name);
		kill(m0, SIGTERM);
	}
	r = lvd_wait(&d, "m", "running", 1);
	json_decref(r);
	r = lvd_call(&d, "ping", NULL);
	ck_assert_str_eq(json_string_value(r), "pong");
	json_decref(r);
}
END_TEST

/* Workers come from the zygote, forked when the daemon held nothing; if the zygote dies,
 * its workers die with it, come back to the daemon (a subreaper) to be reaped, and are
 * restarted by the daemon forking them itself, until a new zygote may start (1 s after the
 * first failure). */
START_TEST(workers_come_from_the_zygote_and_survive_its_loss)
{
	pid_t w0, zygote, again;
	char *name;

	lvd_start(&d, "{\"pools\":[{\"name\":\"m\",\"module\":\"ticker\",\"workers\":2},"
	              "{\"name\":\"s\",\"exec\":[\"sleep\",\"1000\"]}]}");
	json_decref(lvd_wait(&d, "m", "running", 0));
	json_decref(lvd_wait(&d, "s", "running", 0));
	w0 = lvd_worker_pid(&d, "m:0");
	zygote = ppid_of(w0);
	ck_assert_int_ne(zygote, d.pid);
	ck_assert_int_eq(ppid_of(zygote), d.pid);
	name = proc_field(zygote, "Name:");
	ck_assert_str_eq(name, "loopvisor-zyg");
	free(name);
	ck_assert_int_eq(ppid_of(lvd_worker_pid(&d, "s:0")), zygote);
	name = proc_field(w0, "Name:"); /* a module worker looks like the daemon, as before */
	ck_assert_str_eq(name, "loopvisord");
	free(name);

	kill(zygote, SIGKILL);
	json_decref(lvd_wait(&d, "m:0", "running", 1));
	json_decref(lvd_wait(&d, "s:0", "running", 1));
	again = lvd_worker_pid(&d, "m:0");
	ck_assert_int_ne(again, w0);
	ck_assert_int_eq(ppid_of(again), d.pid);

	lvd_expect_no_change(&d, "m", "\"failed\"", 1500); /* the daemon times the pause */
	json_decref(lvd_call(&d, "restart", "{\"target\":\"s\"}"));
	again = ppid_of(lvd_worker_pid(&d, "s:0"));
	ck_assert_int_ne(again, d.pid);
	ck_assert_int_ne(again, zygote);
	ck_assert_int_eq(ppid_of(again), d.pid);
	name = proc_field(again, "Name:");
	ck_assert_str_eq(name, "loopvisor-zyg");
	free(name);
}
END_TEST

/* One zygote per LOOPVISOR_ZYGOTE_WORKERS live workers (1000 unless set), so that no
 * zygote's exits and forks cost more as workers are added; losing one zygote costs only
 * its own workers. */
START_TEST(workers_spread_over_zygotes_of_bounded_size)
{
	pid_t parent[7], pid[7], lost;
	int distinct = 0;

	lvd_setenv("LOOPVISOR_ZYGOTE_WORKERS=3");
	lvd_start(&d, "{\"pools\":[{\"name\":\"m\",\"module\":\"ticker\",\"workers\":7}]}");
	json_decref(lvd_wait(&d, "m", "running", 0));
	for (int i = 0; i < 7; i++) {
		char target[16];
		int same = 0;

		snprintf(target, sizeof target, "m:%d", i);
		pid[i] = lvd_worker_pid(&d, target);
		parent[i] = ppid_of(pid[i]);
		ck_assert_int_ne(parent[i], d.pid);
		ck_assert_int_eq(ppid_of(parent[i]), d.pid);
		for (int k = 0; k <= i; k++)
			same += parent[k] == parent[i];
		ck_assert_int_le(same, 3);
		distinct += same == 1;
	}
	ck_assert_int_eq(distinct, 3);

	lost = parent[0];
	kill(lost, SIGKILL);
	json_decref(lvd_wait(&d, "m:0", "running", 1));
	for (int i = 0; i < 7; i++) {
		char target[16];
		json_t *w;

		snprintf(target, sizeof target, "m:%d", i);
		w = lvd_wait(&d, target, "running", parent[i] == lost ? 1 : 0);
		json_decref(w);
		if (parent[i] != lost)
			ck_assert_int_eq(lvd_worker_pid(&d, target), pid[i]);
		else
			ck_assert_int_ne(lvd_worker_pid(&d, target), pid[i]);
	}
}
END_TEST

/* What makes 10,000 workers fit in 20,000 descriptors: a running module worker without
 * captured output costs the daemon its channel and nothing else (the start-error pipe is
 * closed once it runs). */
START_TEST(a_running_module_worker_costs_the_daemon_one_descriptor)
{
	int before, after;

	lvd_start(&d, "{\"pools\":[{\"name\":\"m\",\"module\":\"ticker\",\"workers\":20,"
	              "\"output\":\"null\",\"autostart\":false}]}");
	json_decref(lvd_call(&d, "ping", NULL)); /* our connection is accepted by now */
	before = count_fds(d.pid);
	json_decref(lvd_call(&d, "start", "{\"target\":\"m\"}"));
	after = count_fds(d.pid);
	ck_assert_int_eq(after - before, 20);
}
END_TEST

START_TEST(writable_log_folders_are_refused)
{
	char config[512], log[4096], logs[400];
	int st;

	/* the daemon writes there as root: a folder others can write is refused */
	snprintf(logs, sizeof logs, "/tmp/lvopen.%d", (int)getpid());
	mkdir(logs, 0777);
	chmod(logs, 0777);
	snprintf(config, sizeof config, "{\"logs\":{\"dir\":\"%s\"},\"pools\":[{\"name\":\"a\","
	         "\"exec\":[\"true\"]}]}", logs);
	st = lvd_try_start(&d, config, log, sizeof log);
	rmdir(logs);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	ck_assert_msg(strstr(log, "refusing a folder that is group- or world-writable") != NULL, "%s", log);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("isolation");
	TCase *tc = tcase_create("fork");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, workers_share_no_descriptor_with_the_daemon, 0, 2);
	tcase_add_test(tc, workers_start_with_clean_signals_and_own_group);
	tcase_add_loop_test(tc, a_dead_workers_group_is_killed_at_reap, 0, 2);
	tcase_add_test(tc, what_a_job_starts_has_default_signals);
	tcase_add_test(tc, no_worker_survives_kill9_of_the_daemon);
	tcase_add_loop_test(tc, no_worker_of_another_user_survives_kill9_of_the_daemon, 0, 2);
	tcase_add_test(tc, no_worker_of_another_user_survives_its_zygote);
	tcase_add_test(tc, worker_signal_never_reaches_the_daemon);
	tcase_add_test(tc, workers_come_from_the_zygote_and_survive_its_loss);
	tcase_add_test(tc, workers_spread_over_zygotes_of_bounded_size);
	tcase_add_test(tc, a_running_module_worker_costs_the_daemon_one_descriptor);
	tcase_add_test(tc, writable_log_folders_are_refused);
	suite_add_tcase(su, tc);
	return lvd_run_suite(su);
}
