/* test_stderr: the daemon's stderr and journal as sinks of worker lines: the "stderr" target,
 * std fds closed at start, long lines whole, a stalled stderr reader or journal blocking nothing. */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static struct lvd d;

static void teardown(void)
{
	lvd_stop(&d);
}

/* docs/systemd.md: `"logs": {"target": "stderr"}` keeps the daemon's lines on stderr (with
 * <N> prefixes) even when JOURNAL_STREAM says stderr is the journal, as under systemd. */
START_TEST(logs_target_stderr_wins_over_the_journal_stream)
{
	static const char *const wrap[] = { "sh", "-c", "JOURNAL_STREAM=$(stat -L -c %d:%i "
	                                    "/proc/self/fd/2) exec \"$@\"", "sh", NULL };
	char *log;

	lvd_set_wrapper(wrap);
	lvd_start(&d, "{\"logs\":{\"target\":\"stderr\"},\"pools\":[{\"name\":\"s\","
	              "\"exec\":[\"sh\",\"-c\",\"echo hello from s; exec sleep 1000\"]}]}");
	lvd_set_wrapper(NULL);
	json_decref(lvd_wait(&d, "s", "running", 0));
	json_decref(lvd_call(&d, "ping", NULL));
	log = slurp(d.log);
	ck_assert_ptr_nonnull(log);
	ck_assert_msg(strstr(log, "<6>") && strstr(log, "ready: every worker has started"),
	              "the daemon's lines did not reach stderr: %s", log);
	free(log);
}
END_TEST

/* utime + stime of pid in clock ticks */
static long long cpu_ticks(pid_t pid)
{
	char path[64], *text, *p;
	unsigned long long ut = 0, st = 0;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	text = slurp(path);
	ck_assert_ptr_nonnull(text);
	p = strrchr(text, ')');
	ck_assert_int_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st), 2);
	free(text);
	return (long long)(ut + st);
}

/* Started with 0, 1 and 2 closed, the daemon must not hand them to its own descriptors:
 * libevent's signal pipe there read log lines back as signals ('\n' is SIGUSR1, which logs
 * a line: a busy loop; '\017' is SIGTERM). */
START_TEST(started_with_std_fds_closed)
{
	static const char *const closer[] = { "sh", "-c", "exec \"$@\" <&- >&- 2>&-", "sh", NULL };
	long long t0, t1;

	lvd_set_wrapper(closer);
	lvd_start(&d, "{\"pools\":[{\"name\":\"p\",\"exec\":[\"sh\",\"-c\",\"seq 1 100; "
	              "printf 'bye\\\\017\\\\n'\"],\"restart\":\"never\"}]}");
	lvd_set_wrapper(NULL);
	json_decref(lvd_wait(&d, "p", "stopped", 0));
	t0 = cpu_ticks(d.pid);
	lvd_expect_no_change(&d, "p", "\"running\"", 1000); /* test_ms(1000) of the daemon's life */
	t1 = cpu_ticks(d.pid);
	ck_assert_msg((t1 - t0) * 100000 / (sysconf(_SC_CLK_TCK) * test_ms(1000)) < 30,
	              "the daemon used %lld%% of a core",
	              (t1 - t0) * 100000 / (sysconf(_SC_CLK_TCK) * test_ms(1000)));
	json_decref(lvd_call(&d, "ping", NULL));
	ck_assert_int_eq(kill(d.pid, 0), 0);
}
END_TEST

/* Without logs.dir worker lines go to the daemon's stderr, whole up to the 64 KiB limit. */
START_TEST(long_lines_reach_stderr_whole)
{
	char *log, *at, want[64];
	size_t n;
	const size_t lens[] = { 10000, 65536, 10000 };

	lvd_start(&d, "{\"job_path\":[\"%s\"],\"pools\":[{\"name\":\"w\",\"exec\":[\"sh\",\"-c\","
	              "\"head -c 10000 /dev/zero | tr '\\\\0' y; echo; head -c 65536 /dev/zero | "
	              "tr '\\\\0' z; echo\"],\"restart\":\"never\"},{\"name\":\"m\",\"module\":"
	              "\"lv_testjob\",\"params\":{\"log_long\":10000}}]}", lvd_build_path("tests"));
	json_decref(lvd_wait(&d, "w", "stopped", 0));
	/* a job's lv_log line comes through its channel: once tail has it, the log has it */
	for (bool there = false; !there; poll(NULL, 0, 10)) {
		json_t *r = lvd_call(&d, "tail", "{\"target\":\"m\",\"lines\":5}"), *line;
		size_t i;

		json_array_foreach(json_object_get(r, "lines"), i, line)
			there |= !strncmp(JSTR(line, "text"), "qqq", 3);
		json_decref(r);
	}
	log = slurp(d.log);
	ck_assert_ptr_nonnull(log);
	for (int i = 0; i < 3; i++) {
		snprintf(want, sizeof want, "%s: %c", i < 2 ? "stdout" : "log", "yzq"[i]);
		ck_assert_msg((at = strstr(log, want)) != NULL, "no %s line", want);
		at += strlen(want) - 1;
		n = strspn(at, (char[]){ "yzq"[i], 0 });
		ck_assert_uint_eq(n, lens[i]);
		ck_assert_int_eq(at[n], '\n');
	}
	free(log);
}
END_TEST

/* 100000 lines at once, then a numbered line every 10 ms, to the daemon's stderr or
 * journal (no logs.dir): far more than the daemon keeps for a reader that is behind. */
#define FLOODER "{\"name\":\"chatty\",\"exec\":[\"sh\",\"-c\",\"seq 1 100000; i=0; " \
	"while :; do i=$((i+1)); echo more $i; sleep 0.01; done\"]}"

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Until the daemon has handled the 100000 lines: its ring shows a later one. */
static void wait_until_flood_handled(void)
{
	for (int tries = 0; tries < test_ms(2000); tries++) {
		json_t *r = lvd_call(&d, "tail", "{\"target\":\"chatty\",\"lines\":1}");
		const char *text = JSTR(json_array_get(json_object_get(r, "lines"), 0), "text");
		bool done = text && !strncmp(text, "more ", 5);

		json_decref(r);
		if (done)
			return;
		poll(NULL, 0, 10);
	}
	ck_abort_msg("the daemon did not handle the worker's 100000 lines");
}

/* The control socket answers within 5 s (lvd_call would wait 30). */
static void ping_within_5s(void)
{
	json_t *res = NULL, *err = NULL;

	ck_assert_msg(lv_client_call(d.c, "ping", NULL, 5000, &res, &err) == 0 && res,
	              "no answer to ping within 5 s");
	json_decref(res);
}

static void sigterm_ends_it(void)
{
	ck_assert_int_eq(kill(d.pid, SIGTERM), 0);
	ck_assert_msg(lvd_wait_exit(&d, 15000), "SIGTERM did not end the daemon");
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
}

/* stderr is a pipe nobody reads: the daemon still answers and stops, drops what does not
 * fit, and says how much once the reader reads again. */
START_TEST(a_stalled_stderr_reader_blocks_nothing)
{
	static const char *const to_pipe[] = { "sh", "-c", "exec \"$@\" 2>&9 9>&-", "sh", NULL };
	int p[2], pending = 0;
	char buf[65536], *text = NULL;
	size_t len = 0;
	long long seen = 0, more = 0, dropped = 0;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	fcntl(p[1], F_SETPIPE_SZ, 4096);
	ck_assert_int_eq(dup2(p[1], 9), 9); /* not close-on-exec: the daemon's stderr */
	close(p[1]);
	lvd_set_wrapper(to_pipe);
	lvd_start(&d, "{\"pools\":[" FLOODER "]}");
	lvd_set_wrapper(NULL);
	close(9);
	ping_within_5s();
	wait_until_flood_handled(); /* 8 MiB of lines: most of them dropped */
	ping_within_5s();
	/* read: what was queued arrives, then how many lines were dropped */
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	for (long long until = mono_ms() + test_ms(30000); !dropped && mono_ms() < until;) {
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		ssize_t n;
		char *nl, *at;

		poll(&pfd, 1, 10);
		if ((n = read(p[0], buf, sizeof buf)) <= 0)
			continue;
		text = realloc(text, len + (size_t)n + 1);
		memcpy(text + len, buf, (size_t)n);
		len += (size_t)n;
		text[len] = '\0';
		for (at = text; (nl = strchr(at, '\n')) != NULL; at = nl + 1) {
			char *x, *y;

			*nl = '\0';
			x = strstr(at, "chatty:0[");
			x = x ? strstr(x, "] stdout: ") : NULL;
			y = strstr(at, " log lines dropped");
			if (x && !dropped) {
				seen++;
				if (!strncmp(x + 10, "more ", 5))
					more = atoll(x + 15);
			} else if (y && !dropped) {
				while (y > at && y[-1] >= '0' && y[-1] <= '9')
					y--;
				dropped = atoll(y);
			}
		}
		len -= (size_t)(at - text);
		memmove(text, at, len + 1);
	}
	free(text);
	printf("stalled stderr: %lld worker lines read (up to more %lld), %lld reported dropped\n",
	       seen, more, dropped);
	ck_assert_msg(dropped > 0, "no report of dropped lines (%lld lines read)", seen);
	/* every line before the report was either written or counted */
	ck_assert_msg(seen + dropped >= 100000 + more, "%lld seen + %lld dropped < 100000 + %lld",
	              seen, dropped, more);
	/* stalled again, and full: SIGTERM still works */
	while (ioctl(p[0], FIONREAD, &pending) == 0 && pending < 4000)
		poll(NULL, 0, 10);
	ping_within_5s();
	sigterm_ends_it();
	close(p[0]);
}
END_TEST

/* The journal's socket (libsystemd's, datagrams) blocks once journald falls 10 datagrams
 * behind. In a mount namespace /run/systemd/journal is a folder of ours whose socket
 * nobody reads. */
START_TEST(a_stalled_journal_blocks_nothing)
{
	static const char *const probe[] = { "/usr/bin/unshare", "-m", "true", NULL };
	char jdir[] = "/tmp/lvjournal.XXXXXX", jsock[64], out[256], errs[256], buf[70000];
	const char *ns[] = { "unshare", "-m", "--propagation", "private", "sh", "-c",
	                     "mount -t tmpfs none /run && mkdir -p /run/systemd/journal && "
	                     "mount --bind \"$0\" /run/systemd/journal && exec \"$@\"", jdir, NULL };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int js, reported = 0, received = 0;

	if (run_program(probe, out, sizeof out, errs, sizeof errs) != 0) {
		printf("skipped: no mount namespace here (%s)\n", errs);
		return;
	}
	ck_assert_ptr_nonnull(mkdtemp(jdir));
	snprintf(jsock, sizeof jsock, "%s/socket", jdir);
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", jsock);
	js = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(js, (struct sockaddr *)&sun, sizeof sun), 0);
	lvd_set_wrapper(ns);
	lvd_start(&d, "{\"logs\":{\"target\":\"journal\"},\"pools\":[" FLOODER "]}");
	lvd_set_wrapper(NULL);
	ping_within_5s();
	wait_until_flood_handled(); /* 100000 entries: most of them dropped */
	ping_within_5s();
	/* journald reads again: the daemon says how much it could not send */
	/* ~7000 entries wait in the daemon's 1 MiB; it sends 10 (this socket's queue) per retry */
	for (long long until = mono_ms() + test_ms(60000); !reported && mono_ms() < until;) {
		struct pollfd pfd = { .fd = js, .events = POLLIN };
		ssize_t n;

		poll(&pfd, 1, 10);
		if ((n = recv(js, buf, sizeof buf - 1, MSG_DONTWAIT)) <= 0)
			continue;
		buf[n] = '\0';
		received++;
		reported = strstr(buf, "log lines dropped: the journal did not keep up") != NULL;
	}
	printf("stalled journal: %d entries read before the report of the dropped ones\n", received);
	ck_assert_msg(reported, "no report of dropped journal messages (%d entries read)", received);
	lvd_expect_no_change(&d, "chatty", "\"stopped\"", 200); /* full again */
	ping_within_5s();
	sigterm_ends_it();
	close(js);
	unlink(jsock);
	rmdir(jdir);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("stderr");
	TCase *tc = tcase_create("sinks");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, logs_target_stderr_wins_over_the_journal_stream);
	tcase_add_test(tc, started_with_std_fds_closed);
	tcase_add_test(tc, long_lines_reach_stderr_whole);
	tcase_add_test(tc, a_stalled_stderr_reader_blocks_nothing);
	tcase_add_test(tc, a_stalled_journal_blocks_nothing);
	suite_add_tcase(su, tc);
	return lvd_run_suite(su);
}
