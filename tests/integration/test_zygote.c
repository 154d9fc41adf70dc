/* test_zygote: the daemon never waits for a zygote. A stopped zygote holds up nothing but
 * its own answers, is killed once it owes one for too long, and its requests go elsewhere;
 * one that wakes up forks what it was asked, signals asked for meanwhile included; a burst
 * of 2,000 spawns is forked by zygotes, none by the daemon; ps tells zygotes and workers
 * apart. */
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

static pid_t ppid_of(pid_t pid)
{
	return (pid_t)proc_status_value(pid, "PPid:");
}

/* The daemon's children that are zygotes; returns how many (at most max). */
static int zygotes_of(pid_t daemon, pid_t *out, int max)
{
	char path[64], *text, *save = NULL;
	int n = 0;

	snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)daemon, (int)daemon);
	ck_assert_ptr_nonnull(text = slurp(path));
	for (char *tok = strtok_r(text, " \n", &save); tok && n < max;
	     tok = strtok_r(NULL, " \n", &save)) {
		char comm[64], *name;

		snprintf(comm, sizeof comm, "/proc/%s/comm", tok);
		if ((name = slurp(comm)) && strncmp(name, "loopvisor-zyg", 13) == 0)
			out[n++] = (pid_t)atoi(tok);
		free(name);
	}
	free(text);
	return n;
}

/* The zygote that forked pool z's worker: by then it surely runs as one. */
static pid_t the_zygote(void)
{
	pid_t z;

	json_decref(lvd_wait(&d, "z", "running", 0));
	z = ppid_of(lvd_worker_pid(&d, "z:0"));
	ck_assert_int_ne(z, d.pid);
	return z;
}

static void send_line(struct lv_client *c, const char *line)
{
	ck_assert_int_eq(lv_client_send_line(c, line, strlen(line)), 0);
}

/* The reply to a request sent with send_line: its result's worker names, as one string. */
static void expect_workers_reply(struct lv_client *c, const char *names)
{
	char *line = lv_client_read_line(c, test_ms(20000));
	json_t *msg, *list;
	char got[256] = "";
	size_t i;
	json_t *v;

	ck_assert_ptr_nonnull(line);
	ck_assert_ptr_nonnull(msg = json_loads(line, 0, NULL));
	free(line);
	list = json_object_get(json_object_get(msg, "result"), "workers");
	ck_assert_msg(json_is_array(list), "no workers in the reply");
	json_array_foreach(list, i, v) {
		strcat(got, i ? " " : "");
		strncat(got, json_string_value(v), 32);
	}
	ck_assert_str_eq(got, names);
	json_decref(msg);
}

/* Pool w to start, and pool z whose running worker shows the zygote. */
#define SLEEPERS(n, extra) \
	"{\"pools\":[{\"name\":\"z\",\"exec\":[\"sleep\",\"1000\"]}," \
	"{\"name\":\"w\",\"exec\":[\"sleep\",\"1000\"],\"workers\":" #n "," \
	"\"autostart\":false" extra "}]}"

/* With the old request that waited for its answer, every request waited as long as the
 * stuck zygote was given (test_ms(6000)) per spawn; now they are answered at once, and the
 * zygote is killed once that time is over: the daemon forks the workers itself meanwhile
 * (its backoff after a zygote failed). */
START_TEST(a_stuck_zygote_holds_up_nothing_else)
{
	struct lv_client *starter, *other;
	json_t *r = NULL, *err = NULL, *w;
	char env[64], line[256];
	pid_t zygote;

	snprintf(env, sizeof env, "LOOPVISOR_ZYGOTE_REPLY_MS=%d", test_ms(6000));
	lvd_setenv(env);
	lvd_start(&d, SLEEPERS(3, ""));
	zygote = the_zygote();
	ck_assert_int_eq(kill(zygote, SIGSTOP), 0);
	ck_assert_ptr_nonnull(starter = lv_client_connect(d.sock));
	ck_assert_ptr_nonnull(other = lv_client_connect(d.sock));
	/* longer than the zygote is given (stretched alike under valgrind) */
	snprintf(line, sizeof line, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"start\","
	         "\"params\":{\"target\":\"w\",\"timeout_ms\":%d}}", test_ms(60000));
	send_line(starter, line);
	/* the start, read before or after this, must not hold the loop up */
	ck_assert_int_eq(lv_client_call(other, "wait", json_pack("{s:s, s:s, s:i}", "target", "w",
	                                "state", "starting", "timeout_ms", test_ms(2000)),
	                                test_ms(2000), &r, &err), 0);
	json_decref(r);
	ck_assert_int_eq(lv_client_call(other, "ping", NULL, test_ms(2000), &r, &err), 0);
	json_decref(r);
	w = lvd_worker(&d, "w:0");
	ck_assert_str_eq(JSTR(w, "state"), "starting");
	ck_assert(json_is_null(json_object_get(w, "pid"))); /* asked for, not forked */
	json_decref(w);

	json_decref(lvd_wait(&d, "w", "running", 0));
	expect_workers_reply(starter, "w:0 w:1 w:2");
	ck_assert(pid_gone_within(zygote, 10000));
	for (int i = 0; i < 3; i++) {
		char target[8];

		snprintf(target, sizeof target, "w:%d", i);
		ck_assert_int_eq(ppid_of(lvd_worker_pid(&d, target)), d.pid);
	}
	lv_client_close(other);
	lv_client_close(starter);
}
END_TEST

/* The requests wait in the zygote's socket; a stop asked for meanwhile is sent to the
 * process as soon as its pid is known, so it needs no stop timeout (60 s here) to end. A
 * start without wait answers once the processes exist: their pids show. */
START_TEST(a_zygote_that_wakes_up_forks_what_it_was_asked)
{
	struct lv_client *starter;
	pid_t zygote;
	json_t *w, *r;

	lvd_start(&d, SLEEPERS(3, ",\"stop_timeout_ms\":60000"));
	zygote = the_zygote();
	ck_assert_int_eq(kill(zygote, SIGSTOP), 0);
	ck_assert_ptr_nonnull(starter = lv_client_connect(d.sock));
	send_line(starter, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"start\","
	                   "\"params\":{\"target\":\"w\",\"wait\":false}}");
	json_decref(lvd_wait(&d, "w", "starting", 0));
	json_decref(lvd_call(&d, "stop", "{\"target\":\"w:2\",\"wait\":false}"));
	w = lvd_worker(&d, "w:2");
	ck_assert_str_eq(JSTR(w, "state"), "stopping");
	ck_assert(json_is_null(json_object_get(w, "pid")));
	json_decref(w);
	ck_assert_int_eq(kill(zygote, SIGCONT), 0);

	expect_workers_reply(starter, "w:0 w:1 w:2");
	for (int i = 0; i < 2; i++) { /* the reply came with their pids */
		char target[8];

		snprintf(target, sizeof target, "w:%d", i);
		w = lvd_worker(&d, target);
		ck_assert(json_is_integer(json_object_get(w, "pid")));
		json_decref(w);
	}
	json_decref(lvd_wait(&d, "w:0", "running", 0));
	json_decref(lvd_wait(&d, "w:1", "running", 0));
	ck_assert_int_eq(ppid_of(lvd_worker_pid(&d, "w:0")), zygote);
	ck_assert_int_eq(ppid_of(lvd_worker_pid(&d, "w:1")), zygote);
	r = lvd_wait(&d, "w:2", "stopped", 0);
	ck_assert_str_eq(JSTR(json_object_get(first_worker(r), "last_exit"), "signal"), "TERM");
	json_decref(r);
	lv_client_close(starter);
}
END_TEST

/* Spawns are sent as the zygotes have room, never handed to the daemon because a zygote's
 * socket was full: every worker of a burst has a zygote for parent, 1,000 per zygote. */
START_TEST(a_burst_of_spawns_is_forked_by_zygotes_only)
{
	int n = lvd_under_valgrind() ? 200 : 2000, parents[2] = { 0, 0 };
	pid_t zygotes[8], pid;
	json_t *r, *ws, *w;
	char env[64];
	size_t i;

	if (n < 2000)
		printf("a_burst_of_spawns: %d workers, not 2000, under valgrind\n", n);
	snprintf(env, sizeof env, "LOOPVISOR_ZYGOTE_WORKERS=%d", n / 2);
	lvd_setenv(env);
	lvd_start(&d, "{\"pools\":[{\"name\":\"w\",\"exec\":[\"sleep\",\"1000\"],\"workers\":%d,"
	              "\"autostart\":false,\"output\":\"null\"}]}", n);
	json_decref(lvd_call(&d, "start", "{\"target\":\"w\",\"timeout_ms\":%d}", test_ms(120000)));
	ck_assert_int_eq(zygotes_of(d.pid, zygotes, 8), 2);
	r = lvd_call(&d, "status", "{\"target\":\"w\"}");
	ws = json_object_get(r, "workers");
	ck_assert_uint_eq(json_array_size(ws), (size_t)n);
	json_array_foreach(ws, i, w) {
		pid = (pid_t)JINT(w, "pid");
		ck_assert_msg(ppid_of(pid) == zygotes[0] || ppid_of(pid) == zygotes[1],
		              "%s (pid %d) has parent %d, not a zygote", JSTR(w, "name"), (int)pid,
		              (int)ppid_of(pid));
		parents[ppid_of(pid) == zygotes[1]]++;
	}
	ck_assert_int_eq(parents[0], n / 2);
	ck_assert_int_eq(parents[1], n / 2);
	json_decref(r);
}
END_TEST

/* /proc/PID/cmdline as one string (its NULs as spaces, trailing ones dropped). */
static char *cmdline_of(pid_t pid)
{
	char path[64], *text;
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	text = calloc(1, 4096);
	n = fread(text, 1, 4095, f);
	fclose(f);
	while (n > 0 && text[n - 1] == '\0')
		n--;
	for (size_t i = 0; i < n; i++)
		if (text[i] == '\0')
			text[i] = ' ';
	text[n] = '\0';
	return text;
}

/* ps tells loopvisor's processes apart; an exec worker keeps its program's argv. */
START_TEST(ps_tells_zygotes_and_workers_apart)
{
	pid_t module, zygote, exec;
	char *text;

	lvd_start(&d, "{\"pools\":[{\"name\":\"z\",\"exec\":[\"sleep\",\"1000\"]},"
	              "{\"name\":\"web\",\"module\":\"ticker\"}]}");
	json_decref(lvd_wait(&d, "web", "running", 0));
	zygote = the_zygote();
	module = lvd_worker_pid(&d, "web:0");
	exec = lvd_worker_pid(&d, "z:0");
	ck_assert_str_eq(text = cmdline_of(module), "loopvisor worker web:0");
	free(text);
	ck_assert_int_eq(ppid_of(module), zygote);
	ck_assert_str_eq(text = cmdline_of(zygote), "loopvisor zygote 1");
	free(text);
	ck_assert_str_eq(text = cmdline_of(exec), "sleep 1000");
	free(text);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("zygote");
	TCase *tc = tcase_create("zygote");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, a_stuck_zygote_holds_up_nothing_else);
	tcase_add_test(tc, a_zygote_that_wakes_up_forks_what_it_was_asked);
	tcase_add_test(tc, a_burst_of_spawns_is_forked_by_zygotes_only);
	tcase_add_test(tc, ps_tells_zygotes_and_workers_apart);
	suite_add_tcase(su, tc);
	return lvd_run_suite(su);
}
