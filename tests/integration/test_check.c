/* test_check: loopvisord --check looks at what a start would need, for the user each pool
 * runs as: programs (a path, or a name in PATH), modules (found, loadable, this ABI),
 * folders (cwd) and env files, each templated value for the first and last worker. The
 * daemon itself still starts with such a config: a program may appear later. */
#include <check.h>
#include <grp.h>
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

/* Runs loopvisord --check -c file; returns its exit code, stdout and stderr in out, err. */
static int check_file(const char *file)
{
	const char *argv[] = { lvd_build_path("bin/loopvisord"), "--check", "-c", file, NULL };

	return run_program(argv, out, sizeof out, err, sizeof err);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
}

static void said(const char *line)
{
	ck_assert_msg(strstr(err, line) != NULL, "wanted: %s\nstderr: %s", line, err);
}

START_TEST(check_names_what_would_fail_at_start)
{
	char cfg[1024 * 5], path[600], *dir;

	/* the daemon's own folder holds the config; nothing the config names exists yet */
	lvd_start(&d, "{\"pools\":[{\"name\":\"later\",\"exec\":[\"./later.sh\"],\"autostart\":false}]}");
	dir = d.dir;
	snprintf(path, sizeof path, "%s/w0", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof path, "%s/w1", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(cfg, sizeof cfg, "{\"pools\":["
	         "{\"name\":\"bare\",\"exec\":[\"no-such-program-lv\"]},"
	         "{\"name\":\"rel\",\"exec\":[\"./later.sh\"],\"autostart\":false},"
	         "{\"name\":\"tpl\",\"exec\":[\"true\"],\"cwd\":\"w{index}\",\"workers\":3},"
	         "{\"name\":\"abi\",\"module\":\"%s\"},"
	         "{\"name\":\"nosym\",\"module\":\"%s\"},"
	         "{\"name\":\"nomod\",\"module\":\"no-such-module-lv\"},"
	         "{\"name\":\"envf\",\"exec\":[\"true\"],\"env_file\":[\"-opt.env\",\"app.env\"]},"
	         "{\"name\":\"notx\",\"exec\":[\"/etc/passwd\"]},"
	         "{\"name\":\"path\",\"exec\":[\"true\"],\"env\":{\"PATH\":\"/nonexistent\"}},"
	         "{\"name\":\"ok\",\"exec\":[\"sh\",\"{index}\"],\"cwd\":\"w{index}\",\"workers\":2},"
	         "{\"name\":\"probe\",\"exec\":[\"true\"],\"probes\":{\"readiness\":"
	         "{\"exec\":[\"no-such-probe-lv\"]},\"liveness\":{\"exec\":[\"true\"]}}}]}",
	         lvd_build_path("tests/lv_badabi.so"), lvd_build_path("tests/lv_nosymbol.so"));
	snprintf(path, sizeof path, "%s/check.json", dir);
	write_file(path, cfg, 0600);
	ck_assert_int_eq(check_file(path), 1);
	ck_assert_str_eq(out, ""); /* no OK line */
	said("loopvisord: pools[0].exec[0]: no-such-program-lv: not found in PATH (");
	said("loopvisord: pools[1].exec[0]: "); /* resolved against the config's folder */
	said("/./later.sh: No such file or directory\n");
	said("loopvisord: pools[2].cwd: ");
	said("/w2: No such file or directory (worker tpl:2)\n");
	said("loopvisord: pools[3].module: ");
	said("lv_badabi.so: job ABI version 3, this loopvisord supports 1 to 2\n");
	said("lv_nosymbol.so: no loopvisor_job symbol: not a loopvisor job module\n");
	said("loopvisord: pools[5].module: no no-such-module-lv.so in the job path\n");
	said("loopvisord: pools[6].env_file: "); /* the optional one is not named */
	said("/app.env: No such file or directory\n");
	ck_assert_ptr_null(strstr(err, "opt.env"));
	said("loopvisord: pools[7].exec[0]: /etc/passwd: not executable by user ");
	said("loopvisord: pools[8].exec[0]: true: not found in PATH (/nonexistent)\n");
	ck_assert_ptr_null(strstr(err, "pools[9]"));
	said("loopvisord: pools[10].probes.readiness.exec[0]: no-such-probe-lv: not found in PATH (");
	ck_assert_ptr_null(strstr(err, "probes.liveness"));
	ck_assert_ptr_null(strstr(err, "pools[2].cwd: /w0"));
	/* every problem fixed: OK (and the daemon, which started with it, starts "later") */
	snprintf(path, sizeof path, "%s/later.sh", dir);
	write_file(path, "#!/bin/sh\nexec sleep 1000\n", 0755);
	snprintf(path, sizeof path, "%s/w2", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof path, "%s/app.env", dir);
	write_file(path, "A=1\n", 0600);
	snprintf(cfg, sizeof cfg, "{\"job_path\":[\"%s\"],\"pools\":["
	         "{\"name\":\"rel\",\"exec\":[\"./later.sh\"]},"
	         "{\"name\":\"tpl\",\"exec\":[\"true\"],\"cwd\":\"w{index}\",\"workers\":3},"
	         "{\"name\":\"job\",\"module\":\"lv_testjob\"},"
	         "{\"name\":\"envf\",\"exec\":[\"true\"],\"env_file\":[\"-opt.env\",\"app.env\"]}]}",
	         lvd_build_path("tests"));
	snprintf(path, sizeof path, "%s/check.json", dir);
	write_file(path, cfg, 0600);
	ck_assert_msg(check_file(path) == 0, "%s", err);
	ck_assert_ptr_nonnull(strstr(out, "OK, 4 pools\n"));
	json_decref(lvd_call(&d, "start", "{\"target\":\"later\"}"));
	json_decref(lvd_wait(&d, "later", "running", 0));
}
END_TEST

static char tmp[64];

/* Unchecked fixtures: they run in the test runner itself, also after a failed test. */
static void make_tmp_name(void)
{
	snprintf(tmp, sizeof tmp, "/tmp/lvchk.%d", (int)getpid());
}

static void remove_user(void)
{
	char cmd[128];

	if (geteuid() != 0)
		return;
	if (system("! id lvcheck1 >/dev/null 2>&1 || userdel lvcheck1") != 0 ||
	    system("! getent group lvcheckg >/dev/null || groupdel lvcheckg") != 0)
		fprintf(stderr, "test_check: cannot remove the user lvcheck1 or group lvcheckg\n");
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "test_check: cannot remove %s\n", tmp);
}

/* Mode bits for another user: owner, group (a supplementary one too), others, and x on
 * every folder on the way. */
START_TEST(check_judges_access_as_the_pools_user)
{
	char cfg[4096], path[600];

	if (skip_unless_root(__func__))
		return;
	if (system("command -v useradd >/dev/null && command -v groupadd >/dev/null") != 0) {
		printf("skipped: %s: no useradd or groupadd\n", __func__);
		return;
	}
	ck_assert_int_eq(system("groupadd -r lvcheckg && useradd -r -M -s /usr/sbin/nologin "
	                        "-G lvcheckg lvcheck1"), 0);
	ck_assert_int_eq(mkdir(tmp, 0700), 0);
	ck_assert_int_eq(chmod(tmp, 0711), 0);
	snprintf(path, sizeof path, "%s/own", tmp);
	write_file(path, "#!/bin/sh\n", 0700);             /* root's only */
	snprintf(path, sizeof path, "%s/grp", tmp);
	write_file(path, "#!/bin/sh\n", 0750);
	ck_assert_int_eq(chown(path, 0, getgrnam("lvcheckg")->gr_gid), 0); /* its group may */
	snprintf(path, sizeof path, "%s/closed", tmp);
	ck_assert_int_eq(mkdir(path, 0700), 0);            /* not searchable by others */
	snprintf(path, sizeof path, "%s/closed/prog", tmp);
	write_file(path, "#!/bin/sh\n", 0755);
	snprintf(cfg, sizeof cfg, "{\"pools\":["
	         "{\"name\":\"own\",\"exec\":[\"%s/own\"],\"user\":\"lvcheck1\"},"
	         "{\"name\":\"grp\",\"exec\":[\"%s/grp\"],\"user\":\"lvcheck1\"},"
	         "{\"name\":\"deep\",\"exec\":[\"%s/closed/prog\"],\"user\":\"lvcheck1\"},"
	         "{\"name\":\"cwd\",\"exec\":[\"%s/grp\"],\"cwd\":\"%s/closed\",\"user\":\"lvcheck1\"},"
	         "{\"name\":\"root\",\"exec\":[\"%s/own\"],\"cwd\":\"%s/closed\"}]}",
	         tmp, tmp, tmp, tmp, tmp, tmp, tmp);
	snprintf(path, sizeof path, "%s/check.json", tmp);
	write_file(path, cfg, 0600);
	ck_assert_int_eq(check_file(path), 1);
	snprintf(cfg, sizeof cfg, "loopvisord: pools[0].exec[0]: %s/own: not executable by user "
	         "lvcheck1\n", tmp);
	said(cfg);
	ck_assert_ptr_null(strstr(err, "pools[1]"));
	snprintf(cfg, sizeof cfg, "loopvisord: pools[2].exec[0]: %s/closed/prog: folder %s/closed "
	         "is not searchable (x) by user lvcheck1\n", tmp, tmp);
	said(cfg);
	snprintf(cfg, sizeof cfg, "loopvisord: pools[3].cwd: %s/closed: not searchable (x) by "
	         "user lvcheck1\n", tmp);
	said(cfg);
	ck_assert_ptr_null(strstr(err, "pools[4]")); /* root may */
}
END_TEST

/* A limit this host cannot apply is a warning (the start works, without it), naming the
 * controller and the cgroup folder that lacks it; with "cgroup": "off", that no limit
 * applies at all. */
START_TEST(check_warns_of_limits_the_host_cannot_apply)
{
	char path[128], file[4300], *controllers;
	const char *w, *which, *end;

	snprintf(path, sizeof path, "/tmp/lv-check-limits.%d.json", (int)getpid());
	write_file(path, "{\"pools\":[{\"name\":\"web\",\"limits\":{\"memory_max\":\"64M\"},"
	           "\"exec\":[\"true\"]}]}", 0644);
	ck_assert_int_eq(check_file(path), 0);
	if ((w = strstr(err, "warning: pools[0].limits: needs the memory controller, which "))) {
		/* the folder it names has no memory controller indeed */
		which = w + strlen("warning: pools[0].limits: needs the memory controller, which ");
		ck_assert_ptr_nonnull(end = strstr(which, " does not offer"));
		if (strncmp(which, "this host", 9) != 0) {
			snprintf(file, sizeof file, "%.*s/cgroup.controllers", (int)(end - which), which);
			ck_assert_ptr_nonnull(controllers = slurp(file));
			ck_assert_msg(!strstr(controllers, "memory"), "%s: %s", file, controllers);
			free(controllers);
		}
		printf("check: this host has no memory controller: the warning was checked\n");
	} else {
		ck_assert_msg(!strstr(err, "limits"), "%s", err);
		printf("check: this host has a memory controller: no warning, as it should\n");
	}
	write_file(path, "{\"cgroup\":\"off\",\"pools\":[{\"name\":\"web\",\"limits\":"
	           "{\"pids_max\":10},\"exec\":[\"true\"]}]}", 0644);
	ck_assert_int_eq(check_file(path), 0);
	said("warning: pools[0].limits: \"cgroup\": \"off\": workers get no cgroup, so no limit "
	     "applies");
	/* memory_restart alone is named as itself */
	write_file(path, "{\"cgroup\":\"off\",\"pools\":[{\"name\":\"web\",\"memory_restart\":"
	           "\"64M\",\"exec\":[\"true\"]}]}", 0644);
	ck_assert_int_eq(check_file(path), 0);
	said("warning: pools[0].memory_restart: \"cgroup\": \"off\": workers get no cgroup, so no "
	     "limit applies");
	unlink(path);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("check");
	TCase *tc = tcase_create("check");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, check_names_what_would_fail_at_start);
	tcase_add_test(tc, check_warns_of_limits_the_host_cannot_apply);
	suite_add_tcase(su, tc);
	tc = tcase_create("users");
	tcase_add_unchecked_fixture(tc, make_tmp_name, remove_user);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, check_judges_access_as_the_pools_user);
	suite_add_tcase(su, tc);
	return lvd_run_suite(su);
}
