/* test_control: the control socket against the real daemon: every method, JSON-RPC error
 * handling on the wire, oversize lines, idle and vanishing clients, fd exhaustion. */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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
	tcase_add_test(tc, a_client_with_64_unanswered_requests_is_not_read);
	tcase_add_test(tc, one_target_syntax_and_no_request_that_cannot_end);
	tcase_add_test(tc, a_message_cut_inside_a_character_is_still_answered);
	suite_add_tcase(su, tc);
	return lvd_run_suite(su);
}
