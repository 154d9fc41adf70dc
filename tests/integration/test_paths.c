/* test_paths: what the root daemon does by path in folders others can write: a pool user
 * racing symlinks while sockets are rebound, a group for the control socket in a folder
 * others can write, log folders of another user, a FIFO for a log file, a squatted
 * /tmp/loopvisor-UID. Real users are made with useradd. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pwd.h>
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
#include "hostile_paths_attack.h"

#define OWNER "lvt_logowner"
#define VICTIM "lvt_victim"
#define SQUATTER "lvt_squatter"

static struct lvd d;
static struct symlink_race race;
static char scratch[64];  /* a temp folder a test made, removed at teardown */
static pid_t fake_daemon;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void teardown(void)
{
	race_teardown(&race);
	if (fake_daemon > 0) {
		kill(fake_daemon, SIGKILL);
		waitpid(fake_daemon, NULL, 0);
		fake_daemon = 0;
	}
	lvd_set_wrapper(NULL);
	lvd_stop(&d);
	if (scratch[0])
		nftw(scratch, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	scratch[0] = '\0';
}

static uid_t user_uid(const char *name)
{
	struct passwd *pw;

	ensure_user(name);
	ck_assert_ptr_nonnull(pw = getpwnam(name));
	return pw->pw_uid;
}

static mode_t socket_mode(const char *path)
{
	struct stat st;

	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	return st.st_mode & 07777;
}

/* Item 1: root's chmod after bind followed the attacker's symlink to any file. */
START_TEST(a_pool_user_cannot_redirect_root_through_its_socket_folder)
{
	char *config;
	int reloads;

	if (skip_unless_root("a_pool_user_cannot_redirect_root_through_its_socket_folder"))
		return;
	race_setup(&race);
	config = race_config(&race, 0);
	lvd_start(&d, "%s", config);
	free(config);
	{
		char sock[160];
		snprintf(sock, sizeof sock, "%s/a.sock", race.pool_dir);
		ck_assert_uint_eq(socket_mode(sock), 0666); /* born with it: no chmod after bind */
	}
	race_start_attacker(&race, 120);
	reloads = race_reload(&d, &race, 5000, 20000);
	printf("test_paths: %d reloads against the racing symlink attacker, %d refused (a link "
	       "where the socket goes)\n", reloads, race.refused);
	fflush(stdout);
	ck_assert_msg(race_victim_mode(&race) == 0600,
	              "root chmod'ed the victim through a planted symlink after %d reloads: mode %o",
	              reloads, (unsigned)race_victim_mode(&race));
	ck_assert_int_gt(reloads, 0);
	json_decref(lvd_call(&d, "ping", NULL));
}
END_TEST

/* The wrapper makes the socket's folder writable by everyone before the daemon starts. */
static void start_in_open_folder(const char *config, int *status, char *log, size_t len)
{
	static const char *const open_dir[] = { "/bin/sh", "-c", "chmod 1777 \"${5%/*}\"; exec \"$@\"",
	                                        "sh", NULL };

	lvd_set_wrapper(open_dir);
	*status = lvd_try_start(&d, config, log, len);
	lvd_set_wrapper(NULL);
}

START_TEST(a_control_group_needs_a_folder_only_the_daemon_writes)
{
	char log[8192];
	int st;

	if (skip_unless_root("a_control_group_needs_a_folder_only_the_daemon_writes"))
		return;
	attack_sh("getent group lvt_ctl >/dev/null || groupadd -r lvt_ctl");
	start_in_open_folder("{\"control\":{\"mode\":\"0660\",\"group\":\"lvt_ctl\"},\"pools\":[]}",
	                     &st, log, sizeof log);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %d: %s", st, log);
	ck_assert_msg(strstr(log, "control.group") && strstr(log, "world-writable"), "%s", log);
	lvd_stop(&d); /* removes the failed start's folder */
	/* without a group nothing is changed by path: the socket is made with its mode */
	start_in_open_folder("{\"control\":{\"mode\":\"0640\"},\"pools\":[]}", &st, log, sizeof log);
	ck_assert_msg(st == 0, "status %d: %s", st, log);
	ck_assert_uint_eq(socket_mode(d.sock), 0640);
}
END_TEST

/* A new control.mode on reload was a chmod by path: now only where no one else can swap it. */
START_TEST(a_new_control_mode_is_applied_in_place_only_in_a_private_folder)
{
	char log[8192];
	json_t *e;
	int st;

	lvd_start(&d, "{\"control\":{\"mode\":\"0600\"},\"pools\":[]}");
	ck_assert_uint_eq(socket_mode(d.sock), 0600);
	lvd_write_config(&d, "{\"control\":{\"mode\":\"0660\"},\"pools\":[]}");
	json_decref(lvd_call(&d, "reload", NULL));
	ck_assert_uint_eq(socket_mode(d.sock), 0660);
	lvd_stop(&d);

	start_in_open_folder("{\"control\":{\"mode\":\"0600\"},\"pools\":[]}", &st, log, sizeof log);
	ck_assert_msg(st == 0, "status %d: %s", st, log);
	lvd_write_config(&d, "{\"control\":{\"mode\":\"0660\"},\"pools\":[]}");
	e = lvd_call_error(&d, "reload", NULL);
	ck_assert_msg(strstr(JSTR(e, "message"), "restart the daemon to apply it"), "%s",
	              JSTR(e, "message"));
	json_decref(e);
	ck_assert_uint_eq(socket_mode(d.sock), 0600);
}
END_TEST

/* Item 5: a log folder its worker's user owns is refused at start, add and reload. */
START_TEST(a_log_folder_of_another_user_is_refused)
{
	char config[512], log[8192], logs[400], cmd[600];
	uid_t owner;
	json_t *e;
	int st;

	if (skip_unless_root("a_log_folder_of_another_user_is_refused"))
		return;
	owner = user_uid(OWNER);
	snprintf(scratch, sizeof scratch, "/tmp/lvt_logs.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(scratch));
	chmod(scratch, 0755);
	ck_assert_int_eq(chown(scratch, owner, (gid_t)-1), 0);
	snprintf(config, sizeof config, "{\"logs\":{\"dir\":\"%s\"},\"pools\":[{\"name\":\"a\","
	         "\"user\":\"" OWNER "\",\"exec\":[\"true\"]}]}", scratch);
	st = lvd_try_start(&d, config, log, sizeof log);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %d: %s", st, log);
	ck_assert_msg(strstr(log, "refusing a folder owned by uid") != NULL, "%s", log);
	lvd_stop(&d); /* removes the failed start's folder */

	/* a folder the daemon made, handed over to the user later */
	lvd_start(&d, "{\"logs\":{\"dir\":\"logs\"},\"pools\":[{\"name\":\"a\",\"exec\":[\"true\"],"
	              "\"autostart\":false}]}");
	snprintf(logs, sizeof logs, "%s/logs", d.dir);
	ck_assert_int_eq(chown(logs, owner, (gid_t)-1), 0);
	e = lvd_call_error(&d, "add", "{\"pool\":{\"name\":\"b\",\"exec\":[\"true\"]}}");
	ck_assert_msg(strstr(JSTR(e, "message"), "refusing a folder owned by uid"), "%s",
	              JSTR(e, "message"));
	json_decref(e);
	e = lvd_call_error(&d, "reload", NULL);
	ck_assert_msg(strstr(JSTR(e, "message"), "refusing a folder owned by uid"), "%s",
	              JSTR(e, "message"));
	json_decref(e);
	/* given back: both work again */
	snprintf(cmd, sizeof cmd, "chown root %s", logs);
	attack_sh(cmd);
	json_decref(lvd_call(&d, "reload", NULL));
	json_decref(lvd_call(&d, "add", "{\"pool\":{\"name\":\"b\",\"exec\":[\"true\"],"
	                                "\"autostart\":false}}"));
}
END_TEST

/* A ping answered within ms. */
static bool answers_within(struct lvd *dd, int ms)
{
	json_t *res = NULL, *err = NULL;
	bool ok = lv_client_call(dd->c, "ping", NULL, test_ms(ms), &res, &err) == 0 && res;

	json_decref(res);
	json_decref(err);
	return ok;
}

/* Item 5: a FIFO where the log file was made the daemon hang in open() on SIGUSR1/reload. */
START_TEST(a_fifo_for_a_log_file_does_not_hang_the_daemon)
{
	char logs[400], fifo[420];
	bool after_usr1, after_reload;
	int reader;
	json_t *r;

	lvd_start(&d, "{\"logs\":{\"dir\":\"logs\"},\"pools\":[{\"name\":\"a\","
	              "\"exec\":[\"sleep\",\"1000\"]}]}");
	json_decref(lvd_wait(&d, "a", "running", 0));
	snprintf(logs, sizeof logs, "%s/logs", d.dir);
	snprintf(fifo, sizeof fifo, "%s/a.log", logs);
	plant_fifo(logs, "a");
	kill(d.pid, SIGUSR1);
	after_usr1 = answers_within(&d, 5000) && daemon_logged_within(&d, "not a regular file", 5000);
	if (!after_usr1) { /* let a hung daemon go, so that it can be stopped */
		reader = open(fifo, O_RDONLY | O_NONBLOCK);
		ck_abort_msg("the daemon hung opening a FIFO as its log file after SIGUSR1");
		close(reader);
	}
	r = lvd_call(&d, "reload", NULL);
	json_decref(r);
	after_reload = answers_within(&d, 5000);
	ck_assert(after_reload);
	/* with a reader on the FIFO the open succeeds: fstat must still refuse it */
	reader = open(fifo, O_RDONLY | O_NONBLOCK);
	ck_assert_int_ge(reader, 0);
	json_decref(lvd_call(&d, "reload", NULL));
	ck_assert(answers_within(&d, 5000));
	close(reader);
	/* the FIFO gone, the next reopen makes a regular file again */
	ck_assert_int_eq(unlink(fifo), 0);
	kill(d.pid, SIGUSR1);
	ck_assert(daemon_logged_within(&d, "reopened the log files", 5000));
	{
		struct stat st;
		json_decref(lvd_call(&d, "ping", NULL));
		ck_assert_int_eq(lstat(fifo, &st), 0);
		ck_assert(S_ISREG(st.st_mode));
	}
}
END_TEST

/* The same class: the config file is read on every reload; a FIFO in its place hung it. */
START_TEST(a_fifo_for_the_config_file_fails_the_reload)
{
	char saved[420];
	json_t *e;

	lvd_start(&d, "{\"pools\":[]}");
	snprintf(saved, sizeof saved, "%s.saved", d.config);
	ck_assert_int_eq(rename(d.config, saved), 0);
	ck_assert_int_eq(mkfifo(d.config, 0600), 0);
	e = lvd_call_error(&d, "reload", NULL);
	ck_assert_msg(strstr(JSTR(e, "message"), "not a regular file"), "%s", JSTR(e, "message"));
	json_decref(e);
	ck_assert_int_eq(rename(saved, d.config), 0);
	json_decref(lvd_call(&d, "reload", NULL));
}
END_TEST

/* A socket that answers one request with a plausible reply: someone else's "daemon". */
static pid_t start_fake_daemon(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pid_t pid;

	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	chmod(path, 0666);
	ck_assert_int_eq(listen(fd, 8), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		alarm(60);
		for (;;) {
			int c = accept(fd, NULL, NULL);
			char buf[4096];
			static const char reply[] = "{\"jsonrpc\":\"2.0\",\"result\":\"pong\",\"id\":1}\n";

			if (c < 0)
				_exit(0);
			if (read(c, buf, sizeof buf) > 0 && write(c, reply, sizeof reply - 1) < 0)
				_exit(1);
			close(c);
		}
	}
	close(fd);
	return pid;
}

/* Item 20: another user made /tmp/loopvisor-UID first: neither side may use it. */
START_TEST(a_squatted_tmp_fallback_is_refused_by_ctl_and_daemon)
{
	char dir[64], sock[96], cfg[160], out[4096], err[4096];
	uid_t victim, squatter;
	int rc;

	if (skip_unless_root("a_squatted_tmp_fallback_is_refused_by_ctl_and_daemon"))
		return;
	victim = user_uid(VICTIM);
	squatter = user_uid(SQUATTER);
	snprintf(dir, sizeof dir, "/tmp/loopvisor-%u", (unsigned)victim);
	snprintf(sock, sizeof sock, "%s/control.sock", dir);
	snprintf(scratch, sizeof scratch, "%s", dir);
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS); /* a leftover of an earlier run */
	ck_assert_int_eq(mkdir(dir, 0777), 0);
	chmod(dir, 0777);
	ck_assert_int_eq(chown(dir, squatter, squatter), 0);
	fake_daemon = start_fake_daemon(sock);
	{
		const char *argv[] = { "/usr/bin/setpriv", "--reuid=" VICTIM, "--regid=" VICTIM,
		                       "--clear-groups", "/usr/bin/env", "-u", "XDG_RUNTIME_DIR", "-u",
		                       "LOOPVISOR_SOCKET", "-u", "RUNTIME_DIRECTORY",
		                       lvd_build_path("bin/loopvisorctl"), "call", "ping", NULL };
		rc = run_program(argv, out, sizeof out, err, sizeof err);
	}
	ck_assert_msg(rc == 3, "loopvisorctl talked to the squatter's socket (exit %d): %s%s", rc, out,
	              err);
	ck_assert_msg(strstr(err, dir) && strstr(err, "owned by uid"), "%s", err);

	/* the daemon, as the victim, refuses to make its socket there */
	kill(fake_daemon, SIGKILL);
	waitpid(fake_daemon, NULL, 0);
	fake_daemon = 0;
	unlink(sock);
	snprintf(cfg, sizeof cfg, "%s/lvt_fallback.%d.json", "/tmp", (int)getpid());
	{
		FILE *f = fopen(cfg, "w");
		const char *argv[] = { "/usr/bin/timeout", "20", "/usr/bin/setpriv", "--reuid=" VICTIM,
		                       "--regid=" VICTIM, "--clear-groups", "/usr/bin/env", "-u",
		                       "XDG_RUNTIME_DIR", "-u", "LOOPVISOR_SOCKET", "-u",
		                       "RUNTIME_DIRECTORY", "-u", "NOTIFY_SOCKET",
		                       lvd_build_path("bin/loopvisord"), "-c", cfg, NULL };

		ck_assert_ptr_nonnull(f);
		fputs("{\"pools\":[]}", f);
		fclose(f);
		chmod(cfg, 0644);
		rc = run_program(argv, out, sizeof out, err, sizeof err);
		unlink(cfg);
	}
	ck_assert_msg(rc == 1, "loopvisord used the squatted folder (exit %d): %s%s", rc, out, err);
	ck_assert_msg(strstr(err, dir) && strstr(err, "owned by uid"), "%s", err);
	{
		struct stat st;
		ck_assert_int_ne(lstat(sock, &st), 0); /* nothing was made there */
	}
}
END_TEST

int main(void)
{
	Suite *su = suite_create("paths");
	TCase *tc = tcase_create("paths");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, a_pool_user_cannot_redirect_root_through_its_socket_folder);
	tcase_add_test(tc, a_control_group_needs_a_folder_only_the_daemon_writes);
	tcase_add_test(tc, a_new_control_mode_is_applied_in_place_only_in_a_private_folder);
	tcase_add_test(tc, a_log_folder_of_another_user_is_refused);
	tcase_add_test(tc, a_fifo_for_a_log_file_does_not_hang_the_daemon);
	tcase_add_test(tc, a_fifo_for_the_config_file_fails_the_reload);
	tcase_add_test(tc, a_squatted_tmp_fallback_is_refused_by_ctl_and_daemon);
	suite_add_tcase(su, tc);
	return lvd_run_suite(su);
}
