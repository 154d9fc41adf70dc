/* test_ctl_terminal: what loopvisorctl shows on a terminal and without one: the progress
 * line while start/stop/restart wait, colours of states (off with NO_COLOR or --no-color),
 * one summary line, never a line per worker; and exit 5 from wait on a failed worker. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
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

/* Runs loopvisorctl -s SOCK ARGS... with stdout and stderr on a new terminal (a pty), with
 * NO_COLOR=no_color if not NULL; what the terminal got goes to out. Returns the exit code. */
static int ctl_on_tty(const char *no_color, const char *const *args)
{
	const char *argv[16] = { lvd_build_path("bin/loopvisorctl"), "-s", d.sock };
	int master, slave, status, n = 3;
	size_t len = 0;
	pid_t pid;

	for (; *args && n < 15; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	ck_assert_int_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
	ck_assert_int_ge(pid = fork(), 0);
	if (pid == 0) {
		dup2(slave, 1);
		dup2(slave, 2);
		close(master);
		close(slave);
		if (no_color)
			setenv("NO_COLOR", no_color, 1);
		else
			unsetenv("NO_COLOR");
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(slave);
	for (;;) { /* until the child's end of the terminal closes (EIO) */
		ssize_t r = read(master, out + len, sizeof out - 1 - len);

		if (r <= 0 && !(r < 0 && errno == EINTR))
			break;
		if (r > 0)
			len += (size_t)r;
	}
	out[len] = '\0';
	close(master);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int ctl_piped(const char *a1, const char *a2, const char *a3)
{
	const char *argv[] = { lvd_build_path("bin/loopvisorctl"), "-s", d.sock, a1, a2, a3, NULL };

	return run_program(argv, out, sizeof out, err, sizeof err);
}

/* Workers a third of a second from start to ready: the wait lasts long enough to draw. */
static void start_slow_pool(void)
{
	lvd_start(&d, "{\"job_path\":[\"%s\"],\"pools\":[{\"name\":\"a\",\"module\":\"lv_testjob\","
	              "\"workers\":3,\"params\":{\"ready_after_ms\":%d}}]}",
	          lvd_build_path("tests"), test_ms(400));
	json_decref(lvd_wait(&d, "a", "running", 0));
}

START_TEST(progress_line_on_a_terminal)
{
	start_slow_pool();
	ck_assert_int_eq(ctl_on_tty(NULL, (const char *[]){ "restart", "a", NULL }), 0);
	/* drawn in place (\r, erase line), counting up, then cleared before the summary */
	ck_assert_msg(strstr(out, "\r\033[K0/3 running") || strstr(out, "\r\033[K1/3 running"),
	              "%s", out);
	ck_assert_msg(strstr(out, "\r\033[Krestarted 3 workers of a\r\n"), "%s", out);
	ck_assert_int_eq(ctl_on_tty(NULL, (const char *[]){ "restart", "--rolling", "a", NULL }), 0);
	ck_assert_msg(strstr(out, "/3 replaced, one at a time"), "%s", out);
	ck_assert_int_eq(ctl_on_tty(NULL, (const char *[]){ "stop", "a", NULL }), 0);
	ck_assert_msg(strstr(out, "stopped 3 workers of a\r\n"), "%s", out);
}
END_TEST

START_TEST(no_terminal_gets_the_summary_only)
{
	start_slow_pool();
	ck_assert_int_eq(ctl_piped("restart", "a", NULL), 0);
	ck_assert_str_eq(out, "restarted 3 workers of a\n");
	ck_assert_str_eq(err, "");
	ck_assert_int_eq(ctl_piped("--json", "stop", "a"), 0);
	ck_assert_ptr_nonnull(strstr(out, "\"a:2\""));
	ck_assert_ptr_null(strchr(out, '\r'));
}
END_TEST

START_TEST(states_in_colour_unless_told_not_to)
{
	start_slow_pool();
	ck_assert_int_eq(ctl_on_tty(NULL, (const char *[]){ "status", NULL }), 0);
	ck_assert_msg(strstr(out, "a:0   \033[32mrunning\033[0m  "), "%s", out);
	ck_assert_int_eq(ctl_on_tty("1", (const char *[]){ "status", NULL }), 0);
	ck_assert_msg(!strchr(out, '\033') && strstr(out, "a:0   running  "), "%s", out);
	ck_assert_int_eq(ctl_on_tty("", (const char *[]){ "status", NULL }), 0); /* empty: unset */
	ck_assert_msg(strstr(out, "\033[32mrunning"), "%s", out);
	ck_assert_int_eq(ctl_on_tty(NULL, (const char *[]){ "--no-color", "status", NULL }), 0);
	ck_assert_msg(!strchr(out, '\033'), "%s", out);
	ck_assert_int_eq(ctl_piped("status", NULL, NULL), 0);
	ck_assert_ptr_null(strchr(out, '\033'));
}
END_TEST

START_TEST(wait_on_a_failed_worker_exits_5)
{
	lvd_start(&d, "{\"pools\":[{\"name\":\"a\",\"exec\":[\"/nonexistent/prog\"],"
	              "\"restart\":\"never\"}]}");
	json_decref(lvd_wait(&d, "a", "failed", 0));
	ck_assert_int_eq(ctl_piped("wait", "a", "running"), 5);
	ck_assert_msg(strstr(err, "a:0 is failed"), "%s", err);
	ck_assert_int_eq(ctl_piped("status", "a", NULL), 5);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ctl_terminal");
	TCase *tc = tcase_create("terminal");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, progress_line_on_a_terminal);
	tcase_add_test(tc, no_terminal_gets_the_summary_only);
	tcase_add_test(tc, states_in_colour_unless_told_not_to);
	tcase_add_test(tc, wait_on_a_failed_worker_exits_5);
	suite_add_tcase(s, tc);
	return lvd_run_suite(s);
}
