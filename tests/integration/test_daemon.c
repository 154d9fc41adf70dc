/* test_daemon: the daemon's own life: shutdown, SIGTERM and SIGINT draining in parallel, its
 * control socket (mode, move on reload, a dead daemon's taken over), a refused config, --check. */
#include <check.h>
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

static void teardown(void)
{
	lvd_stop(&d);
}

static void start_default(void)
{
	lvd_start(&d, "{\"pools\":[{\"name\":\"m\",\"module\":\"ticker\",\"workers\":2},"
	              "{\"name\":\"s\",\"exec\":[\"sleep\",\"1000\"]}]}");
}

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

static bool exists(void *path)
{
	return access(path, F_OK) == 0;
}

/* Waits until a worker made dir/name (inotify on the folder), and removes it. */
static bool made_within(const char *dir, const char *name, int timeout_ms)
{
	char path[128];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	return until_changed(dir, exists, path, timeout_ms) && unlink(path) == 0;
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
	ck_assert_str_eq(err, "loopvisord: pools[1].wrokers: unknown key; did you mean \"workers\"?\n");
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

int main(void)
{
	Suite *su = suite_create("daemon");
	TCase *tc = tcase_create("life");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, shutdown_stops_everything_and_exits_zero);
	tcase_add_test(tc, sigterm_drains_and_exits_zero);
	tcase_add_test(tc, the_control_socket_is_born_0600);
	tcase_add_test(tc, a_reload_moves_the_control_socket);
	tcase_add_test(tc, sigint_drains_every_worker_in_parallel);
	tcase_add_test(tc, bad_config_refuses_to_start);
	tcase_add_test(tc, check_mode_validates_and_exits);
	tcase_add_test(tc, a_dead_daemons_socket_is_taken_over_and_a_live_ones_is_not);
	suite_add_tcase(su, tc);
	return lvd_run_suite(su);
}
