/* test_logs: captured worker output: nothing lost under a flood or a crash, long lines split,
 * size rotation, tail and tail -f, the ring's size, output null and inherit, a slow follower. */
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

static char *log_path(const char *pool, int rotated)
{
	static char path[512];

	if (rotated)
		snprintf(path, sizeof path, "%s/logs/%s.log.%d", d.dir, pool, rotated);
	else
		snprintf(path, sizeof path, "%s/logs/%s.log", d.dir, pool);
	return path;
}

/* Occurrences of needle in the file (a plain scan: strstr under ASan rescans the whole
 * text on every call). */
static int count_lines(const char *path, const char *needle)
{
	char *text = slurp(path);
	size_t len, nlen = strlen(needle);
	int n = 0;

	ck_assert_msg(text != NULL, "no %s", path);
	len = strlen(text);
	for (size_t i = 0; i + nlen <= len; i++)
		if (text[i] == needle[0] && memcmp(text + i, needle, nlen) == 0)
			n++;
	free(text);
	return n;
}

#define LOGS "\"logs\":{\"dir\":\"logs\",\"max_bytes\":%d,\"keep\":2}"

static void start_with(int max_bytes, const char *pools)
{
	char dir[600];

	lvd_start(&d, "{" LOGS ",\"pools\":[%s]}", max_bytes, pools);
	snprintf(dir, sizeof dir, "%s/logs", d.dir);
}

START_TEST(a_flood_loses_nothing)
{
	json_t *r;

	lvd_start(&d, "{" LOGS ",\"pools\":[{\"name\":\"flood\",\"exec\":[\"seq\",\"1\",\"200000\"],"
	              "\"restart\":\"never\"}]}", 0);
	r = lvd_call(&d, "ping", NULL);
	json_decref(r);
	json_decref(lvd_wait(&d, "flood", "stopped", 0));
	ck_assert_int_eq(count_lines(log_path("flood", 0), " flood:0 stdout: "), 200000);
	ck_assert_int_eq(count_lines(log_path("flood", 0), " flood:0 stdout: 200000\n"), 1);
}
END_TEST

/* A worker's last words come before the news of its death, also when a child it left
 * behind keeps its pipes open: the daemon drains them when it reaps, it does not wait for
 * the end of file. The unterminated line can only come out of that drain (or of an end of
 * file that comes after the reap), so its place in the stream decides. */
START_TEST(last_words_before_a_crash_are_kept)
{
	struct lv_client *f;
	json_t *w, *res = NULL, *err = NULL, *n;
	bool said = false, wrote_partial = false;

	start_with(0, "{\"name\":\"c\",\"exec\":[\"sh\",\"-c\",\"sleep 1000 & echo last words; "
	              "printf unterminated >&2; kill -SEGV $$\"],\"restart\":\"never\","
	              "\"autostart\":false}");
	f = lv_client_connect(d.sock);
	ck_assert_int_eq(lv_client_call(f, "subscribe", json_pack("{s:[s], s:s}", "events",
	                                "worker.exited", "target", "c"), 10000, &res, &err), 0);
	json_decref(res);
	ck_assert_int_eq(lv_client_call(f, "tail", json_pack("{s:s, s:i, s:b}", "target", "c",
	                                "lines", 0, "follow", 1), 10000, &res, &err), 0);
	json_decref(res);
	json_decref(lvd_call(&d, "start", "{\"target\":\"c\",\"wait\":false}"));
	while (!JSTR(n = lvd_next_notification(f), "event")) {
		const char *stream = JSTR(n, "stream") ?: "", *text = JSTR(n, "text") ?: "";

		said |= !strcmp(stream, "stdout") && !strcmp(text, "last words");
		wrote_partial |= !strcmp(stream, "stderr") && !strcmp(text, "unterminated");
		json_decref(n);
	}
	ck_assert_str_eq(JSTR(n, "event"), "worker.exited");
	json_decref(n);
	lv_client_close(f);
	ck_assert_msg(said, "the last line came after the worker's exit");
	ck_assert_msg(wrote_partial, "the unterminated line came after the worker's exit");
	w = lvd_wait(&d, "c", "failed", 0);
	ck_assert_str_eq(JSTR(json_object_get(first_worker(w), "last_exit"), "signal"), "SEGV");
	json_decref(w);
	ck_assert_int_eq(count_lines(log_path("c", 0), " c:0 stdout: last words\n"), 1);
	ck_assert_int_eq(count_lines(log_path("c", 0), " c:0 stderr: unterminated\n"), 1);
}
END_TEST

START_TEST(long_lines_are_split)
{
	start_with(0, "{\"name\":\"l\",\"exec\":[\"sh\",\"-c\",\"head -c 150000 /dev/zero | tr '\\\\0' x; "
	              "echo; echo short\"],\"restart\":\"never\"}");
	json_decref(lvd_wait(&d, "l", "stopped", 0));
	/* 65536 + 65536 + 18928 bytes of x, then "short" */
	ck_assert_int_eq(count_lines(log_path("l", 0), " l:0 stdout: "), 4);
	ck_assert_int_eq(count_lines(log_path("l", 0), " l:0 stdout: short\n"), 1);
}
END_TEST

START_TEST(files_rotate_by_size)
{
	struct stat st;

	start_with(4096, "{\"name\":\"r\",\"exec\":[\"seq\",\"1\",\"2000\"],\"restart\":\"never\"}");
	json_decref(lvd_wait(&d, "r", "stopped", 0));
	for (int i = 0; i <= 2; i++) {
		ck_assert_int_eq(stat(log_path("r", i), &st), 0);
		ck_assert_int_le(st.st_size, 4096);
	}
	ck_assert_int_ne(stat(log_path("r", 3), &st), 0);
	/* the newest lines are in the live file */
	ck_assert_int_eq(count_lines(log_path("r", 0), " r:0 stdout: 2000\n"), 1);
}
END_TEST

START_TEST(tail_and_follow)
{
	struct lv_client *f;
	json_t *r, *res = NULL, *err = NULL, *line;

	start_with(0, "{\"name\":\"t\",\"module\":\"ticker\",\"workers\":2,\"params\":{\"interval_ms\":20}}");
	json_decref(lvd_wait(&d, "t", "running", 0));
	f = lv_client_connect(d.sock);
	ck_assert_int_eq(lv_client_call(f, "tail", json_pack("{s:s, s:i, s:b}", "target", "t:1",
	                                "lines", 2, "follow", 1), 10000, &res, &err), 0);
	ck_assert_ptr_nonnull(res);
	json_decref(res);
	line = lvd_next_notification(f);
	ck_assert_str_eq(JSTR(line, "worker"), "t:1");
	ck_assert_str_eq(JSTR(line, "stream"), "log");
	ck_assert_int_eq(strncmp(JSTR(line, "text"), "tick ", 5), 0);
	json_decref(line);
	json_decref(lvd_next_notification(f)); /* t:1 alone has ticked twice more: 3 lines in the pool */
	json_decref(lvd_next_notification(f));
	lv_client_close(f);
	r = lvd_call(&d, "tail", "{\"target\":\"t\",\"lines\":3}");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "lines")), 3);
	ck_assert_int_lt(JINT(json_array_get(json_object_get(r, "lines"), 0), "seq"),
	                 JINT(json_array_get(json_object_get(r, "lines"), 2), "seq"));
	json_decref(r);
	/* SIGUSR1 reopens: after an external rename, new lines land in a new file */
	ck_assert_int_eq(rename(log_path("t", 0), log_path("t", 1)), 0);
	kill(d.pid, SIGUSR1);
	f = lv_client_connect(d.sock);
	ck_assert_int_eq(lv_client_call(f, "tail", json_pack("{s:s, s:i, s:b}", "target", "t",
	                                "lines", 0, "follow", 1), 10000, &res, &err), 0);
	json_decref(res);
	json_decref(lvd_next_notification(f));
	json_decref(lvd_next_notification(f));
	lv_client_close(f);
	ck_assert_int_eq(access(log_path("t", 0), F_OK), 0);
}
END_TEST

/* How many pipes pid holds open (fds whose link reads "pipe:[...]"), or -1. */
static int count_pipes(pid_t pid)
{
	char dir[64], path[400], target[64];
	struct dirent *e;
	DIR *fds;
	int n = 0;

	snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
	if (!(fds = opendir(dir)))
		return -1;
	while ((e = readdir(fds)) != NULL) {
		ssize_t len;

		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if ((len = readlink(path, target, sizeof target - 1)) > 0) {
			target[len] = '\0';
			n += !strncmp(target, "pipe:", 5);
		}
	}
	closedir(fds);
	return n;
}

/* Where descriptor fd of pid leads (a static buffer; "" if it cannot be read). */
static const char *fd_target(pid_t pid, int fd)
{
	static char target[2][256];
	static int turn;
	char path[64];
	char *t = target[turn++ % 2];
	ssize_t len;

	snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)pid, fd);
	len = readlink(path, t, sizeof target[0] - 1);
	t[len > 0 ? len : 0] = '\0';
	return t;
}
/* docs/config.md: `logs.ring_lines`, the last lines kept in memory per worker for `tail`. */
START_TEST(the_ring_keeps_logs_ring_lines)
{
	struct lv_client *f;
	json_t *r, *res = NULL, *err = NULL, *line, *lines;
	bool done = false;
	char want[8];

	lvd_start(&d, "{\"logs\":{\"ring_lines\":5},\"pools\":[{\"name\":\"r\",\"autostart\":false,"
	              "\"exec\":[\"sh\",\"-c\",\"seq 1 20; echo done; exec sleep 1000\"]}]}");
	f = lv_client_connect(d.sock);
	ck_assert_int_eq(lv_client_call(f, "tail", json_pack("{s:s, s:i, s:b}", "target", "r",
	                                "lines", 0, "follow", 1), 10000, &res, &err), 0);
	json_decref(res);
	json_decref(lvd_call(&d, "start", "{\"target\":\"r\",\"wait\":false}"));
	while (!done) { /* every line was read by the daemon once "done" came */
		line = lvd_next_notification(f);
		done = !strcmp(JSTR(line, "text"), "done");
		json_decref(line);
	}
	lv_client_close(f);
	r = lvd_call(&d, "tail", "{\"target\":\"r\",\"lines\":50}");
	lines = json_object_get(r, "lines");
	ck_assert_uint_eq(json_array_size(lines), 5);
	for (int i = 0; i < 4; i++) {
		snprintf(want, sizeof want, "%d", 17 + i);
		ck_assert_str_eq(JSTR(json_array_get(lines, (size_t)i), "text"), want);
	}
	ck_assert_str_eq(JSTR(json_array_get(lines, 4), "text"), "done");
	json_decref(r);
}
END_TEST

/* "output": "null" and "inherit" cost the daemon no pipes: stdout goes to /dev/null or to
 * the daemon's own stderr, while a module's lv_log lines still arrive over its channel. */
START_TEST(output_null_and_inherit_take_no_pipes)
{
	json_t *r;
	char *daemon_log;
	int pipes;

	/* the exec workers write, then exit for good: once stopped, their line was written */
	start_with(0, "{\"name\":\"n\",\"exec\":[\"sh\",\"-c\",\"echo to-null\"],\"restart\":\"never\","
	              "\"output\":\"null\"},"
	              "{\"name\":\"i\",\"exec\":[\"sh\",\"-c\",\"echo inherited-line\"],"
	              "\"restart\":\"never\",\"output\":\"inherit\"},"
	              "{\"name\":\"m\",\"module\":\"ticker\",\"output\":\"null\","
	              "\"params\":{\"interval_ms\":10}},"
	              "{\"name\":\"nl\",\"exec\":[\"sleep\",\"1000\"],\"output\":\"null\"},"
	              "{\"name\":\"il\",\"exec\":[\"sleep\",\"1000\"],\"output\":\"inherit\"}");
	/* the long-lived ones: their stdout and stderr lead where they should, and three more
	 * of each cost the daemon not one pipe */
	json_decref(lvd_wait(&d, "nl", "running", 0));
	json_decref(lvd_wait(&d, "il", "running", 0));
	json_decref(lvd_wait(&d, "m", "running", 0));
	pipes = count_pipes(d.pid);
	ck_assert_int_ge(pipes, 0);
	for (int fd = 1; fd <= 2; fd++) {
		ck_assert_str_eq(fd_target(lvd_worker_pid(&d, "nl:0"), fd), "/dev/null");
		ck_assert_str_eq(fd_target(lvd_worker_pid(&d, "m:0"), fd), "/dev/null");
		ck_assert_str_eq(fd_target(lvd_worker_pid(&d, "il:0"), fd), fd_target(d.pid, 2));
	}
	json_decref(lvd_call(&d, "scale", "{\"pool\":\"nl\",\"workers\":4}"));
	json_decref(lvd_call(&d, "scale", "{\"pool\":\"il\",\"workers\":4}"));
	json_decref(lvd_call(&d, "scale", "{\"pool\":\"m\",\"workers\":4}"));
	json_decref(lvd_wait(&d, "nl", "running", 0));
	json_decref(lvd_wait(&d, "il", "running", 0));
	json_decref(lvd_wait(&d, "m", "running", 0));
	ck_assert_int_eq(count_pipes(d.pid), pipes);
	json_decref(lvd_wait(&d, "n", "stopped", 0));
	json_decref(lvd_wait(&d, "i", "stopped", 0));
	json_decref(lvd_wait(&d, "m", "running", 0));
	{ /* the ticker's lines come through the channel: wait for one */
		struct lv_client *f = lv_client_connect(d.sock);
		json_t *res = NULL, *err = NULL, *line;

		ck_assert_int_eq(lv_client_call(f, "tail", json_pack("{s:s, s:i, s:b}", "target", "m",
		                                "lines", 0, "follow", 1), 10000, &res, &err), 0);
		json_decref(res);
		line = lvd_next_notification(f);
		ck_assert_str_eq(JSTR(line, "stream"), "log");
		json_decref(line);
		lv_client_close(f);
	}
	r = lvd_call(&d, "tail", "{\"target\":\"n\"}");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "lines")), 0);
	json_decref(r);
	ck_assert_int_eq(count_lines(log_path("n", 0), "to-null"), 0);
	daemon_log = slurp(d.log);
	ck_assert_msg(daemon_log && strstr(daemon_log, "inherited-line\n"), "%s", daemon_log);
	free(daemon_log);
}
END_TEST

/* The follower's socket holds almost nothing and it reads nothing: the worker writes its
 * 300000 lines to the end all the same. Once it reads, every line is either there, in
 * order, or counted in a {"skipped": N} notice. */
START_TEST(a_slow_follower_skips_lines_and_never_slows_the_worker)
{
	struct lv_client *f;
	json_t *res = NULL, *err = NULL;
	int small = 4096;
	long long received = 0, skipped = 0, last = 0, notices = 0;

	start_with(0, "{\"name\":\"flood\",\"exec\":[\"seq\",\"1\",\"300000\"],\"restart\":\"never\","
	              "\"autostart\":false},{\"name\":\"calm\",\"module\":\"ticker\"}");
	f = lv_client_connect(d.sock);
	setsockopt(lv_client_fd(f), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
	ck_assert_int_eq(lv_client_call(f, "tail", json_pack("{s:s, s:i, s:b}", "target", "flood",
	                                "lines", 0, "follow", 1), 10000, &res, &err), 0);
	json_decref(res);
	json_decref(lvd_call(&d, "start", "{\"target\":\"flood\",\"wait\":false}"));
	/* far more than the pipe, the follower's queue and its socket can hold */
	json_decref(lvd_wait(&d, "flood", "stopped", 0));
	ck_assert_int_eq(count_lines(log_path("flood", 0), " flood:0 stdout: "), 300000);
	json_decref(lvd_wait(&d, "calm", "running", 0));
	while (received + skipped < 300000) {
		char *line = lv_client_read_line(f, 20000);
		json_t *msg, *params;

		ck_assert_msg(line != NULL, "after %lld lines and %lld skipped, nothing more", received,
		              skipped);
		msg = json_loads(line, 0, NULL);
		free(line);
		params = json_object_get(msg, "params");
		ck_assert_str_eq(JSTR(msg, "method"), "log");
		if (json_object_get(params, "skipped")) {
			skipped += JINT(params, "skipped");
			notices++;
		} else {
			long long n = atoll(JSTR(params, "text"));

			ck_assert_int_gt(n, last); /* in order, nothing twice */
			last = n;
			received++;
		}
		json_decref(msg);
	}
	printf("slow follower: %lld lines received, %lld skipped (%lld notices)\n", received,
	       skipped, notices);
	ck_assert_int_eq(received + skipped, 300000);
	ck_assert_int_gt(skipped, 0);
	ck_assert_int_gt(notices, 0);
	lv_client_close(f);
}
END_TEST

/* Follows pool p until n of its workers said "done". */
static void until_done(const char *pool, int n, const char *start_method, const char *params)
{
	struct lv_client *f = lv_client_connect(d.sock);
	json_t *res = NULL, *err = NULL, *line;

	ck_assert_int_eq(lv_client_call(f, "tail", json_pack("{s:s, s:i, s:b}", "target", pool,
	                                "lines", 0, "follow", 1), 10000, &res, &err), 0);
	json_decref(res);
	json_decref(lvd_call(&d, start_method, "%s", params));
	while (n > 0) {
		line = lvd_next_notification(f);
		n -= !strcmp(JSTR(line, "text"), "done");
		json_decref(line);
	}
	lv_client_close(f);
}

/* Counts the lines of tail POOL marked removed, and checks they all come from `from`. */
static int removed_lines(const char *target, const char *from, json_int_t *first_seq)
{
	json_t *r = lvd_call(&d, "tail", "{\"target\":\"%s\",\"lines\":50}", target), *l;
	size_t i;
	int n = 0;

	json_array_foreach(json_object_get(r, "lines"), i, l) {
		if (!json_is_true(json_object_get(l, "removed")))
			continue;
		ck_assert_str_eq(JSTR(l, "worker"), from);
		if (n++ == 0)
			*first_seq = JINT(l, "seq");
	}
	json_decref(r);
	return n;
}

/* A worker scaled away keeps its last lines readable in tail POOL, marked removed, until
 * the pool's ring of such lines (logs.ring_lines) wraps. */
START_TEST(a_scaled_away_workers_lines_stay_in_tail)
{
	char out[8192], err[1024];
	const char *argv[] = { lvd_build_path("bin/loopvisorctl"), "-s", d.sock, "tail", "s", NULL };
	json_int_t first, second;

	lvd_start(&d, "{\"logs\":{\"ring_lines\":4},\"pools\":[{\"name\":\"s\",\"workers\":2,"
	              "\"autostart\":false,\"exec\":[\"sh\",\"-c\","
	              "\"echo a; echo b; echo c; echo done; exec sleep 1000\"]}]}");
	until_done("s", 2, "start", "{\"target\":\"s\",\"wait\":false}");
	json_decref(lvd_call(&d, "scale", "{\"pool\":\"s\",\"workers\":1}"));
	ck_assert_int_eq(removed_lines("s", "s:1", &first), 4);
	ck_assert_int_eq(removed_lines("s:0", "-", &first), 0); /* a worker's own tail: its own */
	argv[2] = d.sock;
	ck_assert_int_eq(run_program(argv, out, sizeof out, err, sizeof err), 0);
	ck_assert_msg(strstr(out, " s:1 (removed) stdout: done\n"), "%s", out);
	/* a second s:1 comes and goes: the ring of 4 holds its lines now */
	until_done("s", 1, "scale", "{\"pool\":\"s\",\"workers\":2}");
	json_decref(lvd_call(&d, "scale", "{\"pool\":\"s\",\"workers\":1}"));
	ck_assert_int_eq(removed_lines("s", "s:1", &second), 4);
	ck_assert_int_gt(second, first);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("logs");
	TCase *tc = tcase_create("capture");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, a_flood_loses_nothing);
	tcase_add_test(tc, last_words_before_a_crash_are_kept);
	tcase_add_test(tc, long_lines_are_split);
	tcase_add_test(tc, files_rotate_by_size);
	tcase_add_test(tc, tail_and_follow);
	tcase_add_test(tc, the_ring_keeps_logs_ring_lines);
	tcase_add_test(tc, a_scaled_away_workers_lines_stay_in_tail);
	tcase_add_test(tc, output_null_and_inherit_take_no_pipes);
	tcase_add_test(tc, a_slow_follower_skips_lines_and_never_slows_the_worker);
	suite_add_tcase(su, tc);
	return lvd_run_suite(su);
}
