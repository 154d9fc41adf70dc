/* test_access: who may use the control socket, with real unprivileged users made for the
 * test (useradd) and loopvisorctl run as them (setpriv): a stranger cannot connect, a
 * reader can look but not act, an admin can act, refusals are logged with the uid, a peer
 * with no role is closed at accept, slots are bounded per uid, and a reload's access list
 * holds for connections opened before it. */
#include <check.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
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
	sh("id lvt_norole >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin -G lvt_ctl lvt_norole");
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

#define ACCESS "{\"control\":{\"mode\":\"0660\",\"group\":\"lvt_ctl\",\"access\":[%s]}," \
               "\"pools\":[{\"name\":\"s\",\"exec\":[\"sleep\",\"1000\"]}]}"
#define READER "{\"user\":\"lvt_reader\",\"role\":\"read\"}"
#define ADMINS(role) "{\"group\":\"lvt_admins\",\"role\":\"" role "\"}"

/* A child process that becomes user (with all its groups) and runs fn(ready, go): fn
 * writes a byte on ready when it wants the test to act and reads one from go to go on.
 * Its exit code is fn's: 0, or the number of the step that went wrong. */
struct child { pid_t pid; int ready, go; };

static struct child fork_as(const char *user, int (*fn)(int ready, int go))
{
	int up[2], down[2];
	struct child c;
	struct passwd *pw = getpwnam(user);

	ck_assert_ptr_nonnull(pw);
	ck_assert_int_eq(pipe(up), 0);
	ck_assert_int_eq(pipe(down), 0);
	ck_assert_int_ge(c.pid = fork(), 0);
	if (c.pid == 0) {
		close(up[0]);
		close(down[1]);
		if (initgroups(user, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
			_exit(100);
		_exit(fn(up[1], down[0]));
	}
	close(up[1]);
	close(down[0]);
	c.ready = up[0];
	c.go = down[1];
	return c;
}

static void await_ready(struct child *c)
{
	char b;

	ck_assert_msg(read(c->ready, &b, 1) == 1, "the child gave up before it was ready");
}

static int child_result(struct child *c)
{
	int status;

	ck_assert_int_eq(write(c->go, "g", 1), 1);
	ck_assert_int_eq(waitpid(c->pid, &status, 0), c->pid);
	close(c->ready);
	close(c->go);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 200;
}

static void signal_ready_and_wait(int ready, int go)
{
	char b;

	if (write(ready, "r", 1) != 1 || read(go, &b, 1) != 1)
		_exit(99);
}

/* What a reader may call (docs/config.md, control.access); every other method the
 * protocol documents is for admins. */
static const char *const read_methods[] = { "ping", "version", "status", "wait", "inspect",
                                            "tail", "subscribe", NULL };
static char admin_methods[32][32];
static int n_admin_methods;

static bool is_read_method(const char *name)
{
	for (int i = 0; read_methods[i]; i++)
		if (!strcmp(read_methods[i], name))
			return true;
	return false;
}

/* Every method docs/protocol.md describes ("### start, stop, restart" under "## Methods")
 * that is not a reader's, into admin_methods: the list does not depend on the daemon's
 * own table, which is what is tested. */
static void find_admin_methods(void)
{
	char path[512], *doc, *sec, *line;

	snprintf(path, sizeof path, "%s/docs/protocol.md", getenv("LV_SOURCE_DIR") ?: ".");
	ck_assert_ptr_nonnull(doc = slurp(path));
	ck_assert_ptr_nonnull(sec = strstr(doc, "\n## Methods\n"));
	n_admin_methods = 0;
	for (line = strstr(sec + 1, "\n"); line && strncmp(line, "\n## ", 4); line = strstr(line + 1, "\n")) {
		char names[256], *save = NULL;

		if (strncmp(line, "\n### ", 5) != 0)
			continue;
		snprintf(names, sizeof names, "%.*s", (int)strcspn(line + 5, "\n"), line + 5);
		for (char *n = strtok_r(names, ", ", &save); n; n = strtok_r(NULL, ", ", &save))
			if (!is_read_method(n) && n_admin_methods < 32)
				snprintf(admin_methods[n_admin_methods++], sizeof admin_methods[0], "%s", n);
	}
	free(doc);
	ck_assert_int_ge(n_admin_methods, 9); /* start stop restart signal scale add remove reload shutdown */
}

/* As a reader: every admin method, each on a fresh connection, is answered -32003. Its
 * exit code is 1 + the index of the first method that was not refused. */
static int reader_tries_every_admin_method(int ready, int go)
{
	int first_allowed = 0;

	for (int i = 0; i < n_admin_methods; i++) {
		struct lv_client *c = lv_client_connect(d.sock);
		json_t *res = NULL, *fault = NULL;
		int refused;

		if (!c || lv_client_call(c, admin_methods[i], NULL, 10000, &res, &fault) < 0) {
			first_allowed = 1 + i;
			break;
		}
		refused = !res && JINT(fault, "code") == -32003;
		json_decref(res);
		json_decref(fault);
		lv_client_close(c);
		if (!refused) {
			first_allowed = 1 + i;
			break;
		}
	}
	signal_ready_and_wait(ready, go);
	return first_allowed;
}

START_TEST(roles_decide_what_a_peer_may_do)
{
	char *log;
	struct child reader;
	int failed;

	if (geteuid() != 0) {
		printf("skipped: needs root to make users and switch to them\n");
		return;
	}
	make_users();
	find_admin_methods();
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
	reader = fork_as("lvt_reader", reader_tries_every_admin_method);
	await_ready(&reader);
	failed = child_result(&reader);
	ck_assert_msg(failed == 0, "a reader was not refused %s",
	              failed > 0 && failed <= n_admin_methods ? admin_methods[failed - 1] : "(crashed)");
	json_decref(lvd_wait(&d, "s", "running", 0)); /* and nothing changed */

	ck_assert_int_eq(ctl_as("lvt_admin", "stop", "s"), 0);
	ck_assert_int_eq(ctl_as("lvt_admin", "start", "s"), 0);

	log = slurp(d.log);
	ck_assert_ptr_nonnull(strstr(log, "permission denied: uid "));
	ck_assert_ptr_nonnull(strstr(log, " may not call stop"));
	ck_assert_ptr_nonnull(strstr(log, " may not call shutdown"));
	free(log);
}
END_TEST

/* The error code of one line, or 0 if it is not an error (or not JSON). */
static int line_error(char *line, const char **limit)
{
	json_t *r = line ? json_loads(line, 0, NULL) : NULL;
	json_t *e = json_object_get(r, "error");
	int code = (int)JINT(e, "code");
	static char lim[64];

	snprintf(lim, sizeof lim, "%s", JSTR(json_object_get(e, "data"), "limit") ?: "");
	if (limit)
		*limit = lim;
	json_decref(r);
	free(line);
	return code;
}

/* As a peer with no role: every connection is answered -32003 at once, then closed, so
 * none of them holds one of the daemon's slots. */
static int no_role_hoarder(int ready, int go)
{
	struct lv_client *c[300];

	for (int i = 0; i < 300; i++) {
		if (!(c[i] = lv_client_connect(d.sock)))
			return 1;
		if (line_error(lv_client_read_line(c[i], 10000), NULL) != -32003)
			return 2;
		if (lv_client_read_line(c[i], 10000) != NULL || errno != ECONNRESET)
			return 3;
	}
	signal_ready_and_wait(ready, go);
	for (int i = 0; i < 300; i++)
		lv_client_close(c[i]);
	return 0;
}

/* As a reader: connections until refused; 64 are served, the 65th is refused -32010. */
static int reader_hoarder(int ready, int go)
{
	struct lv_client *c[100];
	json_t *res, *fault;
	const char *limit;
	int n;

	for (n = 0; n < 100; n++) {
		if (!(c[n] = lv_client_connect(d.sock)))
			return 1;
		if (lv_client_call(c[n], "ping", NULL, 10000, &res, &fault) < 0)
			return 2;
		json_decref(res);
		if (fault) {
			json_decref(fault);
			break;
		}
	}
	if (n != 64)
		return 3;
	if (line_error(lv_client_read_line(c[n], 100), &limit) != 0 || errno != ECONNRESET)
		return 4; /* refused, then closed */
	lv_client_close(c[n]);
	/* its own ping on a fresh connection is refused with the limit's name */
	c[n] = lv_client_connect(d.sock);
	if (!c[n] || line_error(lv_client_read_line(c[n], 10000), &limit) != -32010 ||
	    strcmp(limit, "connections_per_uid") != 0)
		return 5;
	lv_client_close(c[n]);
	signal_ready_and_wait(ready, go);
	for (int i = 0; i < n; i++)
		lv_client_close(c[i]);
	return 0;
}

/* Seconds since an arbitrary start, on the monotonic clock */
static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* How many lines of text contain what */
static unsigned count_lines_with(const char *text, const char *what)
{
	unsigned n = 0;

	for (const char *at = text; (at = strstr(at, what)); at += strlen(what))
		n++;
	return n;
}

START_TEST(no_role_no_slot_and_slots_bounded_per_uid)
{
	struct child hoarder;
	json_t *r;
	double began;
	unsigned logged;
	char *log;

	if (geteuid() != 0) {
		printf("skipped: needs root to make users and switch to them\n");
		return;
	}
	make_users();
	lvd_start(&d, ACCESS, READER);
	chmod(d.dir, 0711);
	began = mono_s();
	/* loopvisorctl with no role: one clear line, not a hang */
	ck_assert_int_ne(ctl_as("lvt_norole", "status", NULL), 0);
	ck_assert_msg(strstr(err, "no role") != NULL, "%s", err);
	hoarder = fork_as("lvt_norole", no_role_hoarder);
	await_ready(&hoarder);
	r = lvd_call(&d, "ping", NULL);
	ck_assert_str_eq(json_string_value(r), "pong");
	json_decref(r);
	ck_assert_int_eq(child_result(&hoarder), 0);
	/* a reader holding all its slots: root and loopvisorctl still get in */
	hoarder = fork_as("lvt_reader", reader_hoarder);
	await_ready(&hoarder);
	lv_client_close(d.c);
	ck_assert_ptr_nonnull(d.c = lv_client_connect(d.sock));
	r = lvd_call(&d, "ping", NULL);
	ck_assert_str_eq(json_string_value(r), "pong");
	json_decref(r);
	ck_assert_int_eq(ctl_as("root", "status", NULL), 0);
	ck_assert_int_eq(child_result(&hoarder), 0);
	/* over 300 refusals: the log says so once a second at most, with the count */
	log = slurp(d.log);
	logged = count_lines_with(log, "control: refused a connection of uid ");
	free(log);
	ck_assert_uint_ge(logged, 1);
	ck_assert_msg(logged <= (unsigned)(mono_s() - began) + 2,
	              "%u log lines about refusals in %.1f s", logged, mono_s() - began);
}
END_TEST

/* Connections opened before a reload: the reader's next request is refused (and its
 * connection closed), its event stream ends with -32003; an admin made a reader can no
 * longer stop. */
static int revoked_reader(int ready, int go)
{
	struct lv_client *c = lv_client_connect(d.sock), *sub = lv_client_connect(d.sock);
	json_t *res, *fault;
	char *line;
	int last = 0;

	if (!c || !sub || lv_client_call(c, "status", NULL, 10000, &res, &fault) < 0 || !res)
		return 1;
	json_decref(res);
	if (lv_client_call(sub, "subscribe", NULL, 10000, &res, &fault) < 0 || !res)
		return 2;
	json_decref(res);
	signal_ready_and_wait(ready, go); /* the test reloads meanwhile */
	if (lv_client_call(c, "status", NULL, 10000, &res, &fault) < 0 || res ||
	    JINT(fault, "code") != -32003)
		return 3;
	json_decref(fault);
	if (lv_client_read_line(c, 10000) != NULL || errno != ECONNRESET)
		return 4;
	while ((line = lv_client_read_line(sub, 10000)) != NULL)
		last = strstr(line, "\"method\"") ? 0 : line_error(line, NULL);
	if (errno != ECONNRESET || last != -32003)
		return 5;
	lv_client_close(c);
	lv_client_close(sub);
	return 0;
}

static int demoted_admin(int ready, int go)
{
	struct lv_client *c = lv_client_connect(d.sock);
	json_t *res, *fault;

	if (!c || lv_client_call(c, "ping", NULL, 10000, &res, &fault) < 0 || !res)
		return 1;
	json_decref(res);
	signal_ready_and_wait(ready, go);
	if (lv_client_call(c, "stop", json_pack("{s:s}", "target", "s"), 10000, &res, &fault) < 0 ||
	    res || JINT(fault, "code") != -32003)
		return 2;
	json_decref(fault);
	if (lv_client_call(c, "status", NULL, 10000, &res, &fault) < 0 || !res)
		return 3; /* still a reader */
	json_decref(res);
	lv_client_close(c);
	return 0;
}

START_TEST(a_reload_revokes_roles_on_open_connections)
{
	struct child reader, admin;
	char cfg[1024];

	if (geteuid() != 0) {
		printf("skipped: needs root to make users and switch to them\n");
		return;
	}
	make_users();
	lvd_start(&d, ACCESS, READER "," ADMINS("admin"));
	chmod(d.dir, 0711);
	json_decref(lvd_wait(&d, "s", "running", 0));
	reader = fork_as("lvt_reader", revoked_reader);
	admin = fork_as("lvt_admin", demoted_admin);
	await_ready(&reader);
	await_ready(&admin);
	snprintf(cfg, sizeof cfg, ACCESS, ADMINS("read"));
	lvd_write_config(&d, cfg);
	json_decref(lvd_call(&d, "reload", NULL));
	ck_assert_int_eq(child_result(&reader), 0);
	ck_assert_int_eq(child_result(&admin), 0);
	json_decref(lvd_wait(&d, "s", "running", 0)); /* the demoted admin stopped nothing */
}
END_TEST

int main(void)
{
	Suite *su = suite_create("access");
	TCase *tc = tcase_create("control");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, roles_decide_what_a_peer_may_do);
	tcase_add_test(tc, no_role_no_slot_and_slots_bounded_per_uid);
	tcase_add_test(tc, a_reload_revokes_roles_on_open_connections);
	suite_add_tcase(su, tc);
	return lvd_run_suite(su);
}
