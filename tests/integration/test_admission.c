/* test_admission: an admin who is not root, a real user made for the test, may add pools
 * that run as itself and nothing else: not as root, not as another user, not with root's
 * sockets, ports, limits or folders. loopvisorctl runs as that user through setpriv. */
#include <check.h>
#include <pwd.h>
#include <stdarg.h>
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

#define ADMIN "lvt_pooladm"
#define OTHER "lvt_other"

/* loopvisorctl call add POOL as the admin (with its groups); its exit code */
static int add_as_admin(const char *pool_fmt, ...) __attribute__((format(printf, 1, 2)));
static int add_as_admin(const char *pool_fmt, ...)
{
	char params[1024], pool[900];
	const char *argv[] = { "/usr/bin/setpriv", "--reuid=" ADMIN, "--regid=" ADMIN, "--init-groups",
	                       lvd_build_path("bin/loopvisorctl"), "-s", d.sock, "call", "add", params,
	                       NULL };
	va_list ap;

	va_start(ap, pool_fmt);
	vsnprintf(pool, sizeof pool, pool_fmt, ap);
	va_end(ap);
	snprintf(params, sizeof params, "{\"pool\":%s}", pool);
	return run_program(argv, out, sizeof out, err, sizeof err);
}

static void expect_refused(const char *field, const char *pool)
{
	json_t *e;
	char name[80];

	ck_assert_msg(add_as_admin("%s", pool) == 1, "%s was not refused: %s", pool, out);
	ck_assert_msg(strstr(err, field) != NULL, "%s: %s", pool, err);
	/* and nothing of it exists */
	snprintf(name, sizeof name, "%s", strstr(pool, "\"name\":\"") + 8);
	*strchr(name, '"') = '\0';
	e = lvd_call_error(&d, "status", "{\"target\":\"%s\"}", name);
	ck_assert_int_eq(JINT(e, "code"), -32001);
	json_decref(e);
}

/* The real uid of a process, from /proc */
static long uid_of(pid_t pid)
{
	char path[64], *text, *line;
	long uid = -1;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	text = slurp(path);
	if (text && (line = strstr(text, "\nUid:")) != NULL)
		uid = strtol(line + 5, NULL, 10);
	free(text);
	return uid;
}

START_TEST(an_admin_who_is_not_root_adds_pools_only_as_itself)
{
	char priv[400], pub[420], *log;
	json_t *w;
	struct passwd *pw;

	if (geteuid() != 0) {
		fprintf(stderr, "SKIP: needs root to make users and switch to them\n");
		return;
	}
	sh("id " ADMIN " >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin " ADMIN);
	sh("id " OTHER " >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin " OTHER);
	ck_assert_ptr_nonnull(pw = getpwnam(ADMIN));
	lvd_start(&d, "{\"control\":{\"mode\":\"0666\",\"access\":[{\"user\":\"" ADMIN "\","
	              "\"role\":\"admin\"}]},\"pools\":[]}");
	chmod(d.dir, 0711); /* it may reach the socket, but not enter the folder's private parts */

	expect_refused("params.pool.user", "{\"name\":\"r1\",\"exec\":[\"sleep\",\"1000\"],"
	               "\"user\":\"root\"}");
	expect_refused("params.pool.user", "{\"name\":\"r2\",\"exec\":[\"sleep\",\"1000\"]}");
	expect_refused("params.pool.user", "{\"name\":\"r3\",\"exec\":[\"sleep\",\"1000\"],"
	               "\"user\":\"" OTHER "\"}");
	expect_refused("params.pool.group", "{\"name\":\"r4\",\"exec\":[\"sleep\",\"1000\"],"
	               "\"user\":\"" ADMIN "\",\"group\":\"root\"}");
	expect_refused("params.pool.listen[0]", "{\"name\":\"r5\",\"exec\":[\"sleep\",\"1000\"],"
	               "\"user\":\"" ADMIN "\",\"listen\":[\"unix:/run/lvt-planted.sock\"]}");
	expect_refused("params.pool.listen[0]", "{\"name\":\"r6\",\"exec\":[\"sleep\",\"1000\"],"
	               "\"user\":\"" ADMIN "\",\"listen\":[\"tcp:127.0.0.1:81\"]}");
	expect_refused("params.pool.rlimits", "{\"name\":\"r7\",\"exec\":[\"sleep\",\"1000\"],"
	               "\"user\":\"" ADMIN "\",\"rlimits\":{\"nofile\":\"infinity\"}}");
	expect_refused("params.pool.output", "{\"name\":\"r8\",\"exec\":[\"sleep\",\"1000\"],"
	               "\"user\":\"" ADMIN "\",\"output\":\"inherit\"}");
	/* the daemon reads env files as root: no reading root's files for another user */
	expect_refused("params.pool.env_file", "{\"name\":\"r9\",\"exec\":[\"sleep\",\"1000\"],"
	               "\"user\":\"" ADMIN "\",\"env_file\":\"/etc/shadow\"}");
	log = slurp(d.log);
	ck_assert_ptr_nonnull(strstr(log, "add of pool r1 refused to uid"));
	free(log);

	/* as itself: fine, and its worker runs as it */
	ck_assert_msg(add_as_admin("{\"name\":\"mine\",\"exec\":[\"sleep\",\"1000\"],\"user\":\""
	                           ADMIN "\"}") == 0, "%s", err);
	ck_assert_int_eq(uid_of(lvd_worker_pid(&d, "mine:0")), (long)pw->pw_uid);

	/* a folder only root may enter is no working directory for it: chdir happens as it */
	snprintf(priv, sizeof priv, "%s/private", d.dir);
	snprintf(pub, sizeof pub, "%s/pub", priv);
	ck_assert_int_eq(mkdir(priv, 0700), 0);
	ck_assert_int_eq(mkdir(pub, 0755), 0);
	ck_assert_int_eq(add_as_admin("{\"name\":\"cwd\",\"exec\":[\"sleep\",\"1000\"],\"user\":\""
	                              ADMIN "\",\"restart\":\"never\",\"cwd\":\"%s\"}", pub), 1);
	w = lvd_worker(&d, "cwd:0");
	ck_assert_str_eq(JSTR(w, "state"), "failed");
	ck_assert_ptr_nonnull(strstr(JSTR(w, "last_error"), "Permission denied"));
	json_decref(w);
	/* nor does root look for a module there for it: what is in the folder stays unknown */
	ck_assert_int_eq(add_as_admin("{\"name\":\"peek\",\"module\":\"%s/none.so\",\"user\":\""
	                              ADMIN "\",\"restart\":\"never\"}", priv), 1);
	w = lvd_worker(&d, "peek:0");
	ck_assert_msg(strstr(JSTR(w, "last_error"), "Permission denied") != NULL, "%s",
	              JSTR(w, "last_error"));
	json_decref(w);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("admission");
	TCase *tc = tcase_create("admission");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, an_admin_who_is_not_root_adds_pools_only_as_itself);
	suite_add_tcase(su, tc);
	return lvd_run_suite(su);
}
