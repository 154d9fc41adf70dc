/* test_ctl: loopvisorctl against the real daemon: every command, its output, --json, and
 * the exit codes scripts rely on (0 ok, 1 daemon error, 2 usage, 3 cannot connect). */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static struct lvd d;
static char out[65536], err[65536];

static void teardown(void)
{
	lvd_stop(&d);
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

		ck_assert_ptr_nonnull(line);
		ck_assert_int_eq(sscanf(line, "%31s %31s %31s %31s %31s %31s", name, state, pid, uptime,
		                        restarts, last), 6);
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
}
END_TEST

START_TEST(exit_codes)
{
	lvd_start(&d, "{\"pools\":[]}");
	ck_assert_int_eq(ctl(d.sock, "status", "nope", NULL), 1);
	ck_assert_str_eq(err, "loopvisorctl: no such pool or worker {\"target\":\"nope\"}\n");
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(ctl(d.sock, "call", "nosuchmethod", NULL), 1);
	ck_assert_int_eq(ctl(d.sock, "frobnicate", NULL), 2);
	ck_assert_ptr_nonnull(strstr(err, "unknown command"));
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

START_TEST(socket_from_the_environment)
{
	lvd_start(&d, "{\"pools\":[]}");
	setenv("LOOPVISOR_SOCKET", d.sock, 1);
	ck_assert_int_eq(ctl(NULL, "call", "ping", NULL), 0);
	ck_assert_str_eq(out, "\"pong\"\n");
	unsetenv("LOOPVISOR_SOCKET");
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
	tcase_add_test(tc, socket_from_the_environment);
	suite_add_tcase(su, tc);
	return lvd_run_suite(su);
}
