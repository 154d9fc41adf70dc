/* test_ctl: loopvisorctl against the real daemon: every command, its output, --json, and
 * the exit codes scripts rely on (0 ok, 1 daemon error, 2 usage, 3 cannot connect, 4 sent
 * but not done within --timeout). */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static struct lvd d;
static char out[65536], err[65536];

static void teardown(void)
{
	lvd_stop(&d);
}

static int count_lines(const char *text)
{
	int n = 0;

	for (; *text; text++)
		n += *text == '\n';
	return n;
}

/* Runs loopvisorctl -s SOCK with the given arguments; returns its exit code. */
static int ctl(const char *sock, ...)
{
	const char *argv[16] = { lvd_build_path("bin/loopvisorctl") };
	int argc = 1;
	va_list ap;

	if (sock) {
		argv[argc++] = "-s";
		argv[argc++] = sock;
	}
	va_start(ap, sock);
	while (argc < 15 && (argv[argc] = va_arg(ap, const char *)) != NULL)
		argc++;
	va_end(ap);
	return run_program(argv, out, sizeof out, err, sizeof err);
}

START_TEST(commands_and_output)
{
	json_t *r;

	lvd_start(&d, "{\"pools\":[{\"name\":\"web\",\"module\":\"ticker\",\"workers\":2},"
	              "{\"name\":\"job\",\"exec\":[\"sleep\",\"1000\"],\"autostart\":false}]}");
	json_decref(lvd_wait(&d, "web", "running", 0));

	ck_assert_int_eq(ctl(d.sock, "status", NULL), 0);
	ck_assert_msg(!strncmp(out, "NAME   STATE    PID", 19), "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "\nweb:0  running  "));
	{
		char name[32], state[32], pid[32], uptime[32], restarts[32], last[32];
		const char *line = strstr(out, "\njob:0 ");
		/* CPU and MEM come after UPTIME where workers have cgroups (docs/cgroups.md); a
		 * worker never started has no leaf yet: "-" in both */
		bool res = strstr(out, "  CPU ") && strstr(out, "  MEM ");

		ck_assert_ptr_nonnull(line);
		if (res) {
			char cpu[32], mem[32];

			ck_assert_int_eq(sscanf(line, "%31s %31s %31s %31s %31s %31s %31s %31s", name, state,
			                        pid, uptime, cpu, mem, restarts, last), 8);
			ck_assert_str_eq(cpu, "-");
			ck_assert_str_eq(mem, "-");
		} else {
			ck_assert_int_eq(sscanf(line, "%31s %31s %31s %31s %31s %31s", name, state, pid,
			                        uptime, restarts, last), 6);
		}
		ck_assert_str_eq(state, "stopped");
		ck_assert_str_eq(pid, "-");
		ck_assert_str_eq(uptime, "-");
		ck_assert_str_eq(restarts, "0");
		ck_assert_str_eq(last, "-");
	}

	ck_assert_int_eq(ctl(d.sock, "start", "job", NULL), 0);
	ck_assert_str_eq(out, "started job:0\n");
	ck_assert_int_eq(ctl(d.sock, "restart", "job:0", NULL), 0);
	ck_assert_str_eq(out, "restarted job:0\n");
	ck_assert_int_eq(ctl(d.sock, "signal", "job", "CONT", NULL), 0);
	ck_assert_str_eq(out, "signalled job:0\n");
	ck_assert_int_eq(ctl(d.sock, "stop", "job", NULL), 0);
	ck_assert_str_eq(out, "stopped job:0\n");
	ck_assert_int_eq(ctl(d.sock, "scale", "web", "3", NULL), 0);
	ck_assert_str_eq(out, "web: 3 workers\n");
	ck_assert_int_eq(ctl(d.sock, "version", NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "loopvisord "));
	ck_assert_ptr_nonnull(strstr(out, "libevent 2.1"));

	ck_assert_int_eq(ctl(d.sock, "--json", "status", "web:2", NULL), 0);
	r = json_loads(out, 0, NULL);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
		json_object_get(r, "workers"), 0), "name")), "web:2");
	json_decref(r);
	ck_assert_int_eq(ctl(d.sock, "call", "ping", NULL), 0);
	ck_assert_str_eq(out, "\"pong\"\n");
	ck_assert_int_eq(ctl(d.sock, "call", "status", "{\"target\":\"job\"}", NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "\"job:0\""));
	ck_assert_int_eq(ctl(d.sock, "scale", "web", "1", NULL), 0);
	ck_assert_str_eq(out, "web: 1 worker\n");
}
END_TEST

START_TEST(exit_codes)
{
	lvd_start(&d, "{\"pools\":[]}");
	ck_assert_int_eq(ctl(d.sock, "status", "nope", NULL), 1);
	ck_assert_str_eq(err, "loopvisorctl: no such pool or worker: nope\n"); /* no raw JSON */
	ck_assert_int_eq(ctl(d.sock, "--json", "status", "nope", NULL), 1);
	ck_assert_str_eq(err, "{\"code\":-32001,\"message\":\"no such pool or worker\","
	                      "\"data\":{\"target\":\"nope\"}}\n"); /* scripts get it whole */
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(ctl(d.sock, "call", "nosuchmethod", NULL), 1);
	ck_assert_int_eq(ctl(d.sock, "frobnicate", NULL), 2);
	ck_assert_str_eq(err, "loopvisorctl: unknown command 'frobnicate'; loopvisorctl --help lists "
	                      "them\n"); /* one line, not the usage again */
	ck_assert_int_eq(ctl(d.sock, "relod", NULL), 2);
	ck_assert_str_eq(err, "loopvisorctl: unknown command 'relod'; did you mean 'reload'?\n");
	ck_assert_int_eq(ctl(d.sock, "start", NULL), 2);
	ck_assert_int_eq(ctl(d.sock, "scale", "web", "many", NULL), 2);
	ck_assert_int_eq(ctl(d.sock, "call", "status", "{bad", NULL), 2);
	ck_assert_int_eq(ctl(d.sock, NULL), 2);
	ck_assert_int_eq(ctl("/nonexistent/loopvisor.sock", "status", NULL), 3);
	ck_assert_ptr_nonnull(strstr(err, "cannot connect to /nonexistent/loopvisor.sock"));
	ck_assert_int_eq(ctl(NULL, "--help", NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "usage: loopvisorctl"));
}
END_TEST

/* reload, add, remove, inspect and wait are verbs, not only "call METHOD JSON". */
START_TEST(every_method_is_a_verb)
{
	char pool_file[400], config[512];
	FILE *f;

	lvd_start(&d, "{\"pools\":[{\"name\":\"web\",\"module\":\"ticker\"},"
	              "{\"name\":\"job\",\"exec\":[\"sleep\",\"1000\"],\"autostart\":false}]}");
	ck_assert_int_eq(ctl(NULL, "--version", NULL), 0);
	ck_assert_str_eq(out, "loopvisorctl " LV_VERSION "\n");

	ck_assert_int_eq(ctl(d.sock, "wait", "web", "running", NULL), 0);
	ck_assert_msg(!strncmp(out, "NAME   STATE    PID", 19), "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "\nweb:0  running  "));
	ck_assert_int_eq(ctl(d.sock, "wait", "job", "stopped,failed", NULL), 0);
	ck_assert_int_eq(ctl(d.sock, "--json", "inspect", "web:0", NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "\"loops\""));
	ck_assert_int_eq(ctl(d.sock, "inspect", "job:0", NULL), 1); /* exec: no job to ask */

	snprintf(pool_file, sizeof pool_file, "%s/extra.json", d.dir);
	ck_assert_ptr_nonnull(f = fopen(pool_file, "w"));
	fputs("{\"name\":\"extra\",\"exec\":[\"sleep\",\"1000\"],\"workers\":2}", f);
	fclose(f);
	ck_assert_int_eq(ctl(d.sock, "add", pool_file, NULL), 0);
	ck_assert_str_eq(out, "added 2 workers of extra\n");
	ck_assert_int_eq(ctl(d.sock, "add", "-", NULL), 2); /* stdin is empty: not a pool */
	ck_assert_ptr_nonnull(strstr(err, "-: "));
	ck_assert_int_eq(ctl(d.sock, "remove", "extra", NULL), 0);
	ck_assert_str_eq(out, "removed extra\n");

	ck_assert_int_eq(ctl(d.sock, "reload", NULL), 0);
	ck_assert_str_eq(out, "nothing changed\n");
	snprintf(config, sizeof config, "{\"pools\":[{\"name\":\"web\",\"module\":\"ticker\"},"
	         "{\"name\":\"job\",\"exec\":[\"sleep\",\"1000\"],\"autostart\":false},"
	         "{\"name\":\"more\",\"exec\":[\"sleep\",\"1000\"]}]}");
	lvd_write_config(&d, config);
	ck_assert_int_eq(ctl(d.sock, "reload", NULL), 0);
	ck_assert_str_eq(out, "added: more\n");
	ck_assert_int_eq(ctl(d.sock, "wait", "more", NULL), 2); /* no STATE */
}
END_TEST

/* start, stop, restart, status and signal take several targets, or all: every request is
 * sent before any reply is read, and the exit code is the worst of the replies. */
START_TEST(several_targets_and_all)
{
	lvd_start(&d, "{\"pools\":[{\"name\":\"a\",\"exec\":[\"sleep\",\"1000\"],\"workers\":2},"
	              "{\"name\":\"b\",\"exec\":[\"sleep\",\"1000\"],\"autostart\":false},"
	              "{\"name\":\"c\",\"exec\":[\"sleep\",\"1000\"],\"autostart\":false}]}");
	json_decref(lvd_wait(&d, "a", "running", 0));
	ck_assert_int_eq(ctl(d.sock, "start", "b", "c", NULL), 0);
	ck_assert_str_eq(out, "started b:0\nstarted c:0\n");
	ck_assert_int_eq(ctl(d.sock, "status", "a:1", "c", NULL), 0);
	ck_assert_msg(!strncmp(out, "NAME", 4) && strstr(out, "\na:1 ") && strstr(out, "\nc:0 ") &&
	              !strstr(out, "b:0") && !strstr(out + 4, "NAME"), "%s", out); /* one table */
	ck_assert_int_eq(ctl(d.sock, "signal", "a:0", "b", "CONT", NULL), 0);
	ck_assert_str_eq(out, "signalled a:0\nsignalled b:0\n");
	ck_assert_int_eq(ctl(d.sock, "restart", "c", "nope", NULL), 1); /* c is restarted all the same */
	ck_assert_str_eq(out, "restarted c:0\n");
	ck_assert_ptr_nonnull(strstr(err, "no such pool or worker"));
	ck_assert_int_eq(ctl(d.sock, "stop", "all", NULL), 0);
	ck_assert_str_eq(out, "stopped 2 workers of a\nstopped b:0\nstopped c:0\n"); /* a line each */
	ck_assert_int_eq(ctl(d.sock, "signal", "a", "b", "HUP", NULL), 1); /* no process to get it */
	ck_assert_str_eq(out, "a:0: not signalled: it has no process\n"
	                      "a:1: not signalled: it has no process\n"
	                      "b:0: not signalled: it has no process\n");
	ck_assert_int_eq(ctl(d.sock, "status", "all", NULL), 0);
	/* the header, the four workers, and a line for each pool stopped by a command */
	ck_assert_int_eq(count_lines(out), 8);
	ck_assert_ptr_nonnull(strstr(out, "\nb: 1 stopped by a command; loopvisorctl reset b"));
	ck_assert_int_eq(ctl(d.sock, "start", "all", NULL), 0);
	json_decref(lvd_wait(&d, "a", "running", 0));
	json_decref(lvd_wait(&d, "c", "running", 0));
}
END_TEST

/* 5: status lists a worker that failed or backs off; a stopped one is no failure. */
START_TEST(status_says_when_a_worker_is_unhealthy)
{
	lvd_start(&d, "{\"pools\":[{\"name\":\"ok\",\"exec\":[\"sleep\",\"1000\"]},"
	              "{\"name\":\"off\",\"exec\":[\"sleep\",\"1000\"],\"autostart\":false},"
	              "{\"name\":\"bad\",\"exec\":[\"false\"],\"restart\":\"on-failure\","
	              "\"start_limit\":{\"burst\":1,\"interval_ms\":60000}}]}");
	json_decref(lvd_wait(&d, "ok", "running", 0));
	json_decref(lvd_wait(&d, "bad", "failed", 0));
	ck_assert_int_eq(ctl(d.sock, "status", "ok", NULL), 0);
	ck_assert_int_eq(ctl(d.sock, "status", "off", NULL), 0);
	ck_assert_int_eq(ctl(d.sock, "status", "bad", NULL), 5);
	ck_assert_ptr_nonnull(strstr(out, "bad:0  failed"));
	ck_assert_int_eq(ctl(d.sock, "--json", "status", NULL), 5);
	ck_assert_int_eq(ctl(d.sock, "stop", "bad", NULL), 0);
	ck_assert_int_eq(ctl(d.sock, "status", NULL), 0);
}
END_TEST

/* 4: the request went out and was taken, but its end did not come within --timeout: from
 * the daemon (-32002, it waited that long), or no answer at all (it is stopped). */
START_TEST(a_timeout_is_not_a_connection_failure)
{
	char ms[16];
	int rc;

	lvd_start(&d, "{\"pools\":[{\"name\":\"job\",\"exec\":[\"sleep\",\"1000\"],"
	              "\"autostart\":false}]}");
	snprintf(ms, sizeof ms, "%d", test_ms(300));
	ck_assert_int_eq(ctl(d.sock, "--timeout", ms, "wait", "job", "running", NULL), 4);
	ck_assert_ptr_nonnull(strstr(err, "timed out"));
	ck_assert_ptr_nonnull(strstr(err, "; still waiting for job:0\n"));
	ck_assert_int_eq(kill(d.pid, SIGSTOP), 0);
	rc = ctl(d.sock, "--timeout", ms, "status", NULL);
	ck_assert_int_eq(kill(d.pid, SIGCONT), 0); /* before any assertion: teardown needs it */
	ck_assert_int_eq(rc, 4);
	ck_assert_ptr_nonnull(strstr(err, "sent, but no answer within"));
}
END_TEST

START_TEST(socket_from_the_environment)
{
	lvd_start(&d, "{\"pools\":[]}");
	setenv("LOOPVISOR_SOCKET", d.sock, 1);
	ck_assert_int_eq(ctl(NULL, "call", "ping", NULL), 0);
	ck_assert_str_eq(out, "\"pong\"\n");
	unsetenv("LOOPVISOR_SOCKET");
}
END_TEST

/* Starts loopvisorctl with args in the background; its stdout comes out of *out_fd. */
static pid_t ctl_background(const char *const *args, int *out_fd)
{
	const char *argv[16] = { lvd_build_path("bin/loopvisorctl"), "-s", d.sock };
	int po[2], n = 3;
	pid_t pid;

	while (*args && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	ck_assert_int_eq(pipe(po), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(po[1], 1);
		close(po[0]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(po[1]);
	*out_fd = po[0];
	return pid;
}

/* Reads from fd until a line contains needle; false if the stream ends or is quiet for
 * timeout_ms. */
static bool read_until(int fd, const char *needle, int timeout_ms)
{
	static char buf[65536];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t len = 0;
	ssize_t n;

	while (len < sizeof buf - 1 && poll(&pfd, 1, test_ms(timeout_ms)) == 1 &&
	       (n = read(fd, buf + len, sizeof buf - 1 - len)) > 0) {
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, needle))
			return true;
	}
	return false;
}

START_TEST(events_and_tail_follow)
{
	const char *events_args[] = { "events", "web", NULL };
	const char *tail_args[] = { "tail", "-f", "-n", "1", "web:0", NULL };
	int efd, tfd, st;
	bool seen = false;
	pid_t ev, tl;

	lvd_start(&d, "{\"pools\":[{\"name\":\"web\",\"module\":\"ticker\","
	              "\"params\":{\"interval_ms\":20}}]}");
	json_decref(lvd_wait(&d, "web", "running", 0));
	ev = ctl_background(events_args, &efd);
	tl = ctl_background(tail_args, &tfd);
	ck_assert(read_until(tfd, " web:0 log: tick ", 20000));
	/* the events command may not have subscribed yet when the first restart happens:
	 * restart until its stream shows one */
	for (int i = 0; i < 20 && !seen; i++) {
		json_decref(lvd_call(&d, "restart", "{\"target\":\"web\"}"));
		seen = read_until(efd, " worker.running web:0 pid ", 1000);
	}
	ck_assert(seen);
	kill(ev, SIGTERM);
	kill(tl, SIGTERM);
	waitpid(ev, &st, 0);
	waitpid(tl, &st, 0);
	close(efd);
	close(tfd);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("ctl");
	TCase *tc = tcase_create("loopvisorctl");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, commands_and_output);
	tcase_add_test(tc, exit_codes);
	tcase_add_test(tc, every_method_is_a_verb);
	tcase_add_test(tc, a_timeout_is_not_a_connection_failure);
	tcase_add_test(tc, status_says_when_a_worker_is_unhealthy);
	tcase_add_test(tc, several_targets_and_all);
	tcase_add_test(tc, socket_from_the_environment);
	tcase_add_test(tc, events_and_tail_follow);
	suite_add_tcase(su, tc);
	return lvd_run_suite(su);
}
