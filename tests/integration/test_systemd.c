/* test_systemd: loopvisord as a systemd service without systemd: a notify receiver (an
 * AF_UNIX datagram socket with SO_PASSCRED as NOTIFY_SOCKET) checks READY=1 after the
 * workers run, STATUS=, the watchdog cadence, RELOADING=1/READY=1, STOPPING=1 and that
 * only the daemon speaks; systemd-socket-activate starts it on the first connection. */
#include <check.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static struct lvd d;

static void teardown(void)
{
	lvd_stop(&d);
}

/* Reads datagrams until one contains needle; every one must come from the daemon. */
static char *notify_until(const char *needle, int timeout_ms)
{
	char *msg;
	pid_t sender;

	while ((msg = lvd_notify_next(&d, timeout_ms, &sender)) != NULL) {
		ck_assert_msg(sender == d.pid, "a datagram from pid %d, not the daemon: %s",
		              (int)sender, msg);
		if (strstr(msg, needle))
			return msg;
		free(msg);
	}
	ck_abort_msg("no %s from the daemon", needle);
	return NULL;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

START_TEST(ready_status_reload_and_stopping)
{
	json_t *st, *w;
	size_t i;
	char *msg, *log;
	FILE *f;

	/* "n" says it is ready a second after it starts: READY=1 of the daemon waits for it */
	lvd_start(&d, "{\"pools\":[{\"name\":\"m\",\"module\":\"ticker\",\"workers\":2},"
	              "{\"name\":\"s\",\"exec\":[\"sleep\",\"1000\"]},"
	              "{\"name\":\"n\",\"ready\":\"notify\",\"exec\":[\"sh\",\"-c\","
	              "\"sleep 1; systemd-notify --ready; exec sleep 1000\"]}]}");
	/* READY=1 came (the harness waited for it) and by then every worker ran */
	st = lvd_call(&d, "status", NULL);
	json_array_foreach(json_object_get(st, "workers"), i, w)
		ck_assert_str_eq(JSTR(w, "state"), "running");
	json_decref(st);
	ck_assert_str_eq(d.ready_msg, "READY=1\nSTATUS=3 pools, 4/4 workers running");

	json_decref(lvd_call(&d, "reload", NULL));
	msg = notify_until("RELOADING=1", 5000);
	ck_assert_ptr_nonnull(strstr(msg, "MONOTONIC_USEC="));
	free(msg);
	msg = notify_until("READY=1", 5000);
	ck_assert_ptr_nonnull(strstr(msg, "\nSTATUS=3 pools, 4/4 workers running"));
	free(msg);

	/* a worker has nothing of the daemon's NOTIFY_SOCKET: it cannot speak for it */
	{
		char path[64], env[65536];
		size_t len;

		snprintf(path, sizeof path, "/proc/%d/environ", (int)lvd_worker_pid(&d, "s:0"));
		f = fopen(path, "r");
		ck_assert_ptr_nonnull(f);
		len = fread(env, 1, sizeof env, f);
		fclose(f);
		ck_assert_ptr_null(memmem(env, len, "NOTIFY_SOCKET=", 14));
		ck_assert_ptr_nonnull(memmem(env, len, "LOOPVISOR_WORKER=s:0", 20));
	}
	json_decref(lvd_call(&d, "shutdown", NULL));
	msg = notify_until("STOPPING=1", 5000);
	ck_assert_ptr_nonnull(strstr(msg, "EXTEND_TIMEOUT_USEC="));
	free(msg);
	ck_assert(lvd_wait_exit(&d, 20000));
	/* stderr is a file here, not the journal's stream: no <N> priority prefixes */
	log = slurp(d.log);
	ck_assert_ptr_nonnull(strstr(log, " loopvisord["));
	ck_assert_ptr_null(strstr(log, "<6>"));
	free(log);
}
END_TEST

/* docs/systemd.md: RELOADING=1 before a reload, READY=1 after it, also when the file is
 * refused (else systemd would wait in "reloading" until its timeout), by the method and
 * by SIGHUP alike; nothing changes. */
START_TEST(a_refused_reload_still_says_ready)
{
	json_t *e;
	char *msg, *log;
	pid_t s0;

	lvd_start(&d, "{\"pools\":[{\"name\":\"s\",\"exec\":[\"sleep\",\"1000\"]}]}");
	json_decref(lvd_wait(&d, "s", "running", 0));
	s0 = lvd_worker_pid(&d, "s:0");
	lvd_write_config(&d, "{\"pools\":[{\"name\":\"s\",\"exec\":[\"sleep\",\"1000\"],\"wrokers\":2}]}");
	e = lvd_call_error(&d, "reload", NULL);
	ck_assert_int_eq(JINT(e, "code"), -32007);
	json_decref(e);
	msg = notify_until("RELOADING=1", 5000);
	ck_assert_ptr_null(strstr(msg, "READY=1"));
	free(msg);
	free(notify_until("READY=1", 5000));

	kill(d.pid, SIGHUP);
	msg = notify_until("RELOADING=1", 5000);
	ck_assert_ptr_nonnull(strstr(msg, "MONOTONIC_USEC="));
	free(msg);
	free(notify_until("READY=1", 5000));
	log = slurp(d.log);
	ck_assert_ptr_nonnull(strstr(log, "reload failed, nothing changed"));
	free(log);
	ck_assert_int_eq(lvd_worker_pid(&d, "s:0"), s0);
}
END_TEST

/* A receiver that stops reading fills its queue (net.unix.max_dgram_qlen datagrams, 10 on
 * some kernels): the daemon drops what does not fit and goes on, it never blocks on it. */
START_TEST(a_notify_receiver_that_stops_reading_blocks_nothing)
{
	char *log;

	lvd_start(&d, "{\"pools\":[{\"name\":\"s\",\"exec\":[\"sleep\",\"1000\"]}]}");
	for (int i = 0; i < 30; i++) /* RELOADING=1, READY=1 and STATUS= each, nobody reads */
		json_decref(lvd_call(&d, "reload", NULL));
	json_decref(lvd_call(&d, "restart", "{\"target\":\"s\"}"));
	json_decref(lvd_call(&d, "shutdown", NULL));
	ck_assert(lvd_wait_exit(&d, 20000));
	log = slurp(d.log);
	ck_assert_ptr_nonnull(strstr(log, "systemd notification dropped"));
	free(log);
}
END_TEST

START_TEST(watchdog_pings_at_half_the_interval)
{
	long long last, gap, worst = 0;
	char *msg;

	lvd_setenv("WATCHDOG_USEC=400000");
	lvd_start(&d, "{\"pools\":[]}");
	free(notify_until("WATCHDOG=1", 1000));
	last = now_ms();
	for (int i = 0; i < 8; i++) {
		msg = notify_until("WATCHDOG=1", 1000);
		free(msg);
		gap = now_ms() - last;
		last += gap;
		if (gap > worst)
			worst = gap;
	}
	/* every 200 ms; systemd would act after 400 (the jitter allowed stretches with test_ms) */
	ck_assert_int_lt(worst, 200 + test_ms(180));
}
END_TEST

/* One HTTP request to 127.0.0.1:port; returns the reply's first bytes. */
static char *http_get(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	static char buf[1024];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ssize_t n, len = 0;

	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	ck_assert_int_gt(write(fd, "GET / HTTP/1.0\r\n\r\n", 18), 0);
	while (len < (ssize_t)sizeof buf - 1 && (n = read(fd, buf + len, sizeof buf - 1 - (size_t)len)) > 0)
		len += n;
	buf[len] = '\0';
	close(fd);
	return buf;
}

START_TEST(socket_activation_starts_it_on_the_first_connection)
{
	char dir[] = "/tmp/lvact.XXXXXX", sock[64], cfg[64], web[32];
	struct lv_client *c = NULL;
	json_t *res = NULL, *err = NULL;
	FILE *f;
	pid_t pid;
	int status, port = free_port();

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock, sizeof sock, "%s/control.sock", dir);
	snprintf(cfg, sizeof cfg, "%s/config.json", dir);
	snprintf(web, sizeof web, "127.0.0.1:%d", port);
	f = fopen(cfg, "w");
	/* the http pool serves on a socket systemd holds: "fd:web" */
	fputs("{\"pools\":[{\"name\":\"m\",\"module\":\"ticker\"},"
	      "{\"name\":\"web\",\"module\":\"http\",\"listen\":[\"fd:web\"]}]}", f);
	fclose(f);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
			_exit(126);
		execlp("systemd-socket-activate", "systemd-socket-activate", "-l", sock, "-l", web,
		       "--fdname=control:web", lvd_build_path("bin/loopvisord"), "-c", cfg,
		       (char *)NULL);
		_exit(127);
	}
	/* the listening socket appears before the daemon exists; connecting starts it */
	for (int i = 0; i < 2000 && !(c = lv_client_connect(sock)); i++)
		ck_assert(!pid_gone_within(pid, 5));
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(lv_client_call(c, "wait", json_pack("{s:s, s:s}", "target", "m", "state",
	                                "running"), test_ms(20000), &res, &err), 0);
	ck_assert_ptr_nonnull(res);
	json_decref(res);
	ck_assert_int_eq(lv_client_call(c, "wait", json_pack("{s:s, s:s}", "target", "web", "state",
	                                "running"), test_ms(20000), &res, &err), 0);
	ck_assert_ptr_nonnull(res);
	json_decref(res);
	ck_assert_ptr_nonnull(strstr(http_get(port), "X-Worker-Pid: "));
	ck_assert_int_eq(lv_client_call(c, "shutdown", NULL, test_ms(20000), &res, &err), 0);
	json_decref(res);
	lv_client_close(c);
	ck_assert(pid_gone_within(pid, 20000));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* systemd's socket is systemd's: the daemon did not remove it */
	ck_assert_int_eq(access(sock, F_OK), 0);
	unlink(sock);
	unlink(cfg);
	rmdir(dir);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("systemd");
	TCase *tc = tcase_create("notify");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, ready_status_reload_and_stopping);
	tcase_add_test(tc, a_refused_reload_still_says_ready);
	tcase_add_test(tc, watchdog_pings_at_half_the_interval);
	tcase_add_test(tc, a_notify_receiver_that_stops_reading_blocks_nothing);
	tcase_add_test(tc, socket_activation_starts_it_on_the_first_connection);
	suite_add_tcase(su, tc);
	return lvd_run_suite(su);
}
