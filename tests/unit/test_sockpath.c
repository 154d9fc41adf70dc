/* test_sockpath: the default control socket path, in the documented order of precedence. */
#include <check.h>

#include "check_run.h"
#include <stdlib.h>
#include <unistd.h>

#include "ipc/sockpath.h"

START_TEST(precedence)
{
	char buf[256];

	setenv("LOOPVISOR_SOCKET", "/a/ctl.sock", 1);
	setenv("RUNTIME_DIRECTORY", "/run/svc", 1);
	setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
	ck_assert_int_eq(lv_default_socket_path(buf, sizeof buf), 0);
	ck_assert_str_eq(buf, "/a/ctl.sock");
	unsetenv("LOOPVISOR_SOCKET");
	ck_assert_int_eq(lv_default_socket_path(buf, sizeof buf), 0);
	ck_assert_str_eq(buf, "/run/svc/control.sock");
	unsetenv("RUNTIME_DIRECTORY");
	ck_assert_int_eq(lv_default_socket_path(buf, sizeof buf), 0);
	if (geteuid() == 0)
		ck_assert_str_eq(buf, "/run/loopvisor/control.sock");
	else
		ck_assert_str_eq(buf, "/run/user/1000/loopvisor/control.sock");
}
END_TEST

START_TEST(too_long)
{
	char buf[8];

	setenv("LOOPVISOR_SOCKET", "/a/very/long/path.sock", 1);
	ck_assert_int_eq(lv_default_socket_path(buf, sizeof buf), -1);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("sockpath");
	TCase *tc = tcase_create("default");

	tcase_add_test(tc, precedence);
	tcase_add_test(tc, too_long);
	suite_add_tcase(su, tc);
	return lv_check_run(su);
}
