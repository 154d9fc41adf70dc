/* hostile_paths_attack: a pool user who races symlinks into the folder of its pool's socket
 * while the daemon rebinds it, and a FIFO where a log file should be. Shared by test_paths
 * and the hostile_paths chaos scenario. */
#include "hostile_paths_attack.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void attack_sh(const char *cmd)
{
	ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
}

void race_setup(struct symlink_race *r)
{
	struct passwd *pw;
	char dir[100];
	int fd;

	memset(r, 0, sizeof *r);
	r->reloader_pipe = -1;
	attack_sh("id " RACE_USER " >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin " RACE_USER);
	ck_assert_ptr_nonnull(pw = getpwnam(RACE_USER));
	snprintf(r->root, sizeof r->root, "/tmp/lvt_race.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(r->root));
	ck_assert_int_eq(chmod(r->root, 0711), 0);
	snprintf(r->pool_dir, sizeof r->pool_dir, "%s/pool", r->root);
	ck_assert_int_eq(mkdir(r->pool_dir, 0755), 0);
	ck_assert_int_eq(chown(r->pool_dir, pw->pw_uid, pw->pw_gid), 0);
	snprintf(dir, sizeof dir, "%s/victim", r->root);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	snprintf(r->victim, sizeof r->victim, "%s/file", dir);
	ck_assert_int_ge(fd = open(r->victim, O_WRONLY | O_CREAT | O_EXCL, 0600), 0);
	ck_assert_int_eq(write(fd, "secret\n", 7), 7);
	close(fd);
	ck_assert_int_eq(chmod(r->victim, 0600), 0);
}

char *race_config(const struct symlink_race *r, int which)
{
	char *text;

	ck_assert_int_ge(asprintf(&text, "{\"pools\":[{\"name\":\"p\",\"exec\":[\"sleep\",\"1000\"],"
	                          "\"autostart\":false,\"listen\":[\"unix:%s/%s.sock\"]}]}",
	                          r->pool_dir, which ? "b" : "a"), 0);
	return text;
}

/* The attacker's loop: it watches both socket names; the moment a socket appears on one, a
 * link to the victim made beforehand is renamed onto it (root's chmod after bind would follow
 * it), and the link left on the other name goes, so that the daemon can bind there next. */
static void attacker_loop(const struct symlink_race *r)
{
	char names[2][160], tmp[160];
	struct stat st;

	snprintf(names[0], sizeof names[0], "%s/a.sock", r->pool_dir);
	snprintf(names[1], sizeof names[1], "%s/b.sock", r->pool_dir);
	snprintf(tmp, sizeof tmp, "%s/.link", r->pool_dir);
	if (symlink(r->victim, tmp) < 0)
		_exit(98);
	for (;;)
		for (int i = 0; i < 2; i++) {
			if (lstat(names[i], &st) < 0 || !S_ISSOCK(st.st_mode))
				continue;
			rename(tmp, names[i]);
			if (lstat(names[1 - i], &st) == 0 && S_ISLNK(st.st_mode))
				unlink(names[1 - i]);
			if (symlink(r->victim, tmp) < 0)
				_exit(98);
		}
}

void race_start_attacker(struct symlink_race *r, int max_seconds)
{
	struct passwd *pw = getpwnam(RACE_USER);

	ck_assert_ptr_nonnull(pw);
	r->attacker = fork();
	ck_assert_int_ge(r->attacker, 0);
	if (r->attacker == 0) {
		alarm((unsigned)max_seconds); /* bounded even if the test dies */
		if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
			_exit(97);
		attacker_loop(r);
		_exit(0);
	}
}

mode_t race_victim_mode(const struct symlink_race *r)
{
	struct stat st;

	ck_assert_int_eq(stat(r->victim, &st), 0);
	return st.st_mode & 07777;
}

/* Writes the config next to the old one and renames it into place; no check asserts, so a
 * forked reloader can use it too. */
static int write_config(const char *path, const char *text)
{
	char tmp[400];
	FILE *f;

	snprintf(tmp, sizeof tmp, "%s.new", path);
	if (!(f = fopen(tmp, "w")))
		return -1;
	fputs(text, f);
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, path);
}

static int reload_loop(struct lvd *d, struct symlink_race *r, struct lv_client *c,
                       int max_reloads, int max_ms)
{
	char *configs[2] = { race_config(r, 0), race_config(r, 1) };
	long long end = now_ms() + max_ms;
	int n = 0;

	while (n < max_reloads && now_ms() < end && race_victim_mode(r) == 0600) {
		json_t *res = NULL, *err = NULL;

		if (write_config(d->config, configs[(n + 1) % 2]) < 0 ||
		    lv_client_call(c, "reload", NULL, 30000, &res, &err) < 0)
			break; /* the daemon is gone or hangs: the caller's checks say so */
		r->refused += err != NULL;
		json_decref(res);
		json_decref(err);
		n++;
	}
	free(configs[0]);
	free(configs[1]);
	return n;
}

int race_reload(struct lvd *d, struct symlink_race *r, int max_reloads, int max_ms)
{
	return reload_loop(d, r, d->c, max_reloads, max_ms);
}

void race_reloader_start(struct lvd *d, struct symlink_race *r, int max_reloads, int max_ms)
{
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	r->reloader = fork();
	ck_assert_int_ge(r->reloader, 0);
	if (r->reloader == 0) {
		struct lv_client *c = lv_client_connect(d->sock);
		int n = c ? reload_loop(d, r, c, max_reloads, max_ms) : -1;

		if (write(p[1], &n, sizeof n) != sizeof n)
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	r->reloader_pipe = p[0];
}

int race_reloader_wait(struct symlink_race *r)
{
	int n = -1;

	if (read(r->reloader_pipe, &n, sizeof n) != sizeof n)
		n = -1;
	close(r->reloader_pipe);
	r->reloader_pipe = -1;
	waitpid(r->reloader, NULL, 0);
	r->reloader = 0;
	return n;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void race_teardown(struct symlink_race *r)
{
	if (r->attacker > 0) {
		kill(r->attacker, SIGKILL);
		waitpid(r->attacker, NULL, 0);
	}
	if (r->reloader > 0) {
		kill(r->reloader, SIGKILL);
		waitpid(r->reloader, NULL, 0);
	}
	if (r->reloader_pipe >= 0)
		close(r->reloader_pipe);
	if (r->root[0])
		nftw(r->root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	memset(r, 0, sizeof *r);
	r->reloader_pipe = -1;
}

void plant_fifo(const char *dir, const char *name)
{
	char path[400], old[420];

	snprintf(path, sizeof path, "%s/%s.log", dir, name);
	snprintf(old, sizeof old, "%s.old", path);
	rename(path, old);
	ck_assert_msg(mkfifo(path, 0600) == 0, "mkfifo %s: %s", path, strerror(errno));
}

struct logged {
	const char *path, *text;
};

static bool has_logged(void *arg)
{
	const struct logged *l = arg;
	char *log = slurp(l->path);
	bool found = log && strstr(log, l->text);

	free(log);
	return found;
}

bool daemon_logged_within(struct lvd *d, const char *text, int ms)
{
	struct logged l = { d->log, text };

	return until_changed(d->log, has_logged, &l, ms); /* it writes its log itself */
}
