/* test_probes: health probes against real programs on loopback. python3's http.server
 * workers whose health file comes and goes (readiness gates "after", /readyz and a rolling
 * restart), a SIGSTOPped worker (a liveness restart, reason "probe"), a slow starter kept
 * alive by its startup probe, an exec probe that hangs (killed at its timeout), and a log
 * probe waiting for a line. Every wait is on an event or a state. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static struct lvd d;
static char dir[64];
static int port, http_port;

static void setup(void)
{
	make_temp_dir(dir, sizeof dir, "probes");
	/* two ports in a row for two workers, {index+port}; the first free one is a guess */
	port = free_port();
	http_port = free_port();
}

static void teardown(void)
{
	lvd_stop(&d);
	remove_tree(dir);
}

static void health(int index, bool present)
{
	char path[128];

	snprintf(path, sizeof path, "%s/h%d", dir, index);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/h%d/health", dir, index);
	if (present) {
		int fd = open(path, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);

		ck_assert_int_ge(fd, 0);
		close(fd);
	} else {
		unlink(path);
	}
}

static struct lv_client *subscribe(const char *target)
{
	struct lv_client *sub = lv_client_connect(d.sock);
	json_t *res = NULL, *e = NULL;

	ck_assert_ptr_nonnull(sub);
	ck_assert_int_eq(lv_client_call(sub, "subscribe", *target ? json_pack("{s:s}", "target",
	                                                                       target)
	                                                          : json_object(),
	                                10000, &res, &e), 0);
	json_decref(res);
	return sub;
}

/* The next event named name about worker (NULL: any), skipping others. */
static json_t *next_event(struct lv_client *sub, const char *name, const char *worker)
{
	for (;;) {
		json_t *ev = lvd_next_notification(sub);

		if (!strcmp(JSTR(ev, "event"), name) &&
		    (!worker || (JSTR(ev, "worker") && !strcmp(JSTR(ev, "worker"), worker))))
			return ev;
		json_decref(ev);
	}
}

/* The next worker.probe result of worker's probe with ready as given. */
static void wait_ready(struct lv_client *sub, const char *worker, bool ready)
{
	for (;;) {
		json_t *ev = next_event(sub, "worker.probe", worker);
		bool match = !strcmp(JSTR(ev, "probe"), "readiness") &&
		             json_is_true(json_object_get(ev, "ready")) == ready;

		json_decref(ev);
		if (match)
			return;
	}
}

/* Starts target without waiting for it (the daemon is started with it stopped, so that the
 * events of its start can be watched from the first). */
static struct lv_client *start_async(const char *target)
{
	struct lv_client *op = lv_client_connect(d.sock);
	long id;

	ck_assert_ptr_nonnull(op);
	ck_assert_int_eq(lv_client_send(op, "start", json_pack("{s:s, s:i}", "target", target,
	                                                       "timeout_ms", 60000), &id), 0);
	return op;
}

static bool worker_ready(const char *name)
{
	json_t *w = lvd_worker(&d, name);
	bool ready = json_is_true(json_object_get(w, "ready"));

	json_decref(w);
	return ready;
}

/* GET path on the daemon's HTTP listener: the status code, the body in buf. */
static int http_get(const char *path, char *buf, size_t len)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)http_port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), code = 0;
	size_t have = 0;
	ssize_t n;
	char req[256];

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
	ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (have + 1 < len && (n = read(fd, buf + have, len - have - 1)) > 0)
		have += (size_t)n;
	buf[have] = '\0';
	close(fd);
	sscanf(buf, "HTTP/1.%*d %d", &code);
	return code;
}

#define WEB_POOL(workers, probes) \
	"{\"name\":\"web\",\"workers\":" #workers ",\"exec\":[\"python3\",\"-m\",\"http.server\"," \
	"\"{index+%d}\",\"--bind\",\"127.0.0.1\"],\"cwd\":\"%s/h{index}\",\"probes\":" probes "}"

/* Readiness is a flag of a running worker that "after" and /readyz read, and that comes and
 * goes with what the probe says. */
START_TEST(readiness_gates_followers_and_readyz)
{
	struct lv_client *sub;
	char buf[65536];
	json_t *f;

	health(0, true);
	health(1, false);
	lvd_start(&d, "{\"http\":{\"listen\":[\"tcp:127.0.0.1:%d\"]},\"pools\":["
	              WEB_POOL(2, "{\"readiness\":{\"http\":\"http://127.0.0.1:{index+%d}/health\","
	                          "\"period_ms\":200,\"failure_threshold\":1}}")
	              ",{\"name\":\"f\",\"exec\":[\"sleep\",\"1000\"],\"after\":[\"web\"]}]}",
	          http_port, port, dir, port);
	sub = subscribe("web");
	json_decref(lvd_wait(&d, "web", "running", 0));
	if (!worker_ready("web:0"))
		wait_ready(sub, "web:0", true);
	ck_assert(!worker_ready("web:1"));
	f = lvd_worker(&d, "f:0");
	ck_assert_str_eq(JSTR(f, "state"), "starting");
	ck_assert_str_eq(JSTR(f, "last_error"), "waiting for pool web (not ready)");
	json_decref(f);
	ck_assert_int_eq(http_get("/readyz", buf, sizeof buf), 503);
	ck_assert_msg(strstr(buf, "\"ready\":1"), "%s", buf);
	{ /* the status table says which runs and serves nothing, and why */
		const char *argv[] = { lvd_build_path("bin/loopvisorctl"), "-s", d.sock, "status",
		                       "web", NULL };
		char err[4096];

		run_program(argv, buf, sizeof buf, err, sizeof err);
		ck_assert_msg(strstr(buf, "not ready") && strstr(buf, "readiness probe: "),
		              "%s", buf);
	}
	health(1, true);
	json_decref(lvd_wait(&d, "f", "running", 0)); /* web:1 ready: f starts */
	ck_assert(worker_ready("web:1"));
	ck_assert_int_eq(http_get("/readyz", buf, sizeof buf), 200);
	health(0, false); /* one failure is enough here */
	wait_ready(sub, "web:0", false);
	ck_assert(!worker_ready("web:0"));
	ck_assert_int_eq(http_get("/metrics", buf, sizeof buf), 200);
	ck_assert_msg(strstr(buf, "loopvisor_pool_ready_workers{pool=\"web\"} 1"), "%s", buf);
	ck_assert_msg(strstr(buf, "loopvisor_probe_results_total{pool=\"web\",probe=\"readiness\","
	                          "result=\"failure\"}"), "%s", buf);
	lv_client_close(sub);
}
END_TEST

/* A rolling restart moves on only once the replacement is ready: web:1's replacement is
 * running but not ready until its health file is back, and the roll waits for it. */
START_TEST(a_rolling_restart_waits_for_readiness)
{
	struct lv_client *sub, *op;
	json_t *res = NULL, *e = NULL, *ev;
	long id;

	health(0, true);
	health(1, true);
	lvd_start(&d, "{\"pools\":["
	              WEB_POOL(2, "{\"readiness\":{\"http\":\"http://127.0.0.1:{index+%d}/health\","
	                          "\"period_ms\":200,\"failure_threshold\":1}}") "]}",
	          port, dir, port);
	sub = subscribe("web");
	json_decref(lvd_wait(&d, "web", "running", 0));
	while (!worker_ready("web:0") || !worker_ready("web:1"))
		wait_ready(sub, NULL, true);
	health(1, false);
	wait_ready(sub, "web:1", false);
	health(1, true);
	health(1, false); /* gone again before the roll: web:1's replacement cannot be ready */
	op = lv_client_connect(d.sock);
	ck_assert_int_eq(lv_client_send(op, "restart", json_pack("{s:s, s:b, s:i}", "target",
	                                                         "web", "rolling", 1,
	                                                         "timeout_ms", 60000), &id), 0);
	/* web:1 is replaced, runs, and fails its probe: the roll is not over */
	json_decref(next_event(sub, "worker.running", "web:1"));
	for (;;) {
		ev = lvd_next_notification(sub);
		ck_assert_msg(strcmp(JSTR(ev, "event"), "pool.rolled") != 0,
		              "the roll ended before web:1's replacement was ready");
		if (!strcmp(JSTR(ev, "event"), "worker.probe") && !strcmp(JSTR(ev, "worker"), "web:1"))
			break;
		json_decref(ev);
	}
	ck_assert_str_eq(JSTR(ev, "result"), "failure");
	json_decref(ev);
	health(1, true);
	json_decref(next_event(sub, "pool.rolled", NULL));
	ck_assert_int_eq(lv_client_receive(op, id, 10000, &res, &e), 0);
	ck_assert_ptr_null(e);
	json_decref(res);
	lv_client_close(op);
	lv_client_close(sub);
}
END_TEST

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A stopped process answers no GET: failure_threshold failures later (plus its timeout and
 * one period of slack) it is stopped, killed after stop_timeout_ms, and started again. */
START_TEST(liveness_restarts_a_stopped_worker)
{
	struct lv_client *sub;
	json_t *ev, *w;
	pid_t pid;
	double t0, took;
	char buf[65536];

	health(0, true);
	lvd_start(&d, "{\"http\":{\"listen\":[\"tcp:127.0.0.1:%d\"]},\"pools\":["
	              "{\"name\":\"web\",\"stop_timeout_ms\":300,\"exec\":[\"python3\",\"-m\","
	              "\"http.server\",\"{index+%d}\",\"--bind\",\"127.0.0.1\"],\"cwd\":\"%s/h{index}\","
	              "\"probes\":{\"liveness\":{\"http\":\"http://127.0.0.1:{index+%d}/health\","
	              "\"period_ms\":300,\"timeout_ms\":200,\"failure_threshold\":2,"
	              "\"initial_delay_ms\":%d}}}]}", /* python3 listens within it */
	          http_port, port, dir, port, test_ms(1500));
	sub = subscribe("web");
	json_decref(lvd_wait(&d, "web", "running", 0));
	ev = next_event(sub, "worker.probe", "web:0"); /* it answers: the first is a success */
	ck_assert_str_eq(JSTR(ev, "result"), "success");
	json_decref(ev);
	pid = lvd_worker_pid(&d, "web:0");
	ck_assert_int_eq(kill(pid, SIGSTOP), 0);
	t0 = now_s();
	ev = next_event(sub, "worker.exited", "web:0");
	took = now_s() - t0;
	ck_assert_str_eq(JSTR(ev, "reason"), "probe");
	ck_assert_ptr_nonnull(strstr(JSTR(ev, "error"), "liveness probe failed 2 times"));
	json_decref(ev);
	/* 2 periods + its timeout + one period of slack, then the stop timeout's kill */
	ck_assert_msg(took < (2 * 0.3 + 0.2 + 0.3 + 0.3) * test_ms(1000) / 1000.0 + 0.5,
	              "restarted after %.2f s", took);
	json_decref(next_event(sub, "worker.running", "web:0"));
	w = lvd_worker(&d, "web:0");
	ck_assert_str_eq(JSTR(w, "last_end"), "probe");
	ck_assert_int_eq(JINT(w, "restarts"), 1);
	json_decref(w);
	ck_assert_int_eq(http_get("/metrics", buf, sizeof buf), 200);
	ck_assert_msg(strstr(buf, "loopvisor_pool_restarts_total{pool=\"web\",reason=\"probe\"} 1"),
	              "%s", buf);
	lv_client_close(sub);
}
END_TEST

/* Starting for 1 s, then serving: its startup probe keeps it "starting" (and the liveness
 * probe, which fails at once, away) until it answers. */
START_TEST(a_slow_starter_is_protected_by_its_startup_probe)
{
	struct lv_client *sub, *op;
	json_t *ev, *w;
	char cmd[256];

	health(0, true);
	snprintf(cmd, sizeof cmd, "sleep 1; exec python3 -m http.server %d --bind 127.0.0.1", port);
	lvd_start(&d, "{\"pools\":[{\"name\":\"web\",\"autostart\":false,"
	              "\"exec\":[\"sh\",\"-c\",\"%s\"],"
	              "\"cwd\":\"%s/h0\",\"probes\":{"
	              "\"startup\":{\"http\":\"http://127.0.0.1:%d/health\",\"period_ms\":100,"
	              "\"failure_threshold\":100},"
	              "\"liveness\":{\"http\":\"http://127.0.0.1:%d/health\",\"period_ms\":100,"
	              "\"failure_threshold\":1}}}]}", cmd, dir, port, port);
	sub = subscribe("web");
	op = start_async("web");
	for (bool failed_once = false;;) { /* startup failures first, while it sleeps */
		ev = lvd_next_notification(sub);
		ck_assert_msg(strcmp(JSTR(ev, "event"), "worker.exited") != 0, "killed while starting");
		if (!strcmp(JSTR(ev, "event"), "worker.probe")) {
			ck_assert_str_eq(JSTR(ev, "probe"), "startup");
			failed_once |= !strcmp(JSTR(ev, "result"), "failure");
		}
		if (!strcmp(JSTR(ev, "event"), "worker.running")) {
			ck_assert(failed_once);
			json_decref(ev);
			break;
		}
		json_decref(ev);
	}
	w = lvd_worker(&d, "web:0");
	ck_assert_int_eq(JINT(w, "restarts"), 0);
	json_decref(w);
	lv_client_close(op);
	lv_client_close(sub);
}
END_TEST

/* An exec probe that never ends is killed at its timeout, process group and all, and
 * counts as a failure. */
START_TEST(an_exec_probe_that_hangs_is_killed)
{
	struct lv_client *sub;
	json_t *ev;
	char path[128], text[32] = "";
	FILE *f;
	pid_t probe = 0;
	int tries;

	lvd_start(&d, "{\"pools\":[{\"name\":\"s\",\"exec\":[\"sleep\",\"1000\"],\"cwd\":\"%s\","
	              "\"probes\":{\"readiness\":{\"exec\":[\"sh\",\"-c\",\"echo $$ > probe.pid; "
	              "exec sleep 100\"],\"period_ms\":1000,\"timeout_ms\":300}}}]}", dir);
	sub = subscribe("s");
	ev = next_event(sub, "worker.probe", "s:0");
	ck_assert_str_eq(JSTR(ev, "result"), "failure");
	ck_assert_str_eq(JSTR(ev, "reason"), "timed out after 300 ms");
	ck_assert(!json_is_true(json_object_get(ev, "ready")));
	json_decref(ev);
	snprintf(path, sizeof path, "%s/probe.pid", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	ck_assert_ptr_nonnull(fgets(text, sizeof text, f));
	fclose(f);
	probe = (pid_t)atoi(text);
	ck_assert_int_gt(probe, 1);
	for (tries = 0; tries < 1000 && kill(probe, 0) == 0; tries++) /* reaped by its zygote */
		json_decref(lvd_call(&d, "ping", NULL));
	ck_assert_msg(kill(probe, 0) < 0 && errno == ESRCH, "the probe %d lives on", (int)probe);
	lv_client_close(sub);
}
END_TEST

/* A log probe passes once the line is printed: the worker runs only then. */
START_TEST(a_log_probe_waits_for_its_line)
{
	struct lv_client *sub, *op;
	json_t *ev;
	bool waited = false;

	lvd_start(&d, "{\"pools\":[{\"name\":\"s\",\"autostart\":false,"
	              "\"exec\":[\"sh\",\"-c\",\"sleep 1; echo up and "
	              "ready; exec sleep 1000\"],\"probes\":{\"startup\":{\"log\":\"^up and ready$\","
	              "\"period_ms\":100,\"failure_threshold\":100}}}]}");
	sub = subscribe("s");
	op = start_async("s");
	for (;;) {
		ev = lvd_next_notification(sub);
		if (!strcmp(JSTR(ev, "event"), "worker.probe") &&
		    !strcmp(JSTR(ev, "result"), "failure")) {
			ck_assert_str_eq(JSTR(ev, "reason"), "no such line yet");
			waited = true;
		}
		if (!strcmp(JSTR(ev, "event"), "worker.running")) {
			json_decref(ev);
			break;
		}
		json_decref(ev);
	}
	ck_assert(waited);
	lv_client_close(op);
	lv_client_close(sub);
}
END_TEST

/* A worker's server is not to be trusted: a 1 MiB body (its first 64 KiB are what the body
 * regex sees), an endless trickle (the timeout ends it) and an answer that is not HTTP (a
 * failure) cost the daemon nothing and never block it. And a server that closes a kept
 * connection when the next request comes, as at the end of its keep-alive time (/once), is
 * asked again on a new connection, as is one that closes it between attempts (/idle): that
 * is not a failed probe. */
static const char hostile_py[] =
	"import http.server, socket, socketserver, sys, threading, time\n"
	"class H(http.server.BaseHTTPRequestHandler):\n"
	"    protocol_version = 'HTTP/1.1'\n"
	"    def log_message(self, *a): pass\n"
	"    def do_GET(self):\n"
	"        if self.path == '/junk':\n"
	"            self.wfile.write(b'SSH-2.0-not-http\\r\\n\\r\\n'); self.close_connection = True; return\n"
	"        if self.path == '/idle':\n"
	"            self.send_response(200); self.send_header('Content-Length', '2'); self.end_headers()\n"
	"            self.wfile.write(b'ok'); self.wfile.flush()\n"
	"            threading.Timer(0.1, self.connection.shutdown, [socket.SHUT_RDWR]).start(); return\n"
	"        if self.path == '/once':\n"
	"            if getattr(self, 'served', False):\n"
	"                self.close_connection = True; return\n"
	"            self.served = True\n"
	"            self.send_response(200); self.send_header('Content-Length', '2'); self.end_headers()\n"
	"            self.wfile.write(b'ok'); return\n"
	"        self.send_response(200)\n"
	"        if self.path == '/big':\n"
	"            body = b'OK-MARK' + b'x' * (1 << 20)\n"
	"            self.send_header('Content-Length', str(len(body))); self.end_headers()\n"
	"            self.wfile.write(body); return\n"
	"        self.send_header('Content-Length', '1000000'); self.end_headers()\n"
	"        for i in range(100000):\n"
	"            self.wfile.write(b'x'); self.wfile.flush(); time.sleep(0.05)\n"
	"class S(socketserver.ThreadingMixIn, http.server.HTTPServer): daemon_threads = True\n"
	"S(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n";

START_TEST(hostile_answers_are_bounded)
{
	char path[128];
	FILE *f;
	json_t *w;
	struct lv_client *sub;
	bool big = false, slow = false, junk = false;
	bool once_up = false, idle_up = false; /* each has succeeded: from then on, no failure */
	int calm = -1; /* junk's failures since both did (repeated successes are not events,
	                * failures always are) */

	snprintf(path, sizeof path, "%s/hostile.py", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs(hostile_py, f);
	fclose(f);
#define PROBED(name, path_, extra) \
	"{\"name\":\"" name "\",\"autostart\":false,\"exec\":[\"sleep\",\"1000\"],\"probes\":{\"readiness\":" \
	"{\"http\":\"http://127.0.0.1:%d" path_ "\",\"period_ms\":500,\"timeout_ms\":300" extra "}}}"
	lvd_start(&d, "{\"pools\":[{\"name\":\"srv\",\"exec\":[\"python3\",\"%s\",\"%d\"]},"
	              PROBED("big", "/big", ",\"body\":\"^OK-MARK\"") ","
	              PROBED("slow", "/slow", "") "," PROBED("junk", "/junk", "") ","
	              PROBED("once", "/once", "") "," PROBED("idle", "/idle", "") "]}",
	          path, port, port, port, port, port, port);
	sub = subscribe(""); /* every pool */
	json_decref(lvd_call(&d, "start", "{\"target\":\"big\"}"));
	json_decref(lvd_call(&d, "start", "{\"target\":\"slow\"}"));
	json_decref(lvd_call(&d, "start", "{\"target\":\"junk\"}"));
	json_decref(lvd_call(&d, "start", "{\"target\":\"once\"}"));
	json_decref(lvd_call(&d, "start", "{\"target\":\"idle\"}"));
	while (!big || !slow || !junk || calm < 6) { /* 6 of junk's periods: 6 of theirs */
		json_t *ev = next_event(sub, "worker.probe", NULL);
		const char *who = JSTR(ev, "worker"), *result = JSTR(ev, "result");
		const char *why = JSTR(ev, "reason");

		if (!strcmp(who, "big:0") && !strcmp(result, "success"))
			big = true; /* the server is up: what the others say from now on counts */
		if (big && !strcmp(who, "slow:0")) {
			ck_assert_str_eq(why, "timed out after 300 ms");
			slow = true;
		}
		if (!strcmp(who, "once:0") || !strcmp(who, "idle:0")) {
			bool *up = who[0] == 'o' ? &once_up : &idle_up;

			ck_assert_msg(!*up || !strcmp(result, "success"), "%s: %s", who, why);
			*up = *up || !strcmp(result, "success");
			if (once_up && idle_up && calm < 0)
				calm = 0;
		}
		if (big && !strcmp(who, "junk:0")) {
			ck_assert_str_eq(result, "failure");
			junk = true;
			calm += calm >= 0;
		}
		json_decref(ev);
	}
	w = lvd_worker(&d, "big:0");
	ck_assert(json_is_true(json_object_get(w, "ready")));
	json_decref(w);
	json_decref(lvd_call(&d, "ping", NULL)); /* and the loop turns */
	lv_client_close(sub);
}
END_TEST

/* A pool's workers take turns over the period: their first attempts are spread, not all at
 * the same millisecond (4 workers, 2 s: 500 ms apart, 1.5 s from first to last). */
START_TEST(a_pools_probes_are_spread_over_the_period)
{
	struct lv_client *sub;
	long long first[4] = { 0 };
	int seen = 0;
	long long lo = 0, hi = 0;

	lvd_start(&d, "{\"pools\":[{\"name\":\"s\",\"workers\":4,\"autostart\":false,"
	              "\"exec\":[\"sleep\",\"1000\"],\"probes\":{\"readiness\":{"
	              "\"tcp\":\"127.0.0.1:%d\",\"period_ms\":2000}}}]}", port); /* nobody listens */
	sub = subscribe("s");
	json_decref(lvd_call(&d, "start", "{\"target\":\"s\"}"));
	while (seen < 4) {
		json_t *ev = next_event(sub, "worker.probe", NULL);
		int i = atoi(strchr(JSTR(ev, "worker"), ':') + 1);

		if (!first[i]) {
			first[i] = JINT(ev, "time");
			seen++;
		}
		json_decref(ev);
	}
	lo = hi = first[0];
	for (int i = 1; i < 4; i++) {
		lo = first[i] < lo ? first[i] : lo;
		hi = first[i] > hi ? first[i] : hi;
	}
	ck_assert_msg(hi - lo >= 1000, "first attempts within %lld ms of each other", hi - lo);
	lv_client_close(sub);
}
END_TEST

/* A module pool may have a readiness probe (its liveness is its heartbeats): one answering
 * is ready, one asking a port nobody listens on runs and is not ready. */
START_TEST(module_pools_have_readiness)
{
	json_t *w;
	struct lv_client *sub;

	lvd_start(&d, "{\"job_path\":[\"%s\"],\"pools\":["
	              "{\"name\":\"m\",\"module\":\"http\",\"listen\":[\"tcp:127.0.0.1:%d\"],"
	              "\"probes\":{\"readiness\":{\"http\":\"http://127.0.0.1:%d/\",\"period_ms\":200}}},"
	              "{\"name\":\"t\",\"module\":\"ticker\",\"probes\":{\"readiness\":{"
	              "\"tcp\":\"127.0.0.1:%d\",\"period_ms\":200,\"failure_threshold\":1}}}]}",
	          lvd_build_path("jobs"), port, port, http_port);
	sub = subscribe("");
	json_decref(lvd_wait(&d, "m", "running", 0));
	json_decref(lvd_wait(&d, "t", "running", 0));
	if (!worker_ready("m:0"))
		wait_ready(sub, "m:0", true);
	json_decref(next_event(sub, "worker.probe", "t:0"));
	w = lvd_worker(&d, "t:0");
	ck_assert_str_eq(JSTR(w, "state"), "running");
	ck_assert(!json_is_true(json_object_get(w, "ready")));
	json_decref(w);
	lv_client_close(sub);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("probes");
	TCase *tc = tcase_create("probes");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, readiness_gates_followers_and_readyz);
	tcase_add_test(tc, a_rolling_restart_waits_for_readiness);
	tcase_add_test(tc, liveness_restarts_a_stopped_worker);
	tcase_add_test(tc, a_slow_starter_is_protected_by_its_startup_probe);
	tcase_add_test(tc, an_exec_probe_that_hangs_is_killed);
	tcase_add_test(tc, a_log_probe_waits_for_its_line);
	tcase_add_test(tc, hostile_answers_are_bounded);
	tcase_add_test(tc, a_pools_probes_are_spread_over_the_period);
	tcase_add_test(tc, module_pools_have_readiness);
	suite_add_tcase(s, tc);
	return lvd_run_suite(s);
}
