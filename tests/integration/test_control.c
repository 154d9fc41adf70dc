/* test_control: the control socket against the real daemon: every method, JSON-RPC error
 * handling on the wire, oversize lines, idle and vanishing clients, fd exhaustion. */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static struct lvd d;

static void teardown(void)
{
	lvd_stop(&d);
}

static void start_default(void)
{
	lvd_start(&d, "{\"pools\":[{\"name\":\"m\",\"module\":\"ticker\",\"workers\":2},"
	              "{\"name\":\"s\",\"exec\":[\"sleep\",\"1000\"]}]}");
}

/* Sends a raw line on a fresh connection and returns the parsed reply line. */
static json_t *raw(struct lv_client *c, const char *line)
{
	char *reply;
	json_t *v;

	ck_assert_int_eq(lv_client_send_line(c, line, strlen(line)), 0);
	reply = lv_client_read_line(c, 10000);
	ck_assert_msg(reply != NULL, "no reply to %s: %s", line, strerror(errno));
	v = json_loads(reply, 0, NULL);
	ck_assert_msg(v != NULL, "reply is not JSON: %s", reply);
	free(reply);
	return v;
}

static int error_code(const json_t *resp)
{
	return (int)JINT(json_object_get(resp, "error"), "code");
}

START_TEST(ping_and_version)
{
	json_t *r;

	start_default();
	r = lvd_call(&d, "ping", NULL);
	ck_assert_str_eq(json_string_value(r), "pong");
	json_decref(r);
	r = lvd_call(&d, "version", NULL);
	ck_assert_ptr_nonnull(JSTR(r, "version"));
	ck_assert_ptr_nonnull(strstr(JSTR(r, "libevent"), "2.1"));
	ck_assert_ptr_nonnull(JSTR(r, "jansson"));
	json_decref(r);
}
END_TEST

START_TEST(status_targets)
{
	json_t *r, *e;

	start_default();
	json_decref(lvd_wait(&d, "m", "running", 0));
	r = lvd_call(&d, "status", "{\"target\":\"m\"}");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "pools")), 1);
	ck_assert_uint_eq(json_array_size(json_object_get(r, "workers")), 2);
	json_decref(r);
	r = lvd_call(&d, "status", "{\"target\":\"m:1\"}");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "workers")), 1);
	ck_assert_str_eq(JSTR(json_array_get(json_object_get(r, "workers"), 0), "name"), "m:1");
	json_decref(r);
	r = lvd_call(&d, "status", NULL);
	ck_assert_uint_eq(json_array_size(json_object_get(r, "pools")), 2);
	ck_assert_uint_eq(json_array_size(json_object_get(r, "workers")), 3);
	json_decref(r);
	for (const char *const *t = (const char *const[]){ "nope", "m:7", "m:12345", NULL }; *t; t++) {
		e = lvd_call_error(&d, "status", "{\"target\":\"%s\"}", *t);
		ck_assert_int_eq(JINT(e, "code"), -32001);
		ck_assert_str_eq(JSTR(json_object_get(e, "data"), "target"), *t);
		json_decref(e);
	}
	e = lvd_call_error(&d, "stop", "{\"target\":\"nope\"}");
	ck_assert_int_eq(JINT(e, "code"), -32001);
	json_decref(e);
}
END_TEST

START_TEST(protocol_errors_on_the_wire)
{
	struct lv_client *c;
	json_t *r;

	start_default();
	c = lv_client_connect(d.sock);
	ck_assert_ptr_nonnull(c);
	r = raw(c, "{not json");
	ck_assert_int_eq(error_code(r), -32700);
	ck_assert(json_is_null(json_object_get(r, "id")));
	json_decref(r);
	r = raw(c, "{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"id\":1,\"id\":2}");
	ck_assert_int_eq(error_code(r), -32700);
	json_decref(r);
	r = raw(c, "{\"jsonrpc\":\"2.0\",\"id\":5}");
	ck_assert_int_eq(error_code(r), -32600);
	ck_assert_int_eq(JINT(r, "id"), 5);
	json_decref(r);
	r = raw(c, "{\"jsonrpc\":\"2.0\",\"method\":\"frobnicate\",\"id\":6}");
	ck_assert_int_eq(error_code(r), -32601);
	json_decref(r);
	r = raw(c, "{\"jsonrpc\":\"2.0\",\"method\":\"start\",\"params\":{\"target\":3},\"id\":7}");
	ck_assert_int_eq(error_code(r), -32602);
	ck_assert_str_eq(JSTR(json_object_get(r, "error"), "message"),
	                 "params.target: must be a string");
	json_decref(r);
	/* a notification gets no reply; the next request's reply is the next line */
	r = raw(c, "{\"jsonrpc\":\"2.0\",\"method\":\"ping\"}\n"
	           "{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"id\":\"after\"}");
	ck_assert_str_eq(JSTR(r, "id"), "after");
	json_decref(r);
	/* a batch, answered with an array in order */
	r = raw(c, "[{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"id\":1},"
	           "{\"jsonrpc\":\"2.0\",\"method\":\"version\",\"id\":2},"
	           "{\"jsonrpc\":\"2.0\",\"method\":\"ping\"}]");
	ck_assert(json_is_array(r));
	ck_assert_uint_eq(json_array_size(r), 2);
	ck_assert_str_eq(JSTR(json_array_get(r, 0), "jsonrpc"), "2.0");
	ck_assert_int_eq(JINT(json_array_get(r, 0), "id"), 1);
	ck_assert_str_eq(JSTR(json_array_get(r, 0), "result"), "pong");
	ck_assert_str_eq(JSTR(json_array_get(r, 1), "jsonrpc"), "2.0");
	ck_assert_int_eq(JINT(json_array_get(r, 1), "id"), 2);
	ck_assert_ptr_null(json_object_get(json_array_get(r, 1), "error"));
	ck_assert_str_eq(JSTR(json_object_get(json_array_get(r, 1), "result"), "version"), LV_VERSION);
	json_decref(r);
	/* and the connection is still fine */
	r = raw(c, "{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"id\":9}");
	ck_assert_str_eq(JSTR(r, "result"), "pong");
	json_decref(r);
	lv_client_close(c);
}
END_TEST

START_TEST(oversize_line_closes_only_that_connection)
{
	struct lv_client *big, *other;
	size_t len = 300 * 1024;
	char *line = malloc(len + 1);
	json_t *r;
	char *reply;

	start_default();
	big = lv_client_connect(d.sock);
	other = lv_client_connect(d.sock);
	memset(line, 'x', len);
	line[len] = '\0';
	/* no newline within 256 KiB: an error, then EOF */
	send(lv_client_fd(big), line, len, MSG_NOSIGNAL);
	reply = lv_client_read_line(big, 10000);
	ck_assert_ptr_nonnull(reply);
	r = json_loads(reply, 0, NULL);
	ck_assert_int_eq(error_code(r), -32600);
	json_decref(r);
	free(reply);
	ck_assert_ptr_null(lv_client_read_line(big, 10000));
	ck_assert_int_eq(errno, ECONNRESET);
	r = raw(other, "{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"id\":1}");
	ck_assert_str_eq(JSTR(r, "result"), "pong");
	json_decref(r);
	free(line);
	lv_client_close(big);
	lv_client_close(other);
}
END_TEST

START_TEST(idle_slow_and_vanishing_clients)
{
	struct lv_client *idle[100], *slow, *c;
	json_t *r;

	start_default();
	for (int i = 0; i < 100; i++)
		ck_assert_ptr_nonnull(idle[i] = lv_client_connect(d.sock));
	/* half a request, never finished */
	slow = lv_client_connect(d.sock);
	send(lv_client_fd(slow), "{\"jsonrpc\":\"2.0\",\"meth", 22, MSG_NOSIGNAL);
	/* clients that ask for a big reply and vanish before reading it */
	for (int i = 0; i < 50; i++) {
		c = lv_client_connect(d.sock);
		const char *req = "{\"jsonrpc\":\"2.0\",\"method\":\"status\",\"id\":1}\n";
		send(lv_client_fd(c), req, strlen(req), MSG_NOSIGNAL);
		lv_client_close(c);
	}
	r = lvd_call(&d, "ping", NULL);
	ck_assert_str_eq(json_string_value(r), "pong");
	json_decref(r);
	for (int i = 0; i < 100; i++)
		lv_client_close(idle[i]);
	lv_client_close(slow);
	r = lvd_call(&d, "status", NULL);
	json_decref(r);
}
END_TEST

static long cpu_ticks(pid_t pid)
{
	char path[64], *stat, *p;
	long utime = 0, stime = 0;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	stat = slurp(path);
	ck_assert_ptr_nonnull(stat);
	p = strrchr(stat, ')');
	/* fields after the command: state(3) ... utime(14) stime(15) */
	ck_assert_int_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld",
	                        &utime, &stime), 2);
	free(stat);
	return utime + stime;
}

START_TEST(fd_exhaustion_neither_spins_nor_stops)
{
	struct lv_client *c[64];
	int n = 0;
	long before, after;
	json_t *e;

	lvd_start_limited(&d, 40, "{\"pools\":[{\"name\":\"idle\",\"exec\":[\"true\"],"
	                          "\"autostart\":false}]}");
	/* far more connections than the daemon has descriptors for */
	for (n = 0; n < 64; n++)
		ck_assert_ptr_nonnull(c[n] = lv_client_connect(d.sock));
	before = cpu_ticks(d.pid);
	/* let the daemon sit at EMFILE for a second, timed by the daemon itself */
	{
		struct lv_client *waiter = c[0];
		json_t *res = NULL, *err = NULL;
		json_t *params = json_pack("{s:s, s:s, s:i}", "target", "idle", "state", "running",
		                           "timeout_ms", 1000);
		struct timespec t0, t1;
		long long waited_ms;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		/* c[0] was accepted before the limit: it gets an answer, the timeout after the
		 * full second (else the CPU window below would shrink to nothing) */
		ck_assert_int_eq(lv_client_call(waiter, "wait", params, 60000, &res, &err), 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		waited_ms = (t1.tv_sec - t0.tv_sec) * 1000LL + (t1.tv_nsec - t0.tv_nsec) / 1000000;
		ck_assert_msg(err && JINT(err, "code") == -32002, "the wait did not time out");
		ck_assert_int_ge(waited_ms, 990);
		json_decref(res);
		json_decref(err);
	}
	after = cpu_ticks(d.pid);
	/* a busy loop would burn ~100 ticks in that second */
	ck_assert_int_lt(after - before, 30);
	for (int i = 0; i < n; i++)
		lv_client_close(c[i]);
	/* once descriptors are free again, new clients are served */
	e = lvd_call(&d, "ping", NULL);
	json_decref(e);
	lv_client_close(d.c);
	d.c = lv_client_connect(d.sock);
	ck_assert_ptr_nonnull(d.c);
	e = lvd_call(&d, "ping", NULL);
	ck_assert_str_eq(json_string_value(e), "pong");
	json_decref(e);
}
END_TEST

START_TEST(shutdown_stops_everything_and_exits_zero)
{
	json_t *r;
	pid_t a, b;

	start_default();
	json_decref(lvd_wait(&d, "m", "running", 0));
	json_decref(lvd_wait(&d, "s", "running", 0));
	a = lvd_worker_pid(&d, "m:0");
	b = lvd_worker_pid(&d, "s:0");
	r = lvd_call(&d, "shutdown", NULL);
	json_decref(r);
	ck_assert(lvd_wait_exit(&d, 20000));
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
	ck_assert(pid_gone_within(a, 1000));
	ck_assert(pid_gone_within(b, 1000));
	ck_assert_int_ne(access(d.sock, F_OK), 0);
}
END_TEST

START_TEST(sigterm_drains_and_exits_zero)
{
	pid_t a;

	start_default();
	json_decref(lvd_wait(&d, "s", "running", 0));
	a = lvd_worker_pid(&d, "s:0");
	kill(d.pid, SIGTERM);
	ck_assert(lvd_wait_exit(&d, 20000));
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
	ck_assert(pid_gone_within(a, 1000));
}
END_TEST

/* docs/protocol.md, README: the socket is created with mode 0600 unless configured. */
START_TEST(the_control_socket_is_born_0600)
{
	struct stat st;

	lvd_start(&d, "{\"pools\":[]}");
	ck_assert_int_eq(lstat(d.sock, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_msg((st.st_mode & 07777) == 0600, "control socket mode %04o",
	              (unsigned)(st.st_mode & 07777));
}
END_TEST

/* README: "SIGTERM/SIGINT or shutdown drain every worker in parallel and exit 0". Each
 * worker, told to stop, goes only once the other was told too: drained one pool after the
 * other, the first would wait out its 60 s stop timeout. */
#define DRAIN_WORKER(me, other) \
	"{\"name\":\"" me "\",\"stop_timeout_ms\":60000,\"exec\":[\"sh\",\"-c\"," \
	"\"trap 'touch %s/" me "; while [ ! -e %s/" other " ]; do sleep 0.01; done; exit 0' TERM;" \
	" touch %s/" me ".up; while :; do sleep 0.05; done\"]}"

/* Waits until path exists (a worker made it), polling: there is no event to wait on. */
static bool made_within(const char *dir, const char *name, int timeout_ms)
{
	char path[128];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	for (int waited = 0; waited < test_ms(timeout_ms); waited += 5) {
		if (access(path, F_OK) == 0)
			return unlink(path) == 0;
		usleep(5000);
	}
	return false;
}

START_TEST(sigint_drains_every_worker_in_parallel)
{
	char tmp[] = "/tmp/lvdrain.XXXXXX", path[64];
	pid_t a, b;

	ck_assert_ptr_nonnull(mkdtemp(tmp));
	lvd_start(&d, "{\"pools\":[" DRAIN_WORKER("a", "b") "," DRAIN_WORKER("b", "a") "]}",
	          tmp, tmp, tmp, tmp, tmp, tmp);
	ck_assert(made_within(tmp, "a.up", 20000)); /* its trap is set */
	ck_assert(made_within(tmp, "b.up", 20000));
	a = lvd_worker_pid(&d, "a:0");
	b = lvd_worker_pid(&d, "b:0");
	kill(d.pid, SIGINT);
	ck_assert_msg(lvd_wait_exit(&d, 20000), "SIGINT: the daemon did not drain in parallel");
	ck_assert_msg(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0, "status %d", d.status);
	ck_assert(pid_gone_within(a, 1000));
	ck_assert(pid_gone_within(b, 1000));
	snprintf(path, sizeof path, "%s/a", tmp);
	ck_assert_int_eq(unlink(path), 0); /* each was asked to stop, not killed */
	snprintf(path, sizeof path, "%s/b", tmp);
	ck_assert_int_eq(unlink(path), 0);
	rmdir(tmp);
	ck_assert_int_ne(access(d.sock, F_OK), 0);
}
END_TEST

/* docs/protocol.md: "A client's requests are not read while 64 of them are unanswered".
 * 64 parked waits, then a 65th line that would stop pool b: b keeps running until a wait
 * is answered, then the line is read and b stops. */
START_TEST(a_client_with_64_unanswered_requests_is_not_read)
{
	static const char stop_b[] = "{\"jsonrpc\":\"2.0\",\"method\":\"stop\","
	                             "\"params\":{\"target\":\"b\",\"wait\":false}}\n";
	struct lv_client *c;
	char line[256], *reply;

	lvd_start(&d, "{\"pools\":[{\"name\":\"a\",\"exec\":[\"sleep\",\"1000\"]},"
	              "{\"name\":\"b\",\"exec\":[\"sleep\",\"1000\"]}]}");
	json_decref(lvd_wait(&d, "a", "running", 0));
	json_decref(lvd_wait(&d, "b", "running", 0));
	ck_assert_ptr_nonnull(c = lv_client_connect(d.sock));
	for (int i = 0; i < 64; i++) {
		int n = snprintf(line, sizeof line, "{\"jsonrpc\":\"2.0\",\"method\":\"wait\",\"params\":"
		                 "{\"target\":\"a\",\"state\":\"stopped\",\"timeout_ms\":%d},\"id\":%d}\n",
		                 test_ms(120000), i);
		ck_assert_int_eq(lv_client_send_line(c, line, (size_t)n - 1), 0);
	}
	ck_assert_int_eq(lv_client_send_line(c, stop_b, sizeof stop_b - 2), 0);
	/* every turn of the loop serves c at most 16 lines: a few pings are enough turns */
	for (int i = 0; i < 8; i++)
		json_decref(lvd_call(&d, "ping", NULL));
	lvd_expect_no_change(&d, "b", "[\"stopping\",\"stopped\"]", 500);
	json_decref(lvd_call(&d, "stop", "{\"target\":\"a\"}"));
	for (int i = 0; i < 64; i++) {
		json_t *r;

		reply = lv_client_read_line(c, test_ms(20000));
		ck_assert_msg(reply != NULL, "wait %d not answered", i);
		r = json_loads(reply, 0, NULL);
		ck_assert_msg(r && json_object_get(r, "result"), "wait %d: %s", i, reply);
		ck_assert_int_eq(JINT(r, "id"), i);
		json_decref(r);
		free(reply);
	}
	json_decref(lvd_wait(&d, "b", "stopped", 0));
	lv_client_close(c);
}
END_TEST

/* docs/protocol.md (reload): "A changed control socket path moves the listening socket
 * (connected clients stay)". The daemon is started without -s, so the file's path counts. */
START_TEST(a_reload_moves_the_control_socket)
{
	static const char *const no_s[] = { "sh", "-c", "exec \"$0\" \"$1\" \"$2\"", NULL };
	char moved[400];
	struct lv_client *c;
	json_t *r = NULL, *e = NULL;

	lvd_set_wrapper(no_s); /* drops the harness's "-s PATH" */
	lvd_start(&d, "{\"control\":{\"socket\":\"control.sock\"},\"pools\":[]}");
	lvd_set_wrapper(NULL);
	snprintf(moved, sizeof moved, "%s/moved.sock", d.dir);
	lvd_write_config(&d, "{\"control\":{\"socket\":\"moved.sock\"},\"pools\":[]}");
	json_decref(lvd_call(&d, "reload", NULL));
	ck_assert_int_ne(access(d.sock, F_OK), 0); /* the old name is gone */
	ck_assert_ptr_nonnull(c = lv_client_connect(moved));
	ck_assert_int_eq(lv_client_call(c, "ping", NULL, 10000, &r, &e), 0);
	ck_assert_str_eq(json_string_value(r), "pong");
	json_decref(r);
	lv_client_close(c);
	r = lvd_call(&d, "ping", NULL); /* the connection from before the move stays */
	ck_assert_str_eq(json_string_value(r), "pong");
	json_decref(r);
}
END_TEST

START_TEST(bad_config_refuses_to_start)
{
	char log[4096];
	int st = lvd_try_start(&d, "{\"pools\":[{\"name\":\"x\",\"exec\":[\"true\"],\"wrokers\":2}]}",
	                       log, sizeof log);

	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	ck_assert_msg(strstr(log, "pools[0].wrokers: unknown key") != NULL, "log: %s", log);
}
END_TEST

START_TEST(check_mode_validates_and_exits)
{
	char dir[] = "/tmp/lvcheck.XXXXXX", good[64], bad[64], out[4096], err[4096];
	const char *argv[] = { lvd_build_path("bin/loopvisord"), "--check", "-c", NULL, NULL };
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(good, sizeof good, "%s/good.json", dir);
	snprintf(bad, sizeof bad, "%s/bad.json", dir);
	f = fopen(good, "w");
	fputs("{\"pools\":[{\"name\":\"a\",\"exec\":[\"true\"]}]}", f);
	fclose(f);
	f = fopen(bad, "w");
	fputs("{\"pools\":[{\"name\":\"a\",\"exec\":[\"true\"]},\n"
	      " {\"name\":\"b\",\"module\":\"m\",\"wrokers\":2}]}", f);
	fclose(f);
	argv[3] = good;
	ck_assert_int_eq(run_program(argv, out, sizeof out, err, sizeof err), 0);
	ck_assert_ptr_nonnull(strstr(out, "OK, 1 pool\n"));
	if (geteuid() == 0)
		ck_assert_ptr_nonnull(strstr(out, "warning: pools[0] (a) runs as root"));
	argv[3] = bad;
	ck_assert_int_eq(run_program(argv, out, sizeof out, err, sizeof err), 1);
	ck_assert_str_eq(err, "loopvisord: pools[1].wrokers: unknown key\n");
	argv[3] = "/nonexistent.json";
	ck_assert_int_eq(run_program(argv, out, sizeof out, err, sizeof err), 1);
	ck_assert_str_eq(err, "loopvisord: /nonexistent.json: No such file or directory\n");
	unlink(good);
	unlink(bad);
	rmdir(dir);
}
END_TEST

/* A daemon killed a moment after forking leaves its listening socket open in that child
 * until the child closes its inherited fds or dies: a new daemon must take the path over
 * (the process that listened is dead), and still refuse a path a live daemon listens on. */
START_TEST(a_dead_daemons_socket_is_taken_over_and_a_live_ones_is_not)
{
	const char *argv[] = { lvd_build_path("bin/loopvisord"), "-c", NULL, "-s", NULL, NULL };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char out[4096], err[4096];
	int pfd[2], status;
	pid_t listener, holder = 0;

	lvd_start(&d, "{\"pools\":[{\"name\":\"s\",\"exec\":[\"sleep\",\"1000\"]}]}");
	kill(d.pid, SIGKILL);
	ck_assert(lvd_wait_exit(&d, 10000));
	/* the orphan: listens as the dead daemon did, in a process whose parent is gone */
	ck_assert_uint_lt(strlen(d.sock), sizeof sun.sun_path);
	memcpy(sun.sun_path, d.sock, strlen(d.sock) + 1);
	ck_assert_int_eq(pipe(pfd), 0);
	listener = fork();
	ck_assert_int_ge(listener, 0);
	if (listener == 0) {
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		pid_t child;

		unlink(d.sock);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0 || listen(fd, 8) < 0)
			_exit(1);
		if ((child = fork()) == 0) {
			close(pfd[1]);
			close(pfd[0]);
			pause();
			_exit(0);
		}
		_exit(write(pfd[1], &child, sizeof child) == sizeof child ? 0 : 1);
	}
	close(pfd[1]);
	ck_assert_int_eq(read(pfd[0], &holder, sizeof holder), (ssize_t)sizeof holder);
	close(pfd[0]);
	ck_assert_int_eq(waitpid(listener, &status, 0), listener);
	ck_assert_int_eq(status, 0);

	lvd_restart_after_kill(&d);
	kill(holder, SIGKILL);
	json_decref(lvd_wait(&d, "s", "running", 0));
	argv[2] = d.config;
	argv[4] = d.sock;
	ck_assert_int_eq(run_program(argv, out, sizeof out, err, sizeof err), 1);
	ck_assert_msg(strstr(err, "another daemon is listening there") != NULL, "%s", err);
	json_decref(lvd_call(&d, "ping", NULL));
}
END_TEST

/* One spelling per target: "m:+0" used to resolve to m:0, yet a subscribe or tail -f on
 * it received nothing (events name "m:0"). Requests that could never end or silently
 * replaced another are refused too. */
START_TEST(one_target_syntax_and_no_request_that_cannot_end)
{
	static const char *const bad[] = { "m:+0", "m:00", "m: 0", "m:-0", "m:0 ", "m:x", "m:",
	                                   ":1", "m:0:1", "", "m 0", "m:1e0", NULL };
	static const char *const calls[] = {
		"status", "{\"target\":\"%s\"}", "tail", "{\"target\":\"%s\",\"follow\":true}",
		"subscribe", "{\"target\":\"%s\"}", "wait", "{\"target\":\"%s\",\"state\":\"running\"}",
		"stop", "{\"target\":\"%s\"}", "signal", "{\"target\":\"%s\",\"signal\":\"HUP\"}",
		"inspect", "{\"target\":\"%s\"}", NULL };
	struct lv_client *f;
	json_t *e, *res = NULL, *err = NULL;
	char params[128];

	start_default();
	json_decref(lvd_wait(&d, "m", "running", 0));
	for (const char *const *t = bad; *t; t++)
		for (const char *const *c = calls; *c; c += 2) {
			snprintf(params, sizeof params, c[1], *t);
			e = lvd_call_error(&d, c[0], "%s", params);
			ck_assert_msg(JINT(e, "code") == -32602, "%s %s: %lld", c[0], params, JINT(e, "code"));
			ck_assert_int_eq(strncmp(JSTR(e, "message"), "params.target: ", 15), 0);
			json_decref(e);
		}
	/* a wait for no state, a subscription to no event: they could never end or deliver */
	e = lvd_call_error(&d, "wait", "{\"target\":\"m\",\"state\":[]}");
	ck_assert_int_eq(JINT(e, "code"), -32602);
	ck_assert_str_eq(JSTR(e, "message"), "params.state: must name at least one state");
	json_decref(e);
	e = lvd_call_error(&d, "subscribe", "{\"events\":[]}");
	ck_assert_int_eq(JINT(e, "code"), -32602);
	json_decref(e);
	/* a second follow on one connection is refused; the first goes on */
	f = lv_client_connect(d.sock);
	ck_assert_int_eq(lv_client_call(f, "tail", json_pack("{s:s, s:i, s:b}", "target", "m:1",
	                                "lines", 0, "follow", 1), 10000, &res, &err), 0);
	ck_assert_ptr_nonnull(res);
	json_decref(res);
	ck_assert_int_eq(lv_client_call(f, "tail", json_pack("{s:s, s:i, s:b}", "target", "m:0",
	                                "lines", 0, "follow", 1), 10000, &res, &err), 0);
	ck_assert_ptr_nonnull(err);
	ck_assert_int_eq(JINT(err, "code"), -32010);
	ck_assert_str_eq(JSTR(json_object_get(err, "data"), "limit"), "follows_per_connection");
	json_decref(err);
	for (int i = 0; i < 2; i++) {
		json_t *line = lvd_next_notification(f);
		ck_assert_str_eq(JSTR(line, "worker"), "m:1");
		json_decref(line);
	}
	lv_client_close(f);
}
END_TEST

/* A message cut inside a UTF-8 character by a fixed-size buffer made jansson drop the
 * whole reply: the request was never answered, a batch lost the member. */
START_TEST(a_message_cut_inside_a_character_is_still_answered)
{
	struct lv_client *c;
	char key[1201], line[2048];
	json_t *r;

	key[0] = 'x'; /* "params.x" and then 2-byte characters: byte 255 is half of one */
	for (int i = 0; i < 599; i++)
		memcpy(key + 1 + 2 * i, "\xc3\xa9", 2);
	key[1199] = '\0';
	start_default();
	c = lv_client_connect(d.sock);
	snprintf(line, sizeof line, "{\"jsonrpc\":\"2.0\",\"method\":\"status\",\"params\":"
	         "{\"%s\":1},\"id\":1}", key);
	r = raw(c, line);
	ck_assert_int_eq(error_code(r), -32602);
	ck_assert_int_eq(JINT(r, "id"), 1);
	json_decref(r);
	snprintf(line, sizeof line, "[{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"id\":1},"
	         "{\"jsonrpc\":\"2.0\",\"method\":\"wait\",\"params\":{\"%s\":1},\"id\":2},"
	         "{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"id\":3}]", key);
	r = raw(c, line);
	ck_assert_uint_eq(json_array_size(r), 3);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(JINT(json_array_get(r, (size_t)i), "id"), i + 1);
	ck_assert_int_eq(error_code(json_array_get(r, 1)), -32602);
	json_decref(r);
	lv_client_close(c);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("control");
	TCase *tc = tcase_create("socket");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, ping_and_version);
	tcase_add_test(tc, status_targets);
	tcase_add_test(tc, protocol_errors_on_the_wire);
	tcase_add_test(tc, oversize_line_closes_only_that_connection);
	tcase_add_test(tc, idle_slow_and_vanishing_clients);
	tcase_add_test(tc, fd_exhaustion_neither_spins_nor_stops);
	tcase_add_test(tc, shutdown_stops_everything_and_exits_zero);
	tcase_add_test(tc, sigterm_drains_and_exits_zero);
	tcase_add_test(tc, the_control_socket_is_born_0600);
	tcase_add_test(tc, a_reload_moves_the_control_socket);
	tcase_add_test(tc, sigint_drains_every_worker_in_parallel);
	tcase_add_test(tc, a_client_with_64_unanswered_requests_is_not_read);
	tcase_add_test(tc, bad_config_refuses_to_start);
	tcase_add_test(tc, check_mode_validates_and_exits);
	tcase_add_test(tc, a_dead_daemons_socket_is_taken_over_and_a_live_ones_is_not);
	tcase_add_test(tc, one_target_syntax_and_no_request_that_cannot_end);
	tcase_add_test(tc, a_message_cut_inside_a_character_is_still_answered);
	suite_add_tcase(su, tc);
	return lvd_run_suite(su);
}
