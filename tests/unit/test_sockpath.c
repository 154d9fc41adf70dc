/* test_sockpath: the default control socket path, in the documented order of precedence,
 * and the check of its /tmp fallback folder, which another user may have made first. */
#include <check.h>

#include "check_run.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

START_TEST(the_tmp_fallback_is_recognised)
{
	char dir[64];
	uid_t uid = 0;

	ck_assert(lv_sockpath_in_tmp_fallback("/tmp/loopvisor-1000/control.sock", dir, sizeof dir,
	                                      &uid));
	ck_assert_str_eq(dir, "/tmp/loopvisor-1000");
	ck_assert_uint_eq(uid, 1000);
	ck_assert(lv_sockpath_in_tmp_fallback("/tmp/loopvisor-0/x.sock", dir, sizeof dir, &uid));
	ck_assert_uint_eq(uid, 0);
	ck_assert(!lv_sockpath_in_tmp_fallback("/tmp/loopvisor-/control.sock", dir, sizeof dir, &uid));
	ck_assert(!lv_sockpath_in_tmp_fallback("/tmp/loopvisor-12a/control.sock", dir, sizeof dir, &uid));
	ck_assert(!lv_sockpath_in_tmp_fallback("/tmp/loopvisor-12/a/control.sock", dir, sizeof dir, &uid));
	ck_assert(!lv_sockpath_in_tmp_fallback("/tmp/loopvisor-99999999999/c.sock", dir, sizeof dir, &uid));
	ck_assert(!lv_sockpath_in_tmp_fallback("/run/loopvisor/control.sock", dir, sizeof dir, &uid));
	ck_assert(!lv_sockpath_in_tmp_fallback("/tmp/loopvisor-1000", dir, sizeof dir, &uid));
}
END_TEST

START_TEST(a_fallback_folder_must_be_the_users_own_and_private)
{
	char dir[] = "/tmp/lvt_sockdir.XXXXXX", link[64], file[64], err[512];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(chmod(dir, 0700), 0);
	ck_assert_int_eq(lv_sockdir_check(dir, geteuid(), err, sizeof err), 0);

	ck_assert_int_eq(lv_sockdir_check(dir, geteuid() + 1, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "owned by uid") != NULL, "%s", err);

	ck_assert_int_eq(chmod(dir, 0755), 0);
	ck_assert_int_eq(lv_sockdir_check(dir, geteuid(), err, sizeof err), -1);
	ck_assert_msg(strstr(err, "mode 0755, not 0700") != NULL, "%s", err);
	ck_assert_int_eq(chmod(dir, 0700), 0);

	snprintf(link, sizeof link, "%s.link", dir);
	ck_assert_int_eq(symlink(dir, link), 0);
	ck_assert_int_eq(lv_sockdir_check(link, geteuid(), err, sizeof err), -1);
	ck_assert_msg(strstr(err, "a symlink") != NULL, "%s", err);
	unlink(link);

	snprintf(file, sizeof file, "%s/file", dir);
	fclose(fopen(file, "w"));
	ck_assert_int_eq(lv_sockdir_check(file, geteuid(), err, sizeof err), -1);
	ck_assert_msg(strstr(err, "not a folder") != NULL, "%s", err);
	unlink(file);

	rmdir(dir);
	ck_assert_int_eq(lv_sockdir_check(dir, geteuid(), err, sizeof err), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

/* The whole check on a socket path: only the /tmp fallback is judged, a missing folder
 * passes (nothing answers there), someone else's folder does not. */
START_TEST(only_the_tmp_fallback_is_checked)
{
	const char *dir = "/tmp/loopvisor-4294967290", *sock = "/tmp/loopvisor-4294967290/control.sock";
	char err[512];

	ck_assert_int_eq(lv_sockpath_check("/run/loopvisor/control.sock", err, sizeof err), 0);
	rmdir(dir);
	ck_assert_int_eq(lv_sockpath_check(sock, err, sizeof err), 0);
	if (geteuid() != 0) {
		printf("test_sockpath: only_the_tmp_fallback_is_checked: the squatted case skipped: "
		       "needs root (chown)\n");
		return;
	}
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ck_assert_int_eq(lv_sockpath_check(sock, err, sizeof err), -1); /* root's, not uid 4294967290's */
	ck_assert_msg(strstr(err, "owned by uid 0, not uid 4294967290") != NULL, "%s", err);
	ck_assert_int_eq(chown(dir, 4294967290u, 4294967290u), 0);
	ck_assert_int_eq(lv_sockpath_check(sock, err, sizeof err), 0);
	rmdir(dir);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("sockpath");
	TCase *tc = tcase_create("default");

	tcase_add_test(tc, precedence);
	tcase_add_test(tc, too_long);
	tcase_add_test(tc, the_tmp_fallback_is_recognised);
	tcase_add_test(tc, a_fallback_folder_must_be_the_users_own_and_private);
	tcase_add_test(tc, only_the_tmp_fallback_is_checked);
	suite_add_tcase(su, tc);
	return lv_check_run(su);
}
