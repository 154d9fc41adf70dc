/* test_http: the "http" listener against the real daemon: /healthz, /readyz, /api/status and
 * /metrics (Prometheus text and OpenMetrics, promtool's verdict when it is installed), the
 * per-worker series cap, the read role on a Unix listener, loopback unless allowed, and the
 * bounds on headers, connections and slow requests. */
#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static struct lvd d;
static int port;
static char path[400];

static void teardown(void)
{
	lvd_stop(&d);
}

static int connect_tcp(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	return fd;
}

static int connect_unix(const char *sock)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	return fd;
}

/* Sends request on fd and reads the answer until the daemon closes; returns the status
 * code, the whole answer (headers and body) in a malloc'd *text. */
static int exchange(int fd, const char *request, char **text)
{
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	ssize_t n;
	int code = 0;

	ck_assert_int_eq(write(fd, request, strlen(request)), (ssize_t)strlen(request));
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (len + 1 == cap)
			ck_assert_ptr_nonnull(buf = realloc(buf, cap *= 2));
	}
	buf[len] = '\0';
	close(fd);
	sscanf(buf, "HTTP/1.%*d %d", &code);
	*text = buf;
	return code;
}

static int get(const char *target, const char *extra_headers, char **text)
{
	char req[1024];

	snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n",
	         target, extra_headers ? extra_headers : "");
	return exchange(connect_tcp(), req, text);
}

static const char *body_of(const char *text)
{
	const char *b = strstr(text, "\r\n\r\n");

	return b ? b + 4 : "";
}

static void start(const char *http_extra, const char *pools)
{
	port = free_port();
	snprintf(path, sizeof path, "unix:http.sock");
	lvd_start(&d, "{\"job_path\":[\"%s\"],\"http\":{\"listen\":[\"tcp:127.0.0.1:%d\",\"%s\"]%s},"
	              "\"pools\":[%s]}", lvd_build_path("jobs"), port, path, http_extra, pools);
}

#define POOLS "{\"name\":\"web\",\"module\":\"ticker\",\"workers\":2}," \
              "{\"name\":\"s\",\"exec\":[\"sleep\",\"1000\"]}"

/* Every line is a comment or NAME{LABELS} VALUE; every family says HELP and TYPE first. */
static void well_formed(const char *body, bool om)
{
	regex_t sample;
	char *copy = strdup(body), *save = NULL, *families = calloc(1, 65536);

	ck_assert_int_eq(regcomp(&sample, "^([a-z_]+)(\\{([a-z_]+=\"[^\"]*\",?)*\\})? "
	                                  "-?[0-9.e+]+$", REG_EXTENDED), 0);
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		regmatch_t m[2];
		char name[128], fam[140];

		if (!strncmp(line, "# HELP ", 7) || !strncmp(line, "# TYPE ", 7)) {
			if (!strncmp(line, "# TYPE ", 7) && sscanf(line + 7, "%127s", name) == 1) {
				snprintf(fam, sizeof fam, " %s ", name);
				strcat(families, fam);
			}
			continue;
		}
		if (!strcmp(line, "# EOF")) {
			ck_assert(om);
			continue;
		}
		ck_assert_msg(regexec(&sample, line, 2, m, 0) == 0, "not a sample: %s", line);
		snprintf(name, sizeof name, "%.*s", (int)(m[1].rm_eo - m[1].rm_so), line);
		if (om && strlen(name) > 6 && !strcmp(name + strlen(name) - 6, "_total"))
			name[strlen(name) - 6] = '\0'; /* a counter's family has no _total there */
		snprintf(fam, sizeof fam, " %s ", name);
		for (const char *const *sfx = (const char *const[]){ "_bucket", "_sum", "_count",
		                                                     NULL }; *sfx && !strstr(families, fam); sfx++) {
			size_t n = strlen(name), k = strlen(*sfx); /* a histogram's series */

			if (n > k && !strcmp(name + n - k, *sfx))
				snprintf(fam, sizeof fam, " %.*s ", (int)(n - k), name);
		}
		ck_assert_msg(strstr(families, fam), "no # TYPE before %s", line);
	}
	regfree(&sample);
	free(copy);
	free(families);
}

START_TEST(endpoints_answer)
{
	char *t;
	json_t *st;

	start("", POOLS);
	json_decref(lvd_wait(&d, "web", "running", 0));
	json_decref(lvd_wait(&d, "s", "running", 0));
	ck_assert_int_eq(get("/healthz", NULL, &t), 200);
	ck_assert_str_eq(body_of(t), "ok\n");
	free(t);
	ck_assert_int_eq(get("/readyz", NULL, &t), 200);
	ck_assert_str_eq(body_of(t), "{\"ready\":true,\"pools\":[]}");
	free(t);
	ck_assert_int_eq(get("/api/status", NULL, &t), 200);
	ck_assert_ptr_nonnull(st = json_loads(body_of(t), 0, NULL));
	ck_assert_uint_eq(json_array_size(json_object_get(st, "workers")), 3);
	ck_assert_uint_eq(json_array_size(json_object_get(st, "pools")), 2);
	json_decref(st);
	free(t);
	ck_assert_int_eq(get("/nope", NULL, &t), 404);
	free(t);

	ck_assert_int_eq(get("/metrics", NULL, &t), 200);
	ck_assert_ptr_nonnull(strstr(t, "Content-Type: text/plain; version=0.0.4"));
	well_formed(body_of(t), false);
	ck_assert_ptr_nonnull(strstr(t, "\nloopvisor_build_info{version=\"" LV_VERSION "\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(t, "\nloopvisor_pool_workers{pool=\"web\",state=\"running\"} 2\n"));
	for (int i = 0; i < 6; i++) { /* every state, 0 included */
		static const char *const states[] = { "stopped", "starting", "running", "stopping",
		                                      "backoff", "failed" };
		char want[128];

		snprintf(want, sizeof want, "\nloopvisor_pool_workers{pool=\"s\",state=\"%s\"} %d\n",
		         states[i], i == 2);
		ck_assert_msg(strstr(t, want), "no %s", want);
	}
	ck_assert_ptr_nonnull(strstr(t, "\nloopvisor_pool_workers_desired{pool=\"web\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(t, "\nloopvisor_pool_ready_workers{pool=\"s\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(t, "\nloopvisor_worker_up{pool=\"s\",worker=\"s:0\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(t, "\nloopvisor_worker_restarts_total{pool=\"web\",worker=\"web:1\"} 0\n"));
	ck_assert_ptr_nonnull(strstr(t, "\nprocess_open_fds "));
	ck_assert_ptr_null(strstr(t, "# EOF"));
	free(t);

	/* OpenMetrics when asked, not when refused with q=0 */
	ck_assert_int_eq(get("/metrics", "Accept: text/plain;q=0.5, application/openmetrics-text;"
	                     "version=1.0.0\r\n", &t), 200);
	ck_assert_ptr_nonnull(strstr(t, "Content-Type: application/openmetrics-text; version=1.0.0"));
	well_formed(body_of(t), true);
	ck_assert_ptr_nonnull(strstr(t, "\n# TYPE process_cpu_seconds counter\n"));
	ck_assert_ptr_nonnull(strstr(t, "\nprocess_cpu_seconds_total "));
	ck_assert_int_eq(strcmp(t + strlen(t) - 6, "# EOF\n"), 0);
	free(t);
	ck_assert_int_eq(get("/metrics", "Accept: application/openmetrics-text;q=0\r\n", &t), 200);
	ck_assert_ptr_null(strstr(t, "# EOF"));
	free(t);
}
END_TEST

/* promtool (Debian prometheus) reads the text format as Prometheus would. */
START_TEST(promtool_finds_nothing_to_say)
{
	char file[] = "/tmp/lvmetrics.XXXXXX", cmd[256], out[8192], err[8192], *t;
	const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	int fd, rc;

	if (access("/usr/bin/promtool", X_OK) != 0) {
		printf("skipped: promtool_finds_nothing_to_say: /usr/bin/promtool is not installed\n");
		return;
	}
	start("", POOLS);
	json_decref(lvd_wait(&d, "web", "running", 0));
	ck_assert_int_eq(get("/metrics", NULL, &t), 200);
	ck_assert_int_ge(fd = mkstemp(file), 0);
	ck_assert_int_eq(write(fd, body_of(t), strlen(body_of(t))), (ssize_t)strlen(body_of(t)));
	close(fd);
	free(t);
	snprintf(cmd, sizeof cmd, "/usr/bin/promtool check metrics < %s", file);
	rc = run_program(argv, out, sizeof out, err, sizeof err);
	unlink(file);
	ck_assert_msg(rc == 0 && !out[0] && !err[0], "promtool: exit %d: %s%s", rc, out, err);
}
END_TEST

/* Reads /metrics until NAME{LABELS} has at least min (or min is -1: is there), for up to
 * 10 s: a heartbeat or an exit the daemon has not read yet is a state to wait for. */
static double metric(const char *series, double min)
{
	for (int tries = 0; tries < 1000; tries++) {
		char *t, *at;
		double v = -1;

		ck_assert_int_eq(get("/metrics", NULL, &t), 200);
		if ((at = strstr(t, series)) && at[-1] == '\n')
			v = strtod(at + strlen(series) + 1, NULL);
		free(t);
		if (v >= min && (v >= 0 || min < 0))
			return v;
		lvd_expect_no_change(&d, "web", "\"failed\"", 10); /* 10 ms, timed by the daemon */
	}
	ck_abort_msg("%s never reached %g", series, min);
	return -1;
}

/* Restarts by reason, log lines, loop lag and spawn histograms, listener queues. */
START_TEST(what_the_pools_count)
{
	pid_t pid;

	port = free_port();
	lvd_start(&d, "{\"job_path\":[\"%s\"],\"http\":{\"listen\":[\"tcp:127.0.0.1:%d\"]},"
	              "\"pools\":[{\"name\":\"web\",\"module\":\"ticker\",\"workers\":2,"
	              "\"heartbeat_ms\":50},{\"name\":\"s\",\"exec\":[\"sh\",\"-c\","
	              "\"echo hello; echo oops >&2; exec sleep 1000\"],\"listen\":[\"tcp:127.0.0.1:%d\"]}]}",
	          lvd_build_path("jobs"), port, free_port());
	json_decref(lvd_wait(&d, "web", "running", 0));
	json_decref(lvd_wait(&d, "s", "running", 0));
	metric("loopvisor_log_lines_total{pool=\"s\",stream=\"stdout\"}", 1);
	metric("loopvisor_log_lines_total{pool=\"s\",stream=\"stderr\"}", 1);
	metric("loopvisor_log_lines_total{pool=\"s\",stream=\"log\"}", 0);
	metric("loopvisor_log_lines_dropped_total{pool=\"s\"}", 0);
	metric("loopvisor_loop_lag_seconds_count{pool=\"web\"}", 1);
	metric("loopvisor_loop_lag_seconds_bucket{pool=\"web\",le=\"+Inf\"}", 1);
	ck_assert(metric("loopvisor_spawn_duration_seconds_count{pool=\"web\"}", 2) == 2);
	metric("loopvisor_listener_queue_length{pool=\"s\",address=", -1);

	pid = lvd_worker_pid(&d, "s:0");
	kill(pid, SIGKILL);
	json_decref(lvd_wait(&d, "s", "running", 1));
	ck_assert(metric("loopvisor_pool_restarts_total{pool=\"s\",reason=\"signal\"}", 1) == 1);
	json_decref(lvd_call(&d, "restart", "{\"target\":\"s\"}"));
	ck_assert(metric("loopvisor_pool_restarts_total{pool=\"s\",reason=\"command\"}", 1) == 1);
	ck_assert(metric("loopvisor_pool_restarts_total{pool=\"s\",reason=\"exit\"}", 0) == 0);
	ck_assert(metric("loopvisor_pool_restarts_total{pool=\"s\",reason=\"hang\"}", 0) == 0);
	ck_assert(metric("loopvisor_pool_restarts_total{pool=\"web\",reason=\"reload\"}", 0) == 0);
	metric("loopvisor_pool_restarts_total{pool=\"web\",reason=\"start_timeout\"}", 0);
	metric("loopvisor_loop_hangs_total{pool=\"web\"}", 0);

	/* the control socket's answers: a method the daemon does not have is "unknown" */
	json_decref(lvd_call_error(&d, "no_such_method_of_a_client", NULL));
	ck_assert(metric("loopvisor_control_requests_total{method=\"unknown\",code=\"-32601\"}",
	                 1) == 1);
	metric("loopvisor_control_requests_total{method=\"restart\",code=\"ok\"}", 1);
	metric("loopvisor_control_request_duration_seconds_count{method=\"status\"}", 1);
	metric("loopvisor_control_request_duration_seconds_bucket{method=\"restart\",le=\"+Inf\"}", 1);
}
END_TEST

/* Reads from fd into buf (appending, len so far) until it holds want, for up to 20 s. */
static size_t read_until(int fd, char *buf, size_t cap, size_t len, const char *want)
{
	while (!strstr(buf, want)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		ck_assert_msg(poll(&p, 1, test_ms(20000)) == 1, "no \"%s\" in: %s", want, buf);
		n = read(fd, buf + len, cap - len - 1);
		ck_assert_msg(n > 0, "the stream ended before \"%s\": %s", want, buf);
		len += (size_t)n;
		buf[len] = '\0';
	}
	return len;
}

/* /events: Server-Sent Events with ids; Last-Event-ID replays what a client missed. */
START_TEST(events_stream_and_resume)
{
	static char buf[65536];
	const char *req = "GET /events HTTP/1.1\r\nHost: x\r\n\r\n";
	char again[256], *rec, want[64];
	unsigned long long id = 0;
	int fd;
	size_t len = 0;

	start("", POOLS);
	json_decref(lvd_wait(&d, "s", "running", 0));
	fd = connect_tcp();
	ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	buf[0] = '\0';
	len = read_until(fd, buf, sizeof buf, len, ": loopvisord events\n\n");
	ck_assert_ptr_nonnull(strstr(buf, "Content-Type: text/event-stream"));
	json_decref(lvd_call(&d, "restart", "{\"target\":\"s\"}"));
	len = read_until(fd, buf, sizeof buf, len, "event: worker.running\n");
	ck_assert_ptr_nonnull(rec = strstr(buf, "event: worker.running\n"));
	ck_assert_ptr_nonnull(strstr(rec, "data: {\"seq\":"));
	ck_assert_ptr_nonnull(strstr(rec, "\"worker\":\"s:0\""));
	while (rec > buf && strncmp(rec, "id: ", 4) != 0)
		rec--;
	ck_assert_int_eq(sscanf(rec, "id: %llu", &id), 1);
	close(fd);

	/* back with the id of the event before: that one is not sent again, this one is */
	snprintf(again, sizeof again, "GET /events HTTP/1.1\r\nHost: x\r\nLast-Event-ID: %llu\r\n"
	         "\r\n", id - 1);
	fd = connect_tcp();
	ck_assert_int_eq(write(fd, again, strlen(again)), (ssize_t)strlen(again));
	buf[0] = '\0';
	snprintf(want, sizeof want, "id: %llu\nevent: worker.running\n", id);
	read_until(fd, buf, sizeof buf, 0, want);
	snprintf(want, sizeof want, "id: %llu\n", id - 1);
	ck_assert_msg(!strstr(buf, want), "replayed the event it had: %s", buf);
	close(fd);
}
END_TEST

/* /api/inspect asks a module worker's loops; an exec worker has none (409); a peer that
 * leaves while a blocked loop keeps the answer back costs the daemon nothing. */
START_TEST(inspect_over_http)
{
	const char *req = "GET /api/inspect?worker=b:0&timeout_ms=5000 HTTP/1.1\r\nHost: x\r\n\r\n";
	char *t;
	json_t *r;
	int fd;

	port = free_port();
	lvd_start(&d, "{\"job_path\":[\"%s\",\"%s\"],\"http\":{\"listen\":[\"tcp:127.0.0.1:%d\"]},"
	              "\"pools\":[{\"name\":\"web\",\"module\":\"ticker\",\"loops\":2},"
	              "{\"name\":\"s\",\"exec\":[\"sleep\",\"1000\"]},{\"name\":\"b\","
	              "\"module\":\"lv_testjob\",\"params\":{\"block_on_inspect\":true}}]}",
	          lvd_build_path("jobs"), lvd_build_path("tests"), port);
	json_decref(lvd_wait(&d, "web", "running", 0));
	json_decref(lvd_wait(&d, "s", "running", 0));
	json_decref(lvd_wait(&d, "b", "running", 0));
	ck_assert_int_eq(get("/api/inspect?worker=web:0", NULL, &t), 200);
	ck_assert_ptr_nonnull(r = json_loads(body_of(t), 0, NULL));
	ck_assert_str_eq(JSTR(r, "worker"), "web:0");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "loops")), 2);
	json_decref(r);
	free(t);
	ck_assert_int_eq(get("/api/inspect?worker=s:0", NULL, &t), 409);
	ck_assert_ptr_nonnull(strstr(t, "has no running job to ask"));
	free(t);
	ck_assert_int_eq(get("/api/inspect?worker=web", NULL, &t), 404);
	free(t);
	ck_assert_int_eq(get("/api/inspect?worker=nope:0", NULL, &t), 404);
	free(t);
	/* asks the worker whose loop blocks on it, then leaves before any answer */
	fd = connect_tcp();
	ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	close(fd);
	ck_assert_int_eq(get("/healthz", NULL, &t), 200); /* the daemon goes on */
	free(t);
	ck_assert_int_eq(get("/api/inspect?worker=b:0&timeout_ms=300", NULL, &t), 504);
	ck_assert_ptr_nonnull(strstr(t, "did not answer within 300 ms"));
	free(t);
}
END_TEST

START_TEST(readyz_names_what_is_not_ready)
{
	char *t;
	json_t *r;

	start("", "{\"name\":\"ok\",\"exec\":[\"sleep\",\"1000\"]},"
	          "{\"name\":\"bad\",\"exec\":[\"/nonexistent/prog\"],\"restart\":\"never\"},"
	          "{\"name\":\"manual\",\"exec\":[\"sleep\",\"1000\"],\"autostart\":false}");
	json_decref(lvd_wait(&d, "bad", "failed", 0));
	json_decref(lvd_wait(&d, "ok", "running", 0));
	ck_assert_int_eq(get("/readyz", NULL, &t), 503);
	ck_assert_ptr_nonnull(r = json_loads(body_of(t), 0, NULL));
	ck_assert(json_is_false(json_object_get(r, "ready")));
	ck_assert_uint_eq(json_array_size(json_object_get(r, "pools")), 1);
	ck_assert_str_eq(JSTR(json_array_get(json_object_get(r, "pools"), 0), "pool"), "bad");
	json_decref(r);
	free(t);
	/* a stop by a command is what the operator wants: ready again */
	json_decref(lvd_call(&d, "stop", "{\"target\":\"bad\"}"));
	ck_assert_int_eq(get("/readyz", NULL, &t), 200);
	free(t);
}
END_TEST

START_TEST(worker_series_stop_at_worker_series_max)
{
	char *t;

	start(",\"worker_series_max\":2", POOLS);
	json_decref(lvd_wait(&d, "web", "running", 0));
	ck_assert_int_eq(get("/metrics", NULL, &t), 200);
	ck_assert_ptr_null(strstr(t, "loopvisor_worker_up"));
	ck_assert_ptr_nonnull(strstr(t, "\nloopvisor_pool_ready_workers{pool=\"web\"} 2\n"));
	free(t);
}
END_TEST

/* On the Unix listener the peer's role counts: root reads, a user with none is refused. */
START_TEST(a_unix_peer_needs_a_role)
{
	char sock[512], *t;
	pid_t pid;
	int status;

	if (skip_unless_root("a_unix_peer_needs_a_role"))
		return;
	ensure_user("lvt_norole");
	start("", POOLS);
	snprintf(sock, sizeof sock, "%s/http.sock", d.dir);
	ck_assert_int_eq(exchange(connect_unix(sock), "GET /healthz HTTP/1.0\r\n\r\n", &t), 200);
	free(t);
	chmod(d.dir, 0711);
	if ((pid = fork()) == 0) {
		struct passwd *pw = getpwnam("lvt_norole");
		int code;

		if (!pw || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
			_exit(2);
		code = exchange(connect_unix(sock), "GET /metrics HTTP/1.0\r\n\r\n", &t);
		_exit(code == 403 && strstr(t, "no role") ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a user without a role read "
	              "the metrics");
}
END_TEST

static int check_config(const char *http, char *out, size_t len)
{
	char file[] = "/tmp/lvhttp.XXXXXX", err[4096];
	const char *argv[] = { lvd_build_path("bin/loopvisord"), "--check", "-c", file, NULL };
	int fd = mkstemp(file), rc;

	ck_assert_int_ge(fd, 0);
	dprintf(fd, "{\"http\":%s,\"pools\":[]}", http);
	close(fd);
	rc = run_program(argv, out, len, err, sizeof err);
	strncat(out, err, len - strlen(out) - 1);
	unlink(file);
	return rc;
}

START_TEST(other_hosts_only_when_allowed)
{
	char out[8192];

	ck_assert_int_eq(check_config("{\"listen\":[\"tcp:0.0.0.0:9819\"]}", out, sizeof out), 1);
	ck_assert_msg(strstr(out, "http.listen[0]: 0.0.0.0:9819 is not a loopback address"),
	              "%s", out);
	ck_assert_int_eq(check_config("{\"listen\":[\"tcp:[::1]:9819\",\"tcp:127.0.0.2:1\"]}", out,
	                              sizeof out), 0);
	ck_assert_int_eq(check_config("{\"listen\":[\"tcp:0.0.0.0:9819\"],\"allow_remote\":true}",
	                              out, sizeof out), 0);
	ck_assert_msg(strstr(out, "warning: http.listen[0] (tcp:0.0.0.0:9819) serves other hosts"),
	              "%s", out);
	ck_assert_int_eq(check_config("{\"listen\":[\"fd:x\"]}", out, sizeof out), 1);
	ck_assert_int_eq(check_config("{\"listen\":[]}", out, sizeof out), 1);
	ck_assert_int_eq(check_config("{\"lisen\":[]}", out, sizeof out), 1);
	ck_assert_msg(strstr(out, "did you mean \"listen\""), "%s", out);
}
END_TEST

/* The daemon's descriptors that are sockets. */
static int daemon_sockets(void)
{
	char dir[64], link[400], target[64];
	struct dirent *e;
	DIR *dp;
	int n = 0;

	snprintf(dir, sizeof dir, "/proc/%d/fd", (int)d.pid);
	ck_assert_ptr_nonnull(dp = opendir(dir));
	while ((e = readdir(dp))) {
		ssize_t len;

		snprintf(link, sizeof link, "%s/%s", dir, e->d_name);
		if ((len = readlink(link, target, sizeof target - 1)) > 0 &&
		    !strncmp(target, "socket:", 7))
			n++;
	}
	closedir(dp);
	return n;
}

/* Big headers are refused. Peers that connect and say nothing hold at most 64 of the
 * daemon's descriptors: past that the listener stops accepting, and a new request waits in
 * the kernel's backlog until places come back. */
START_TEST(headers_and_connections_are_bounded)
{
	char big[16384], req[20000], *t;
	const char *get_req = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	int fds[100], base, waiting, tries;

	start("", POOLS);
	json_decref(lvd_wait(&d, "web", "running", 0));
	base = daemon_sockets();
	memset(big, 'a', sizeof big);
	memcpy(big, "X-Big: ", 7);
	memcpy(big + sizeof big - 5, "\r\n\r\n", 5);
	snprintf(req, sizeof req, "GET /healthz HTTP/1.1\r\nHost: x\r\n%s", big);
	ck_assert_int_ge(exchange(connect_tcp(), req, &t), 400);
	free(t);
	for (int i = 0; i < 100; i++)
		fds[i] = connect_tcp(); /* the kernel completes them; the daemon accepts or not */
	for (tries = 0; tries < 1000 && daemon_sockets() < base + 64; tries++)
		json_decref(lvd_call(&d, "ping", NULL)); /* a turn of its loop */
	ck_assert_int_eq(daemon_sockets(), base + 64);
	waiting = connect_tcp();
	ck_assert_int_eq(write(waiting, get_req, strlen(get_req)), (ssize_t)strlen(get_req));
	for (int i = 0; i < 10; i++) /* turns of its loop: still no more than 64 */
		json_decref(lvd_call(&d, "ping", NULL));
	ck_assert_int_eq(daemon_sockets(), base + 64);
	for (int i = 0; i < 100; i++)
		close(fds[i]);
	ck_assert_int_eq(exchange(waiting, "", &t), 200); /* served once places came back */
	free(t);
}
END_TEST

/* A request whose headers trickle in is cut at the deadline (1 s here), as is a peer that
 * never says anything; an /events stream, older than that, goes on, and an inspect has its
 * whole timeout_ms on top. */
START_TEST(slow_requests_are_cut)
{
	const char *events = "GET /events HTTP/1.1\r\nHost: x\r\n\r\n";
	char env[64], buf[4096], q[128], *t;
	int stream, slow, silent, lags = 0, turns;

	snprintf(env, sizeof env, "LOOPVISOR_HTTP_REQUEST_MS=%d", test_ms(1000));
	lvd_setenv(env);
	port = free_port();
	/* hang_timeout_ms 0: b's loop blocks on the inspect for longer than a hang takes under
	 * valgrind (test_ms stretches the wait tenfold), and a hung worker answers 409 */
	lvd_start(&d, "{\"job_path\":[\"%s\"],\"http\":{\"listen\":[\"tcp:127.0.0.1:%d\"]},"
	              "\"pools\":[{\"name\":\"b\",\"module\":\"lv_testjob\",\"hang_timeout_ms\":0,"
	              "\"params\":{\"block_on_inspect\":true}}]}", lvd_build_path("tests"), port);
	json_decref(lvd_wait(&d, "b", "running", 0));
	stream = connect_tcp();
	ck_assert_int_eq(write(stream, events, strlen(events)), (ssize_t)strlen(events));
	ck_assert_int_gt(read(stream, buf, sizeof buf), 0);
	silent = connect_tcp();
	slow = connect_tcp();
	ck_assert_int_eq(write(slow, "GET /healthz HTTP/1.1\r\n", 23), 23);
	/* a header every 200 ms keeps evhttp's 10 s idle timeout away; 100 turns is 20 s */
	for (turns = 0; turns < 100; turns++) {
		struct pollfd p = { .fd = slow, .events = POLLIN };

		if (poll(&p, 1, 200) == 1)
			break;
		ck_assert_int_eq(write(slow, "X-A: b\r\n", 8), 8);
	}
	ck_assert_msg(turns < 100, "a request trickling in for 20 s was not cut");
	ck_assert_int_le(read(slow, buf, sizeof buf), 0);
	ck_assert_int_eq(read(silent, buf, sizeof buf), 0); /* cut as well, by now */
	while (lags < 3) { /* 3 s of lag records: past the deadline, the stream goes on */
		ssize_t n = read(stream, buf, sizeof buf - 1);

		ck_assert_int_gt(n, 0);
		buf[n] = '\0';
		for (char *at = buf; (at = strstr(at, "event: lag")); at++)
			lags++;
	}
	snprintf(q, sizeof q, "/api/inspect?worker=b:0&timeout_ms=%d", 3 * test_ms(1000));
	ck_assert_int_eq(get(q, NULL, &t), 504); /* its loop blocks: not cut at 1 s */
	free(t);
	close(stream);
	close(slow);
	close(silent);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("http");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, endpoints_answer);
	tcase_add_test(tc, promtool_finds_nothing_to_say);
	tcase_add_test(tc, what_the_pools_count);
	tcase_add_test(tc, events_stream_and_resume);
	tcase_add_test(tc, inspect_over_http);
	tcase_add_test(tc, readyz_names_what_is_not_ready);
	tcase_add_test(tc, worker_series_stop_at_worker_series_max);
	tcase_add_test(tc, a_unix_peer_needs_a_role);
	tcase_add_test(tc, other_hosts_only_when_allowed);
	tcase_add_test(tc, headers_and_connections_are_bounded);
	tcase_add_test(tc, slow_requests_are_cut);
	suite_add_tcase(s, tc);
	return lvd_run_suite(s);
}
