/* test_pidreuse: no signal of the daemon reaches a process that got a worker's pid after the
 * worker was reaped; raced for real in a PID namespace with a small pid_max. */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* Pids of a namespace wrap around to 300 (the kernel's RESERVED_PIDS): with a pid_max of
 * 400 a freed pid of 300 or more comes back within about 100 forks. */
#define NS_PID_MAX 400
#define NS_PID_MIN 300
#define MAX_FORKS 3000
#define SET_PID_MAX "echo 400 > /proc/sys/kernel/pid_max" /* NS_PID_MAX */

static struct lvd d;

/* The daemon as PID 1 of a new PID namespace, whose pid_max its first process lowers */
static const char *in_small_namespace[] = {
	"unshare", "--pid", "--fork", "--mount-proc", "sh", "-c",
	SET_PID_MAX " && exec \"$0\" \"$@\"", NULL
};

static void teardown(void)
{
	/* The harness remembers worker groups by the pids the daemon reports: here those are
	 * namespace pids, which name other processes on the host. Nothing of them is killed. */
	d.n_groups = 0;
	lvd_set_wrapper(NULL);
	lvd_stop(&d);
}

/* Root, unshare and a per-namespace pid_max (Linux 6.14): true if this test can run. */
static bool can_run(void)
{
	const char *probe[] = { "/usr/bin/unshare", "--pid", "--fork", "--mount-proc", "sh", "-c",
	                        SET_PID_MAX, NULL };
	char out[256], err[256];

	if (geteuid() != 0) {
		printf("SKIP: pid reuse in a PID namespace needs root\n");
		return false;
	}
	if (access(probe[0], X_OK) != 0 || run_program(probe, out, sizeof out, err, sizeof err) != 0) {
		printf("SKIP: no PID namespace with its own pid_max here: %s\n", err);
		return false;
	}
	return true;
}

/* A process's state letter and parent from /proc/PID/stat; false if it is gone. */
static bool proc_stat(pid_t pid, char *state, pid_t *ppid)
{
	char path[64], *text, *p;
	int parent;
	bool ok;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	ok = (text = slurp(path)) && (p = strrchr(text, ')')) &&
	     sscanf(p + 2, "%c %d", state, &parent) == 2;
	free(text);
	*ppid = ok ? parent : 0;
	return ok;
}

/* The host pid of the process whose parent is ppid (the daemon under unshare). */
static pid_t child_of(pid_t ppid)
{
	DIR *proc = opendir("/proc");
	struct dirent *e;
	pid_t found = 0, parent;
	char state;

	while (proc && !found && (e = readdir(proc)))
		if (atoi(e->d_name) > 0 && proc_stat(atoi(e->d_name), &state, &parent) && parent == ppid)
			found = atoi(e->d_name);
	if (proc)
		closedir(proc);
	return found;
}

/* Waits (1 ms steps, bounded) for pid's state letter, e.g. T once SIGSTOP took hold. */
static void wait_state(pid_t pid, char want)
{
	char state = '?';
	pid_t parent;

	for (int i = 0; i < test_ms(20000); i++) {
		struct timespec ts = { 0, 1000000 };

		if (proc_stat(pid, &state, &parent) && state == want)
			return;
		nanosleep(&ts, NULL);
	}
	ck_abort_msg("pid %d never got to state %c (%c)", (int)pid, want, state);
}

/* The innermost pid of a /proc/PID/status text: the last number of its NSpid line. */
static pid_t innermost_pid(const char *status)
{
	const char *p = strstr(status, "NSpid:");
	long last = 0;
	char *end;

	for (p = p ? p + 6 : NULL; p && *p && *p != '\n'; p = end) {
		long v = strtol(p, &end, 10);

		if (end == p)
			break;
		last = v;
	}
	return (pid_t)last;
}

/* The host pid of the process that is nspid in the namespace of host process `in`. */
static pid_t host_pid(pid_t in, pid_t nspid)
{
	char ns[64], link[64], path[300], *status;
	DIR *proc = opendir("/proc");
	struct dirent *e;
	pid_t found = 0;
	ssize_t n;

	snprintf(path, sizeof path, "/proc/%d/ns/pid", (int)in);
	ck_assert_int_gt(n = readlink(path, ns, sizeof ns - 1), 0);
	ns[n] = '\0';
	while (proc && !found && (e = readdir(proc))) {
		if (atoi(e->d_name) <= 0)
			continue;
		snprintf(path, sizeof path, "/proc/%s/ns/pid", e->d_name);
		if ((n = readlink(path, link, sizeof link - 1)) <= 0)
			continue;
		link[n] = '\0';
		snprintf(path, sizeof path, "/proc/%s/status", e->d_name);
		if (strcmp(link, ns) != 0 || !(status = slurp(path)))
			continue;
		if (innermost_pid(status) == nspid)
			found = atoi(e->d_name);
		free(status);
	}
	if (proc)
		closedir(proc);
	return found;
}

/* Processes forked inside the daemon's namespace, one after the other, each gone at once,
 * until one gets a namespace pid of at least `want` (CYCLE_PAST), or exactly `want`
 * (CYCLE_TO: the next process the namespace forks then gets want + 1 if it is free), or
 * exactly `want` and stays (CYCLE_KEEP): that one leads its own group, blocks every signal
 * it can (what reaches it stays pending, to be read in /proc) and waits for SIGKILL. */
enum cycle_mode { CYCLE_PAST, CYCLE_TO, CYCLE_KEEP };

struct cycler {
	pid_t pid;    /* the forking process (ours, host pid) */
	pid_t victim; /* CYCLE_KEEP: its child that got the pid (host pid), or 0 */
	int done;     /* closed to end both */
};

static bool reached(enum cycle_mode mode, pid_t nspid, pid_t want)
{
	return mode == CYCLE_PAST ? nspid >= want : nspid == want;
}

static _Noreturn void child_of_cycler(enum cycle_mode mode, pid_t want, int verdict)
{
	pid_t nspid = getpid();
	sigset_t all;

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	if (write(verdict, &nspid, sizeof nspid) != sizeof nspid || mode != CYCLE_KEEP ||
	    nspid != want)
		_exit(0);
	setpgid(0, 0);
	for (;;)
		pause();
}

static _Noreturn void cycle(int ns, enum cycle_mode mode, pid_t want, int report, int done)
{
	int verdict[2];
	pid_t none = 0;
	char c;

	if (setns(ns, CLONE_NEWPID) < 0 || pipe(verdict) < 0)
		_exit(2);
	for (int i = 0; i < (mode == CYCLE_KEEP ? MAX_FORKS / 3 : MAX_FORKS); i++) {
		pid_t nspid, child = fork();

		if (child == 0)
			child_of_cycler(mode, want, verdict[1]);
		if (child < 0 || read(verdict[0], &nspid, sizeof nspid) != sizeof nspid)
			_exit(3);
		if (mode != CYCLE_KEEP || nspid != want)
			waitpid(child, NULL, 0);
		if (!reached(mode, nspid, want))
			continue;
		if (mode == CYCLE_KEEP) {
			if (write(report, &child, sizeof child) != sizeof child)
				_exit(4);
			while (read(done, &c, 1) > 0)
				;
			kill(child, SIGKILL);
			waitpid(child, NULL, 0);
		}
		_exit(0);
	}
	if (write(report, &none, sizeof none) != sizeof none)
		_exit(5);
	_exit(mode == CYCLE_KEEP ? 0 : 6);
}

static struct cycler cycler_start(pid_t daemon, enum cycle_mode mode, pid_t want)
{
	char path[64];
	int report[2], done[2], ns;
	struct cycler c = { 0, 0, -1 };

	snprintf(path, sizeof path, "/proc/%d/ns/pid", (int)daemon);
	ck_assert_int_ge(ns = open(path, O_RDONLY | O_CLOEXEC), 0);
	ck_assert_int_eq(pipe(report), 0);
	ck_assert_int_eq(pipe(done), 0);
	c.pid = fork();
	ck_assert_int_ge(c.pid, 0);
	if (c.pid == 0) {
		close(report[0]);
		close(done[1]);
		cycle(ns, mode, want, report[1], done[0]);
	}
	close(ns);
	close(report[1]);
	close(done[0]);
	c.done = done[1];
	if (mode == CYCLE_KEEP && read(report[0], &c.victim, sizeof c.victim) != sizeof c.victim)
		c.victim = 0;
	close(report[0]);
	return c;
}

/* Ends the cycler (and its victim); its exit status. */
static int cycler_end(struct cycler *c)
{
	int status = -1;

	close(c->done);
	waitpid(c->pid, &status, 0);
	return status;
}

static void cycle_once(pid_t daemon, enum cycle_mode mode, pid_t want)
{
	struct cycler c = cycler_start(daemon, mode, want);

	ck_assert_msg(cycler_end(&c) == 0, "no process of the namespace got pid %d", (int)want);
}

/* Is sig pending for pid (sent to the process or to its thread)? */
static bool signal_pending(pid_t pid, int sig)
{
	char path[64], *status, *p;
	unsigned long long shd = 0, own = 0;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	status = slurp(path);
	ck_assert_ptr_nonnull(status);
	if ((p = strstr(status, "ShdPnd:")))
		shd = strtoull(p + 7, NULL, 16);
	if ((p = strstr(status, "SigPnd:")))
		own = strtoull(p + 7, NULL, 16);
	free(status);
	return ((shd | own) >> (sig - 1)) & 1;
}

/* The daemon in a namespace with a small pid_max, pool w of `sleep` workers, w:0 running
 * with a pid the namespace hands out again once it wraps: that pid. */
static pid_t start_in_namespace(bool zygote, pid_t *daemon, pid_t *worker)
{
	pid_t nspid;

	if (!zygote)
		lvd_setenv("LOOPVISOR_NO_ZYGOTE=1");
	lvd_set_wrapper(in_small_namespace);
	lvd_start(&d, "{\"pools\":[{\"name\":\"w\",\"exec\":[\"sleep\",\"1000\"],\"workers\":0}]}");
	ck_assert_int_gt(*daemon = child_of(d.pid), 0);
	cycle_once(*daemon, CYCLE_PAST, NS_PID_MAX - 30);
	json_decref(lvd_call(&d, "scale", "{\"pool\":\"w\",\"workers\":1}"));
	json_decref(lvd_wait(&d, "w:0", "running", 0));
	nspid = lvd_worker_pid(&d, "w:0");
	ck_assert_int_ge(nspid, NS_PID_MIN);
	ck_assert_int_gt(*worker = host_pid(*daemon, nspid), 0);
	return nspid;
}

/* A second connection, accepted already, for requests sent while the daemon is stopped. */
static struct lv_client *connect_raw(void)
{
	const char *ping = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}";
	struct lv_client *c = lv_client_connect(d.sock);
	char *reply;

	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(lv_client_send_line(c, ping, strlen(ping)), 0);
	ck_assert_ptr_nonnull(reply = lv_client_read_line(c, 20000));
	free(reply);
	return c;
}

static void send_request(struct lv_client *c, const char *method, const char *params)
{
	char line[256];

	snprintf(line, sizeof line, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"%s\",\"params\":%s}",
	         method, params);
	ck_assert_int_eq(lv_client_send_line(c, line, strlen(line)), 0);
}

static void expect_result(struct lv_client *c, const char *method)
{
	char *reply = lv_client_read_line(c, 20000);

	ck_assert_msg(reply && strstr(reply, "\"result\""), "%s: %s", method, reply ? reply : "no reply");
	free(reply);
}

/* Waits (bounded) until host pid is reaped: /proc keeps zombies. */
static void wait_reaped(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof path, "/proc/%d", (int)pid);
	for (int i = 0; i < test_ms(20000) && access(path, F_OK) == 0; i++)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	ck_assert_msg(access(path, F_OK) != 0, "pid %d was never reaped", (int)pid);
}

/* The race of issue 11 item 24, held open by construction: the daemon is stopped, a
 * `method` request for the worker waits in its socket, the worker is killed and reaped by
 * its zygote, and a process of the test gets its pid; only then does the daemon run again,
 * and it reads the request before the zygote's news of the exit. */
static void race(const char *method, const char *params, int sig, bool zygote)
{
	struct lv_client *c;
	struct cycler cyc;
	pid_t daemon, nspid, worker;

	nspid = start_in_namespace(zygote, &daemon, &worker);
	c = connect_raw();
	kill(daemon, SIGSTOP);
	wait_state(daemon, 'T');
	send_request(c, method, params);
	kill(worker, SIGKILL);
	cyc = cycler_start(daemon, CYCLE_KEEP, nspid);
	if (zygote)
		ck_assert_msg(cyc.victim > 0, "pid %d never came back", (int)nspid);
	else /* the daemon reaps what it forked itself, and it is stopped: the pid stays taken */
		ck_assert_msg(cyc.victim == 0, "pid %d was reused before the daemon reaped it",
		              (int)nspid);
	kill(daemon, SIGCONT);
	expect_result(c, method);
	if (cyc.victim > 0)
		ck_assert_msg(!signal_pending(cyc.victim, sig),
		              "%s of the dead worker reached the process that got its pid", method);
	ck_assert_int_eq(cycler_end(&cyc), 0);
	lv_client_close(c);
	/* the daemon heard of the exit after all: a signal's worker restarts, a stop's stays down */
	if (strcmp(method, "stop"))
		json_decref(lvd_wait(&d, "w:0", "running", 1));
	else
		json_decref(lvd_wait(&d, "w:0", "stopped", 0));
}

START_TEST(signal_to_a_worker_reaped_by_its_zygote_reaches_no_one_else)
{
	if (can_run())
		race("signal", "{\"target\":\"w:0\",\"signal\":\"USR1\"}", SIGUSR1, true);
}
END_TEST

START_TEST(stop_of_a_worker_reaped_by_its_zygote_reaches_no_one_else)
{
	if (can_run())
		race("stop", "{\"target\":\"w:0\"}", SIGTERM, true);
}
END_TEST

START_TEST(a_worker_the_daemon_forked_keeps_its_pid_until_the_daemon_reaps_it)
{
	if (can_run())
		race("signal", "{\"target\":\"w:0\",\"signal\":\"USR1\"}", SIGUSR1, false);
}
END_TEST

/* The zygote reports w:0's exit, and forks w:1 with the same pid, before the daemon reads
 * the report: the exit is still w:0's, and w:1 is not taken for dead (nor w:0 for alive,
 * its stale pid then naming w:1). */
START_TEST(an_exit_belongs_to_the_worker_that_had_the_pid_not_to_its_successor)
{
	struct lv_client *c;
	pid_t daemon, nspid, worker;
	json_t *w;

	if (!can_run())
		return;
	nspid = start_in_namespace(true, &daemon, &worker);
	c = connect_raw();
	kill(daemon, SIGSTOP);
	wait_state(daemon, 'T');
	send_request(c, "scale", "{\"pool\":\"w\",\"workers\":2,\"wait\":false}");
	kill(worker, SIGKILL);
	wait_reaped(worker);
	cycle_once(daemon, CYCLE_TO, nspid - 1); /* the next fork in the namespace gets nspid */
	kill(daemon, SIGCONT);
	expect_result(c, "scale");
	lv_client_close(c);
	json_decref(lvd_wait(&d, "w:1", "running", 0));
	w = lvd_worker(&d, "w:1");
	ck_assert_msg(JINT(w, "restarts") == 0 && JINT(w, "pid") == nspid,
	              "w:1 got pid %d, then was taken for dead (now pid %d, %d restarts): the exit "
	              "of w:0 went to it", (int)nspid, (int)JINT(w, "pid"), (int)JINT(w, "restarts"));
	json_decref(w);
	json_decref(lvd_call(&d, "wait", "{\"target\":\"w:0\",\"state\":\"running\",\"restarts\":1,"
	                                 "\"timeout_ms\":5000}"));
	ck_assert_int_ne(lvd_worker_pid(&d, "w:0"), nspid);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("pidreuse");
	TCase *tc = tcase_create("namespace");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, signal_to_a_worker_reaped_by_its_zygote_reaches_no_one_else);
	tcase_add_test(tc, stop_of_a_worker_reaped_by_its_zygote_reaches_no_one_else);
	tcase_add_test(tc, a_worker_the_daemon_forked_keeps_its_pid_until_the_daemon_reaps_it);
	tcase_add_test(tc, an_exit_belongs_to_the_worker_that_had_the_pid_not_to_its_successor);
	suite_add_tcase(su, tc);
	return lvd_run_suite(su);
}
