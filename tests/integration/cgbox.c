/* cgbox: a cgroup v2 folder per test daemon (see cgbox.h). */
#include "cgbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

/* <cgroup2 mount><own folder> of this process, or false. */
static bool own_folder(char *out, size_t len)
{
	char line[PATH_MAX + 256], mount[PATH_MAX] = "", own[PATH_MAX] = "";
	FILE *f = fopen("/proc/self/mountinfo", "re");

	while (f && !mount[0] && fgets(line, sizeof line, f)) {
		char *mp = line;

		if (!strstr(line, " - cgroup2 "))
			continue;
		for (int i = 0; i < 4 && mp; i++)
			mp = strchr(mp, ' ') ? strchr(mp, ' ') + 1 : NULL;
		if (mp)
			snprintf(mount, sizeof mount, "%.*s", (int)strcspn(mp, " "), mp);
	}
	if (f)
		fclose(f);
	if ((f = fopen("/proc/self/cgroup", "re"))) {
		while (!own[0] && fgets(line, sizeof line, f))
			if (!strncmp(line, "0::", 3))
				snprintf(own, sizeof own, "%.*s", (int)strcspn(line + 3, "\n"), line + 3);
		fclose(f);
	}
	return mount[0] && own[0] &&
	       snprintf(out, len, "%s%s", mount, strcmp(own, "/") ? own : "") < (int)len;
}

/* Boxes of test programs that are gone: a failed test's daemon is killed with check's
 * process group, so its box stays behind, with what its workers left (a setsid escapee). */
static void sweep_stale(const char *own)
{
	DIR *d = opendir(own);
	struct dirent *e;
	char path[PATH_MAX];

	while (d && (e = readdir(d))) {
		int pid;

		if (sscanf(e->d_name, "lvtest-%d-", &pid) != 1 || pid <= 0 || kill(pid, 0) == 0 ||
		    errno != ESRCH || snprintf(path, sizeof path, "%s/%s", own, e->d_name) >= (int)sizeof path)
			continue;
		cgbox_remove(path);
	}
	if (d)
		closedir(d);
}

static bool as_unit;

void cgbox_as_unit(bool yes)
{
	as_unit = yes;
}

bool cgbox_offers(const char *path, const char *controller)
{
	char file[PATH_MAX + 32], *text;
	bool yes = false;
	FILE *f;

	snprintf(file, sizeof file, "%s/cgroup.controllers", path);
	if ((f = fopen(file, "re"))) {
		char line[512];

		for (text = fgets(line, sizeof line, f) ? strtok(line, " \n") : NULL; text && !yes;
		     text = strtok(NULL, " \n"))
			yes = !strcmp(text, controller);
		fclose(f);
	}
	return yes;
}

bool cgbox_make(char *path, size_t len)
{
	static unsigned n;
	char own[PATH_MAX];

	path[0] = '\0';
	if (geteuid() != 0 || !own_folder(own, sizeof own))
		return false;
	sweep_stale(own); /* as the box of every test of a run must go, whatever its test did */
	if (snprintf(path, len, "%s/lvtest-%d-%u%s", own, (int)getpid(), ++n,
	             as_unit ? ".service" : "") >= (int)len ||
	    mkdir(path, 0755) < 0) {
		path[0] = '\0';
		return false;
	}
	return true;
}

void cgbox_enter(const char *path)
{
	char procs[PATH_MAX + 16];
	int fd;

	if (!path[0])
		return;
	snprintf(procs, sizeof procs, "%s/cgroup.procs", path);
	if ((fd = open(procs, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)) >= 0) {
		if (write(fd, "0", 1) != 1)
			_exit(123);
		close(fd);
	}
}

static bool populated(const char *path)
{
	char file[PATH_MAX + 16], buf[256] = "";
	FILE *f;

	snprintf(file, sizeof file, "%s/cgroup.events", path);
	if (!(f = fopen(file, "re")))
		return false;
	while (fgets(buf, sizeof buf, f))
		if (!strncmp(buf, "populated ", 10)) {
			fclose(f);
			return buf[10] == '1';
		}
	fclose(f);
	return false;
}

static int remove_dir(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	return 0;
}

void cgbox_remove(char *path)
{
	char file[PATH_MAX + 16];
	int in, fd;

	if (!path[0])
		return;
	snprintf(file, sizeof file, "%s/cgroup.kill", path);
	if ((fd = open(file, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)) >= 0) {
		if (write(fd, "1", 1) < 0)
			fprintf(stderr, "cgbox: %s: %s\n", file, strerror(errno));
		close(fd);
	}
	/* watched, not polled: each change of cgroup.events wakes this */
	snprintf(file, sizeof file, "%s/cgroup.events", path);
	in = inotify_init1(IN_CLOEXEC);
	if (in >= 0 && inotify_add_watch(in, file, IN_MODIFY) >= 0) {
		struct pollfd pfd = { .fd = in, .events = POLLIN };
		char buf[4096];

		while (populated(path) && poll(&pfd, 1, 5000) > 0)
			if (read(in, buf, sizeof buf) < 0)
				break;
	}
	if (in >= 0)
		close(in);
	nftw(path, remove_dir, 16, FTW_DEPTH | FTW_PHYS);
	path[0] = '\0';
}

bool cgbox_pid_dead(int pid)
{
	char file[64], buf[512];
	FILE *f;
	char *paren;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	snprintf(file, sizeof file, "/proc/%d/stat", pid);
	if (!(f = fopen(file, "re")))
		return true;
	buf[0] = '\0';
	if (!fgets(buf, sizeof buf, f))
		buf[0] = '\0';
	fclose(f);
	paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' && paren[2] == 'Z';
}
