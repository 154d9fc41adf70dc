/* test_access: who may use the control socket, with real unprivileged users made for the
 * test (useradd) and loopvisorctl run as them (setpriv): a stranger cannot connect, a
 * reader can look but not act, an admin can act, and refusals are logged with the uid. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

static struct lvd d;
static char out[8192], err[8192];

static void teardown(void)
{
	lvd_stop(&d);
}

static void sh(const char *cmd)
{
	ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
}

static void make_users(void)
{
	sh("getent group lvt_ctl >/dev/null || groupadd -r lvt_ctl");
	sh("getent group lvt_admins >/dev/null || groupadd -r lvt_admins");
	sh("id lvt_reader >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin -G lvt_ctl lvt_reader");
	sh("id lvt_admin >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin -G lvt_ctl,lvt_admins lvt_admin");
	sh("id lvt_stranger >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin lvt_stranger");
}

/* loopvisorctl as user (with all of that user's groups) */
static int ctl_as(const char *user, const char *a1, const char *a2)
{
	char reuid[64], regid[64];
	const char *argv[] = { "/usr/bin/setpriv", reuid, regid, "--init-groups",
	                       lvd_build_path("bin/loopvisorctl"), "-s", d.sock, a1, a2, NULL };

	snprintf(reuid, sizeof reuid, "--reuid=%s", user);
	snprintf(regid, sizeof regid, "--regid=%s", user);
	return run_program(argv, out, sizeof out, err, sizeof err);
}

START_TEST(roles_decide_what_a_peer_may_do)
{
	char *log;

	if (geteuid() != 0)
		return; /* needs root to make users and switch to them */
	make_users();
	lvd_start(&d, "{\"control\":{\"mode\":\"0660\",\"group\":\"lvt_ctl\",\"access\":["
	              "{\"user\":\"lvt_reader\",\"role\":\"read\"},"
	              "{\"group\":\"lvt_admins\",\"role\":\"admin\"}]},"
	              "\"pools\":[{\"name\":\"s\",\"exec\":[\"sleep\",\"1000\"]}]}");
	chmod(d.dir, 0711); /* others may reach the socket; its own mode decides */
	json_decref(lvd_wait(&d, "s", "running", 0));

	ck_assert_int_eq(ctl_as("lvt_stranger", "status", NULL), 3);
	ck_assert_ptr_nonnull(strstr(err, "Permission denied"));

	ck_assert_int_eq(ctl_as("lvt_reader", "status", NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "s:0"));
	ck_assert_int_eq(ctl_as("lvt_reader", "stop", "s"), 1);
	ck_assert_ptr_nonnull(strstr(err, "permission denied"));

	ck_assert_int_eq(ctl_as("lvt_admin", "stop", "s"), 0);
	ck_assert_int_eq(ctl_as("lvt_admin", "start", "s"), 0);

	log = slurp(d.log);
	ck_assert_ptr_nonnull(strstr(log, "permission denied: uid "));
	ck_assert_ptr_nonnull(strstr(log, " may not call stop"));
	free(log);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("access");
	TCase *tc = tcase_create("control");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, roles_decide_what_a_peer_may_do);
	suite_add_tcase(su, tc);
	return lvd_run_suite(su);
}
