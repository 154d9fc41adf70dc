/* test_sockets: listening sockets the supervisor binds once and every worker shares: a
 * client hammering 4 http workers never sees "connection refused" while they are killed
 * one by one, loses nothing at all across a graceful restart, and is answered by several
 * processes; exec workers get the same sockets the sd_listen_fds way. */
#include <check.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"

static struct lvd d;

static void teardown(void)
{
	lvd_stop(&d);
}

static int connect_port(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = { 10, 0 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* ---- a client that keeps requesting until told to stop (bounded in count) ---- */

#define MAX_PIDS 64

struct client {
	int port;
	atomic_int stop;
	atomic_int ok, refused, failed;
	pid_t pids[MAX_PIDS];
	atomic_int n_pids;
	pthread_t thread;
};

static void note_pid(struct client *c, pid_t pid)
{
	int n = atomic_load(&c->n_pids);

	for (int i = 0; i < n; i++)
		if (c->pids[i] == pid)
			return;
	if (n < MAX_PIDS) {
		c->pids[n] = pid;
		atomic_store(&c->n_pids, n + 1);
	}
}

/* One HTTP/1.0 request on a fresh connection; returns 0, or -1 with errno. */
static int one_request(struct client *c)
{
	static const char req[] = "GET / HTTP/1.0\r\nConnection: close\r\n\r\n";
	char buf[2048];
	size_t len = 0;
	ssize_t n;
	int fd = connect_port(c->port);
	const char *pid;

	if (fd < 0)
		return -1;
	if (send(fd, req, sizeof req - 1, MSG_NOSIGNAL) < 0) {
		close(fd);
		errno = EPIPE;
		return -2;
	}
	while (len < sizeof buf - 1 && (n = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fd);
	if (strncmp(buf, "HTTP/1.", 7) != 0 || !strstr(buf, " 200 ") ||
	    !(pid = strstr(buf, "X-Worker-Pid: ")))
		return -2;
	note_pid(c, (pid_t)atoi(pid + 14));
	return 0;
}

static void *client_main(void *arg)
{
	struct client *c = arg;

	for (int i = 0; i < 200000 && !atomic_load(&c->stop); i++) {
		int rc = one_request(c);

		if (rc == 0)
			atomic_fetch_add(&c->ok, 1);
		else if (rc == -1 && errno == ECONNREFUSED)
			atomic_fetch_add(&c->refused, 1);
		else
			atomic_fetch_add(&c->failed, 1);
	}
	return NULL;
}

/* Waits (on the daemon's clock) until the client has had n more successes. */
static void await_successes(struct client *c, int n)
{
	int target = atomic_load(&c->ok) + n;

	for (int i = 0; i < test_ms(1000) && atomic_load(&c->ok) < target; i++) {
		/* let the daemon time a short wait: a clock, not a fixed sleep of the test */
		json_t *e = lvd_call_error(&d, "wait", "{\"target\":\"web\",\"state\":\"failed\","
		                           "\"timeout_ms\":20}");
		json_decref(e);
	}
	ck_assert_int_ge(atomic_load(&c->ok), target);
}

START_TEST(http_workers_share_one_port_through_kills_and_restarts)
{
	struct client c = { .port = free_port() };
	char name[16];

	lvd_start(&d, "{\"pools\":[{\"name\":\"web\",\"module\":\"http\",\"workers\":4,"
	              "\"listen\":[\"tcp:127.0.0.1:%d\"]}]}", c.port);
	json_decref(lvd_wait(&d, "web", "running", 0));
	ck_assert_int_eq(pthread_create(&c.thread, NULL, client_main, &c), 0);
	await_successes(&c, 20);

	/* kill -9 every worker in turn: the socket stays, so nobody is ever refused */
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof name, "web:%d", i);
		kill(lvd_worker_pid(&d, name), SIGKILL);
		json_decref(lvd_wait(&d, name, "running", 1));
		await_successes(&c, 5);
	}
	ck_assert_int_eq(atomic_load(&c.refused), 0);

	/* a graceful restart of the whole pool loses not one request */
	atomic_store(&c.failed, 0);
	json_decref(lvd_call(&d, "restart", "{\"target\":\"web\"}"));
	await_successes(&c, 20);
	atomic_store(&c.stop, 1);
	pthread_join(c.thread, NULL);
	ck_assert_int_eq(atomic_load(&c.refused), 0);
	ck_assert_int_eq(atomic_load(&c.failed), 0);
	ck_assert_int_ge(atomic_load(&c.n_pids), 2);
}
END_TEST

static char *read_reply(int fd)
{
	char buf[512];
	ssize_t n = read(fd, buf, sizeof buf - 1);

	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	return strdup(buf);
}

START_TEST(exec_workers_get_sockets_like_systemd_passes_them)
{
	int port = free_port(), fd;
	char *reply, expect[64];
	pid_t pid;

	lvd_start(&d, "{\"pools\":[{\"name\":\"lh\",\"exec\":[\"%s\"],\"workers\":2,"
	              "\"listen\":[\"tcp:127.0.0.1:%d\"]}]}", lvd_build_path("tests/listen_helper"),
	              port);
	json_decref(lvd_wait(&d, "lh", "running", 0));
	fd = connect_port(port);
	ck_assert_int_ge(fd, 0);
	reply = read_reply(fd);
	close(fd);
	ck_assert_msg(strstr(reply, " fds 1 names lh\n") != NULL, "%s", reply);
	pid = (pid_t)atoi(reply + 4);
	snprintf(expect, sizeof expect, "pid %d ", (int)pid);
	ck_assert(pid == lvd_worker_pid(&d, "lh:0") || pid == lvd_worker_pid(&d, "lh:1"));
	free(reply);
}
END_TEST

START_TEST(echo_module_on_a_unix_socket_with_two_loops)
{
	char dir[] = "/tmp/lvecho.XXXXXX", path[64], *reply;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;
	json_t *w;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/echo.sock", dir);
	lvd_start(&d, "{\"pools\":[{\"name\":\"echo\",\"module\":\"echo\",\"loops\":2,"
	              "\"heartbeat_ms\":50,\"listen\":[\"unix:%s\"]}]}", path);
	json_decref(lvd_wait(&d, "echo", "running", 0));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	ck_assert_int_eq(write(fd, "ping\n", 5), 5);
	reply = read_reply(fd);
	ck_assert_str_eq(reply, "ping\n");
	free(reply);
	close(fd);
	/* the job's counters reach status with the next heartbeat of that loop */
	json_decref(lvd_call_error(&d, "wait", "{\"target\":\"echo\",\"state\":\"failed\","
	                           "\"timeout_ms\":200}"));
	w = lvd_worker(&d, "echo:0");
	ck_assert_int_eq(JINT(json_object_get(w, "counters"), "connections"), 1);
	ck_assert_int_eq(JINT(json_object_get(w, "counters"), "bytes"), 5);
	json_decref(w);
	json_decref(lvd_call(&d, "stop", "{\"target\":\"echo\"}"));
	w = lvd_worker(&d, "echo:0");
	ck_assert_int_eq(JINT(json_object_get(w, "last_exit"), "code"), 0);
	json_decref(w);
	unlink(path);
	rmdir(dir);
}
END_TEST

START_TEST(a_taken_port_is_a_start_error)
{
	char log[4096];
	int port = free_port(), st;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char config[256];

	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	snprintf(config, sizeof config, "{\"pools\":[{\"name\":\"web\",\"module\":\"http\","
	         "\"listen\":[\"tcp:127.0.0.1:%d\"]}]}", port);
	st = lvd_try_start(&d, config, log, sizeof log);
	close(fd);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	ck_assert_msg(strstr(log, "Address already in use") != NULL, "%s", log);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("sockets");
	TCase *tc = tcase_create("listen");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, http_workers_share_one_port_through_kills_and_restarts);
	tcase_add_test(tc, exec_workers_get_sockets_like_systemd_passes_them);
	tcase_add_test(tc, echo_module_on_a_unix_socket_with_two_loops);
	tcase_add_test(tc, a_taken_port_is_a_start_error);
	suite_add_tcase(su, tc);
	return lvd_run_suite(su);
}
