/* test_jobs: hosting jobs for real: hang detection (and no false kill of a slow loop),
 * graceful drain, start timeouts and late readiness, loops in threads, inspect, counters,
 * and sd_notify readiness from programs nobody here wrote (systemd-notify, redis-server). */
#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"

static struct lvd d;

static void teardown(void)
{
	lvd_stop(&d);
}

START_TEST(hung_loop_is_aborted_and_restarted)
{
	json_t *w;

	lvd_start(&d, "{\"job_path\":[\"%s\"],\"pools\":[{\"name\":\"h\",\"module\":\"lv_testjob\","
	              "\"params\":{\"block_after_ticks\":3,\"tick_ms\":20},\"heartbeat_ms\":50,"
	              "\"hang_timeout_ms\":400}]}", lvd_build_path("tests"));
	w = lvd_wait(&d, "h", "[\"backoff\",\"starting\",\"running\"]", 1);
	json_decref(w);
	w = lvd_worker(&d, "h:0");
	ck_assert_msg(!strncmp(JSTR(w, "last_error"), "hung: no heartbeat for ", 23), "%s",
	              JSTR(w, "last_error"));
	ck_assert_str_eq(JSTR(json_object_get(w, "last_exit"), "signal"), "ABRT");
	json_decref(w);
}
END_TEST

/* docs/jobs.md: a loop with no heartbeat for hang_timeout_ms is hung, even when the other
 * loops of its worker beat on; it gets SIGABRT, and its process group SIGKILL 2 s later. */
START_TEST(one_hung_loop_of_three_is_aborted_then_killed_2s_later)
{
	struct lv_client *sub = NULL;
	json_t *res = NULL, *err = NULL, *ev, *w;
	long long hung_at = 0, exited_at = 0;
	const char *m = getenv("CK_TIMEOUT_MULTIPLIER");
	int k = m && atoi(m) > 1 ? atoi(m) : 1;
	char *log;

	lvd_start(&d, "{\"job_path\":[\"%s\"],\"pools\":[{\"name\":\"h\",\"module\":\"lv_testjob\","
	              "\"loops\":3,\"restart\":\"never\",\"params\":{\"block_after_ticks\":3,"
	              "\"block_loop\":2,\"survive_abort\":true,\"tick_ms\":20},\"heartbeat_ms\":50,"
	              "\"hang_timeout_ms\":400,\"autostart\":false}]}", lvd_build_path("tests"));
	ck_assert_ptr_nonnull(sub = lv_client_connect(d.sock));
	ck_assert_int_eq(lv_client_call(sub, "subscribe", json_pack("{s:[s,s], s:s}", "events",
	                                "worker.hung", "worker.exited", "target", "h"), 10000, &res,
	                                &err), 0);
	json_decref(res);
	json_decref(lvd_call(&d, "start", "{\"target\":\"h\"}"));
	while (!exited_at) {
		ev = lvd_next_notification(sub);
		if (!strcmp(JSTR(ev, "event"), "worker.hung"))
			hung_at = JINT(ev, "time");
		else
			exited_at = JINT(ev, "time");
		json_decref(ev);
	}
	lv_client_close(sub);
	ck_assert_msg(hung_at > 0, "the worker exited before it was found hung");
	printf("hung loop: SIGKILL %lld ms after SIGABRT\n", exited_at - hung_at);
	ck_assert_int_ge(exited_at - hung_at, 1900);
	ck_assert_int_le(exited_at - hung_at, 2000 + 3000LL * k);
	w = lvd_worker(&d, "h:0");
	ck_assert_str_eq(JSTR(json_object_get(w, "last_exit"), "signal"), "KILL");
	ck_assert_msg(!strncmp(JSTR(w, "last_error"), "hung: no heartbeat for ", 23), "%s",
	              JSTR(w, "last_error"));
	json_decref(w);
	log = slurp(d.log);
	ck_assert_ptr_nonnull(strstr(log, "h:0: loop 2 hung: no heartbeat for"));
	free(log);
}
END_TEST

/* docs/jobs.md: SIGPIPE has a handler that does nothing, so a job writing to a pipe whose
 * reader is gone gets EPIPE instead of being killed. */
START_TEST(a_write_to_a_closed_pipe_gives_epipe)
{
	json_t *w, *r;
	bool seen = false;
	size_t i;

	lvd_start(&d, "{\"job_path\":[\"%s\"],\"pools\":[{\"name\":\"p\",\"module\":\"lv_testjob\","
	              "\"params\":{\"write_to_closed_pipe\":true}}]}", lvd_build_path("tests"));
	json_decref(lvd_wait(&d, "p", "running", 0)); /* its log line came before its readiness */
	r = lvd_call(&d, "tail", "{\"target\":\"p\",\"lines\":50}");
	json_array_foreach(json_object_get(r, "lines"), i, w)
		seen |= strstr(JSTR(w, "text"), "write to a closed pipe: Broken pipe") != NULL;
	json_decref(r);
	ck_assert_msg(seen, "no EPIPE reported by the job");
	w = lvd_worker(&d, "p:0");
	ck_assert_int_eq(JINT(w, "restarts"), 0);
	ck_assert_str_eq(JSTR(w, "state"), "running");
	json_decref(w);
}
END_TEST

/* docs/jobs.md: a module worker whose channel closes exits at once (the daemon is alive,
 * so no PR_SET_PDEATHSIG is involved). The test takes a copy of the worker's own end
 * (pidfd_getfd) and shuts it both ways: the state the daemon's closing its end leaves it
 * in. Hang detection is off, so only the worker itself can end it; it exits 0. */
START_TEST(a_module_worker_exits_when_its_channel_closes)
{
	char link[64], target[64];
	int pidfd, fd;
	pid_t pid;
	json_t *w;
	ssize_t n;

	lvd_start(&d, "{\"job_path\":[\"%s\"],\"pools\":[{\"name\":\"c\",\"module\":\"lv_testjob\","
	              "\"restart\":\"never\",\"hang_timeout_ms\":0}]}", lvd_build_path("tests"));
	json_decref(lvd_wait(&d, "c", "running", 0));
	pid = lvd_worker_pid(&d, "c:0");
	snprintf(link, sizeof link, "/proc/%d/fd/3", (int)pid); /* its one loop's channel */
	ck_assert_int_gt(n = readlink(link, target, sizeof target - 1), 0);
	target[n] = '\0';
	ck_assert_msg(!strncmp(target, "socket:", 7), "fd 3 is %s", target);
	ck_assert_int_ge(pidfd = (int)syscall(SYS_pidfd_open, pid, 0), 0);
	ck_assert_int_ge(fd = (int)syscall(SYS_pidfd_getfd, pidfd, 3, 0), 0);
	ck_assert_int_eq(shutdown(fd, SHUT_RDWR), 0);
	close(fd);
	close(pidfd);
	ck_assert_msg(pid_gone_within(pid, 3000), "the worker lingers with its channel closed");
	json_decref(lvd_wait(&d, "c", "[\"stopped\",\"failed\"]", 0));
	w = lvd_worker(&d, "c:0");
	ck_assert_int_eq(JINT(json_object_get(w, "last_exit"), "code"), 0);
	json_decref(w);
}
END_TEST

START_TEST(crashing_job_is_restarted)
{
	json_t *w;

	lvd_start(&d, "{\"job_path\":[\"%s\"],\"pools\":[{\"name\":\"c\",\"module\":\"lv_testjob\","
	              "\"params\":{\"crash_after_ticks\":2,\"tick_ms\":10}}]}", lvd_build_path("tests"));
	w = lvd_wait(&d, "c", "[\"backoff\",\"starting\",\"running\"]", 1);
	json_decref(w);
	w = lvd_worker(&d, "c:0");
	ck_assert_str_eq(JSTR(json_object_get(w, "last_exit"), "signal"), "SEGV");
	ck_assert(json_is_null(json_object_get(w, "last_error")));
	json_decref(w);
}
END_TEST

/* Sends the same text n times on fd while reading (and counting) reply lines: the replies
 * never pile up in the daemon. Returns when as many lines came back. */
static void send_reading_replies(int fd, const char *text, size_t len, int n)
{
	size_t sent = 0, total = len * (size_t)n;
	int lines = 0;
	char buf[65536];

	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (lines < n) {
		struct pollfd p = { .fd = fd, .events = POLLIN | (sent < total ? POLLOUT : 0) };
		ssize_t k;

		ck_assert_msg(poll(&p, 1, test_ms(20000)) > 0, "the daemon stopped answering (%d of %d)", lines, n);
		if ((p.revents & POLLOUT) && (k = write(fd, text + sent % len, len - sent % len)) > 0)
			sent += (size_t)k;
		if ((p.revents & POLLIN) && (k = read(fd, buf, sizeof buf)) > 0)
			for (ssize_t i = 0; i < k; i++)
				lines += buf[i] == '\n';
		ck_assert(!(p.revents & (POLLERR | POLLHUP)));
	}
}

/* A loop that never reads its channel again, and 409600 inspect requests for it (in
 * batches of 256, each timing out after 1 ms): what the daemon queues for the loop stays
 * bounded. Unbounded it took ~6 MiB per 200000. */
START_TEST(inspecting_a_deaf_loop_queues_a_bounded_amount)
{
	char *batch = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&batch, &len);
	struct lv_client *c;
	long before;

	/* Only RSS can tell, and these keep freed memory: 409,600 requests would prove nothing
	 * there (and take minutes under memcheck). */
#if defined(__SANITIZE_ADDRESS__)
	printf("skipped: AddressSanitizer keeps freed memory in quarantine\n");
	fclose(f);
	free(batch);
	return;
#endif
	if (lvd_under_valgrind()) {
		printf("skipped: the daemon runs under valgrind, which keeps freed memory\n");
		fclose(f);
		free(batch);
		return;
	}
	fputc('[', f);
	for (int i = 0; i < 256; i++)
		fprintf(f, "%s{\"jsonrpc\":\"2.0\",\"method\":\"inspect\",\"params\":{\"target\":"
		        "\"deaf:0\",\"timeout_ms\":1},\"id\":%d}", i ? "," : "", i);
	fputs("]\n", f);
	fclose(f);
	lvd_start(&d, "{\"job_path\":[\"%s\"],\"pools\":[{\"name\":\"deaf\",\"module\":"
	              "\"lv_testjob\",\"hang_timeout_ms\":0,\"params\":{\"block_on_inspect\":true}}]}",
	              lvd_build_path("tests"));
	json_decref(lvd_wait(&d, "deaf", "running", 0));
	/* its loop hangs in the first inspect from now on */
	json_decref(lvd_call_error(&d, "inspect", "{\"target\":\"deaf:0\",\"timeout_ms\":100}"));
	before = proc_status_value(d.pid, "VmRSS:");
	c = lv_client_connect(d.sock);
	send_reading_replies(lv_client_fd(c), batch, len, 1600);
	lv_client_close(c);
	free(batch);
	printf("inspecting a deaf loop: the daemon's RSS went from %ld to %ld KiB\n", before,
	       proc_status_value(d.pid, "VmRSS:"));
	ck_assert_int_lt(proc_status_value(d.pid, "VmRSS:") - before, 4096);
}
END_TEST

START_TEST(busy_but_alive_loop_is_not_killed)
{
	json_t *w, *loop;
	pid_t pid;

	/* every 50 ms tick spins 150 ms: heavy lag, but heartbeats keep coming. Watched for three
	 * hang timeouts: a deadline the heartbeats did not push would have fired twice over. */
	lvd_start(&d, "{\"job_path\":[\"%s\"],\"pools\":[{\"name\":\"b\",\"module\":\"lv_testjob\","
	              "\"params\":{\"busy_ms\":150,\"tick_ms\":50},\"heartbeat_ms\":50,"
	              "\"hang_timeout_ms\":2000}]}", lvd_build_path("tests"));
	json_decref(lvd_wait(&d, "b", "running", 0));
	pid = lvd_worker_pid(&d, "b:0");
	lvd_expect_no_change(&d, "b", "[\"stopping\",\"stopped\",\"backoff\",\"failed\"]",
	                     3 * 2000); /* the harness stretches it */
	w = lvd_worker(&d, "b:0");
	ck_assert_str_eq(JSTR(w, "state"), "running");
	ck_assert_int_eq(JINT(w, "restarts"), 0);
	ck_assert_int_eq(JINT(w, "pid"), pid);
	ck_assert_msg(json_is_null(json_object_get(w, "last_error")), "%s", JSTR(w, "last_error"));
	loop = json_object_get(w, "loop");
	ck_assert_int_ge(JINT(loop, "lag_max_us"), 50000);
	ck_assert(json_is_integer(json_object_get(loop, "heartbeat_age_ms")));
	ck_assert_int_lt(JINT(loop, "heartbeat_age_ms"), 2000);
	ck_assert_int_gt(JINT(json_object_get(w, "counters"), "ticks"), 0);
	json_decref(w);
}
END_TEST

START_TEST(inspect_answers_or_times_out)
{
	json_t *r, *loop;

	lvd_start(&d, "{\"job_path\":[\"%s\"],\"pools\":["
	              "{\"name\":\"ok\",\"module\":\"lv_testjob\"},"
	              "{\"name\":\"stuck\",\"module\":\"lv_testjob\",\"hang_timeout_ms\":0,"
	              "\"params\":{\"block_on_inspect\":true}},"
	              "{\"name\":\"x\",\"exec\":[\"sleep\",\"1000\"]}]}", lvd_build_path("tests"));
	json_decref(lvd_wait(&d, "ok", "running", 0));
	r = lvd_call(&d, "inspect", "{\"target\":\"ok:0\"}");
	ck_assert_str_eq(JSTR(r, "worker"), "ok:0");
	loop = json_array_get(json_object_get(r, "loops"), 0);
	ck_assert_int_eq(JINT(loop, "loop"), 0);
	ck_assert(json_is_integer(json_object_get(json_object_get(loop, "job"), "ticks")));
	json_decref(r);
	/* a blocked loop cannot answer; the daemon does not wait for it forever */
	json_decref(lvd_wait(&d, "stuck", "running", 0));
	r = lvd_call_error(&d, "inspect", "{\"target\":\"stuck:0\",\"timeout_ms\":300}");
	ck_assert_int_eq(JINT(r, "code"), -32002);
	json_decref(r);
	r = lvd_call(&d, "ping", NULL);
	json_decref(r);
	r = lvd_call_error(&d, "inspect", "{\"target\":\"x:0\"}");
	ck_assert_int_eq(JINT(r, "code"), -32006);
	json_decref(r);
	r = lvd_call_error(&d, "inspect", "{\"target\":\"ok\"}");
	ck_assert_int_eq(JINT(r, "code"), -32602);
	json_decref(r);
}
END_TEST

/* The status of worker once its counter `key` reached at least `want` (heartbeats carry
 * counters), or the last one seen after timeout_ms. */
static json_t *wait_for_counter(struct lvd *dd, const char *worker, const char *key,
                                long long want, int timeout_ms)
{
	for (int waited = 0;; waited += 20) {
		json_t *w = lvd_worker(dd, worker);

		if (JINT(json_object_get(w, "counters"), key) >= want || waited >= test_ms(timeout_ms))
			return w;
		json_decref(w);
		poll(NULL, 0, 20); /* the next heartbeat */
	}
}

START_TEST(loops_run_in_their_own_threads_and_bases)
{
	json_t *r, *loops, *w;

	lvd_start(&d, "{\"job_path\":[\"%s\"],\"pools\":[{\"name\":\"l\",\"module\":\"lv_testjob\","
	              "\"loops\":3,\"heartbeat_ms\":50,\"params\":{\"tick_ms\":10,\"count_loops\":true}}]}",
	              lvd_build_path("tests"));
	json_decref(lvd_wait(&d, "l", "running", 0));
	r = lvd_call(&d, "inspect", "{\"target\":\"l:0\"}");
	loops = json_object_get(r, "loops");
	ck_assert_uint_eq(json_array_size(loops), 3);
	for (size_t i = 0; i < 3; i++) {
		json_t *a = json_array_get(loops, i);

		ck_assert_int_eq(JINT(a, "loop"), (int)i);
		for (size_t j = 0; j < i; j++) {
			json_t *b = json_array_get(loops, j);
			ck_assert_int_ne(JINT(a, "thread"), JINT(b, "thread"));
			ck_assert_str_ne(JSTR(a, "base"), JSTR(b, "base"));
		}
	}
	json_decref(r);
	/* status shows every loop; counters are summed over them once all have beaten: each
	 * loop counts 1 in "loops", so only the sum over all three makes 3 */
	r = lvd_call(&d, "wait", "{\"target\":\"l\",\"state\":\"running\"}");
	json_decref(r);
	w = wait_for_counter(&d, "l:0", "loops", 3, 10000);
	ck_assert_uint_eq(json_array_size(json_object_get(w, "loop")), 3);
	ck_assert_int_eq(JINT(json_object_get(w, "counters"), "loops"), 3);
	ck_assert_int_ge(JINT(json_object_get(w, "counters"), "ticks"), 3);
	json_decref(w);
}
END_TEST

START_TEST(graceful_stop_drains_within_the_timeout)
{
	json_t *w;

	lvd_start(&d, "{\"job_path\":[\"%s\"],\"pools\":["
	              "{\"name\":\"slow\",\"module\":\"lv_testjob\",\"params\":{\"drain_ms\":300},"
	              "\"stop_timeout_ms\":5000},"
	              "{\"name\":\"slower\",\"module\":\"lv_testjob\",\"params\":{\"drain_ms\":5000},"
	              "\"stop_timeout_ms\":300}]}", lvd_build_path("tests"));
	json_decref(lvd_wait(&d, "slow", "running", 0));
	json_decref(lvd_wait(&d, "slower", "running", 0));
	json_decref(lvd_call(&d, "stop", "{\"target\":\"slow\"}"));
	w = lvd_worker(&d, "slow:0");
	ck_assert_int_eq(JINT(json_object_get(w, "last_exit"), "code"), 0);
	json_decref(w);
	json_decref(lvd_call(&d, "stop", "{\"target\":\"slower\"}"));
	w = lvd_worker(&d, "slower:0");
	ck_assert_str_eq(JSTR(json_object_get(w, "last_exit"), "signal"), "KILL");
	json_decref(w);
}
END_TEST

START_TEST(start_timeout_and_late_readiness)
{
	json_t *w;

	lvd_start(&d, "{\"job_path\":[\"%s\"],\"pools\":["
	              "{\"name\":\"late\",\"module\":\"lv_testjob\",\"params\":{\"ready_after_ms\":%d},"
	              "\"autostart\":false},"
	              "{\"name\":\"never\",\"module\":\"lv_testjob\",\"params\":{\"ready_after_ms\":-1},"
	              "\"start_timeout_ms\":300,\"restart\":\"never\"}]}", lvd_build_path("tests"),
	              test_ms(400));
	json_decref(lvd_call(&d, "start", "{\"target\":\"late\",\"wait\":false}"));
	w = lvd_worker(&d, "late:0");
	ck_assert_str_eq(JSTR(w, "state"), "starting");
	json_decref(w);
	w = lvd_wait(&d, "late", "running", 0);
	ck_assert_int_ge(JINT(first_worker(w), "uptime_ms"), test_ms(400) - 50);
	json_decref(w);
	w = lvd_wait(&d, "never", "failed", 0);
	ck_assert_str_eq(JSTR(first_worker(w), "last_error"), "start timeout: not ready within 300 ms");
	json_decref(w);
}
END_TEST

/* ---- sd_notify from exec workers ---- */

static char *worker_env(pid_t pid, const char *name)
{
	char path[64], *env, *p, *out = NULL;
	size_t len;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	env = malloc(65536);
	len = fread(env, 1, 65535, f);
	fclose(f);
	env[len] = '\0';
	for (p = env; p < env + len; p += strlen(p) + 1)
		if (!strncmp(p, name, strlen(name)) && p[strlen(name)] == '=')
			out = strdup(p + strlen(name) + 1);
	free(env);
	return out;
}

static void send_datagram(const char *address, const char *text)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(address) + 1);

	ck_assert_int_eq(address[0], '/'); /* a file whose mode decides who may send */
	memcpy(sun.sun_path, address, strlen(address));
	ck_assert_int_ge(sendto(fd, text, strlen(text), 0, (struct sockaddr *)&sun, len), 0);
	close(fd);
}

START_TEST(notify_readiness_needs_ready_from_the_worker)
{
	json_t *w;
	char *address;

	lvd_start(&d, "{\"pools\":["
	              "{\"name\":\"quiet\",\"exec\":[\"sleep\",\"1000\"],\"ready\":\"notify\","
	              "\"autostart\":false},"
	              "{\"name\":\"script\",\"exec\":[\"sh\",\"-c\",\"systemd-notify --status=warming; "
	              "systemd-notify --ready --status=serving; exec sleep 1000\"],\"ready\":\"notify\"}]}");
	w = lvd_wait(&d, "script", "running", 0);
	ck_assert_str_eq(JSTR(json_object_get(first_worker(w), "notify"), "status"), "serving");
	json_decref(w);
	/* someone else's READY=1 does not count: only the worker and its session speak for it */
	json_decref(lvd_call(&d, "start", "{\"target\":\"quiet\",\"wait\":false}"));
	/* every notify worker of a user gets the same address; the running script shows it
	 * (once its exec of sleep is done: /proc's environ reads empty in the middle of one) */
	for (int tries = 0; !(address = worker_env(lvd_worker_pid(&d, "script:0"), "NOTIFY_SOCKET")) &&
	                    tries < test_ms(1000); tries++)
		usleep(10000);
	ck_assert_ptr_nonnull(address);
	send_datagram(address, "READY=1");
	send_datagram(address, "");
	{
		char big[6000];
		memset(big, 'x', sizeof big - 1);
		memcpy(big, "READY=1\n", 8);
		big[sizeof big - 1] = '\0';
		send_datagram(address, big);
	}
	free(address);
	lvd_expect_no_change(&d, "quiet", "\"running\"", 300);
	w = lvd_worker(&d, "quiet:0");
	ck_assert_str_eq(JSTR(w, "state"), "starting");
	json_decref(w);
	/* the daemon's own NOTIFY_SOCKET (the harness's) never reaches a plain worker */
	w = lvd_worker(&d, "script:0");
	address = worker_env((pid_t)JINT(w, "pid"), "NOTIFY_SOCKET");
	ck_assert_ptr_nonnull(address);
	ck_assert_str_ne(address, d.notify_path);
	free(address);
	json_decref(w);
}
END_TEST

START_TEST(watchdog_pings_are_heartbeats)
{
	json_t *w;

	/* "beats" keeps pinging; "stalls" pings once, then never again: hung */
	lvd_start(&d, "{\"pools\":["
	              "{\"name\":\"beats\",\"exec\":[\"sh\",\"-c\",\"systemd-notify --ready; "
	              "while systemd-notify WATCHDOG=1; do sleep 0.1; done\"],\"ready\":\"notify\","
	              "\"hang_timeout_ms\":1500},"
	              "{\"name\":\"stalls\",\"exec\":[\"sh\",\"-c\",\"systemd-notify --ready; "
	              "systemd-notify WATCHDOG=1; exec sleep 1000\"],\"ready\":\"notify\","
	              "\"hang_timeout_ms\":300}]}");
	w = lvd_wait(&d, "stalls", "[\"backoff\",\"starting\",\"running\"]", 1);
	json_decref(w);
	w = lvd_worker(&d, "stalls:0");
	ck_assert_msg(!strncmp(JSTR(w, "last_error"), "hung: no heartbeat for ", 23), "%s",
	              JSTR(w, "last_error"));
	json_decref(w);
	json_decref(lvd_wait(&d, "beats", "running", 0));
	lvd_expect_no_change(&d, "beats", "[\"backoff\",\"stopped\",\"failed\"]", 2000);
	w = lvd_worker(&d, "beats:0");
	ck_assert_int_eq(JINT(w, "restarts"), 0);
	ck_assert(json_is_integer(json_object_get(json_object_get(w, "loop"), "heartbeat_age_ms")));
	json_decref(w);
}
END_TEST

START_TEST(redis_server_is_ready_only_after_it_says_so)
{
	char dir[] = "/tmp/lvredis.XXXXXX";
	json_t *w;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	lvd_start(&d, "{\"pools\":[{\"name\":\"redis\",\"exec\":[\"redis-server\",\"--port\",\"0\","
	              "\"--unixsocket\",\"%s/redis.sock\",\"--supervised\",\"systemd\",\"--save\",\"\","
	              "\"--appendonly\",\"no\",\"--dir\",\"%s\"],\"ready\":\"notify\","
	              "\"stop_timeout_ms\":5000}]}", dir, dir);
	w = lvd_wait(&d, "redis", "running", 0);
	ck_assert_ptr_nonnull(JSTR(json_object_get(first_worker(w), "notify"), "status"));
	json_decref(w);
	/* its socket is up: the READY=1 came after redis was serving */
	ck_assert_int_eq(access(dir, F_OK), 0);
	{
		char sock[64];
		snprintf(sock, sizeof sock, "%s/redis.sock", dir);
		ck_assert_int_eq(access(sock, F_OK), 0);
	}
	json_decref(lvd_call(&d, "stop", "{\"target\":\"redis\"}"));
	w = lvd_worker(&d, "redis:0");
	ck_assert_int_eq(JINT(json_object_get(w, "last_exit"), "code"), 0);
	ck_assert(json_is_true(json_object_get(json_object_get(w, "notify"), "stopping")));
	json_decref(w);
	rmdir(dir);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("jobs");
	TCase *tc = tcase_create("health");
	TCase *tn = tcase_create("notify");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, hung_loop_is_aborted_and_restarted);
	tcase_add_test(tc, a_write_to_a_closed_pipe_gives_epipe);
	tcase_add_test(tc, one_hung_loop_of_three_is_aborted_then_killed_2s_later);
	tcase_add_test(tc, crashing_job_is_restarted);
	tcase_add_test(tc, a_module_worker_exits_when_its_channel_closes);
	tcase_add_test(tc, busy_but_alive_loop_is_not_killed);
	tcase_add_test(tc, inspect_answers_or_times_out);
	tcase_add_test(tc, inspecting_a_deaf_loop_queues_a_bounded_amount);
	tcase_add_test(tc, loops_run_in_their_own_threads_and_bases);
	tcase_add_test(tc, graceful_stop_drains_within_the_timeout);
	tcase_add_test(tc, start_timeout_and_late_readiness);
	suite_add_tcase(su, tc);
	tcase_add_checked_fixture(tn, NULL, teardown);
	tcase_set_timeout(tn, 60);
	tcase_add_test(tn, notify_readiness_needs_ready_from_the_worker);
	tcase_add_test(tn, redis_server_is_ready_only_after_it_says_so);
	tcase_add_test(tn, watchdog_pings_are_heartbeats);
	suite_add_tcase(su, tn);
	return lvd_run_suite(su);
}
