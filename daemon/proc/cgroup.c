/* cgroup: the daemon's cgroup v2 subtree (see cgroup.h): where it goes, what a killed
 * daemon left behind, the controllers it has and hands down, and its removal at exit. The
 * workers' leaves are cgleaf.c's. */
#include "daemon/proc/cgroup_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/lib/log.h"

/* "0::/PATH" of /proc/self/cgroup, and where cgroup2 is mounted. */
static int find_own(char *mount, size_t mlen, char *path, size_t plen, char *why, size_t wlen)
{
	char line[PATH_MAX + 256];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	bool found = false;

	while (f && !found && fgets(line, sizeof line, f)) {
		char *dash = strstr(line, " - cgroup2 "), *mp = line;

		if (!dash)
			continue;
		for (int i = 0; i < 4 && mp; i++) /* id parent major:minor root MOUNTPOINT */
			mp = strchr(mp, ' ') ? strchr(mp, ' ') + 1 : NULL;
		if (mp && strcspn(mp, " ") < mlen) {
			snprintf(mount, mlen, "%.*s", (int)strcspn(mp, " "), mp);
			found = true;
		}
	}
	if (f)
		fclose(f);
	if (!found) {
		snprintf(why, wlen, "off: no cgroup v2 hierarchy is mounted");
		return -1;
	}
	found = false;
	if ((f = fopen("/proc/self/cgroup", "re"))) {
		while (!found && fgets(line, sizeof line, f))
			if (!strncmp(line, "0::", 3) && strlen(line + 3) < plen) {
				line[strcspn(line, "\n")] = '\0';
				snprintf(path, plen, "%s", line + 3);
				found = true;
			}
		fclose(f);
	}
	if (!found)
		snprintf(why, wlen, "off: /proc/self/cgroup names no cgroup v2 folder");
	return found ? 0 : -1;
}

static bool under_systemd(const char *path)
{
	size_t len = strlen(path);

	return getenv("INVOCATION_ID") && len > 8 && !strcmp(path + len - 8, ".service");
}

/* loopvisor-PID folders beside ours whose daemon is gone (it was killed, so it removed
 * nothing): their workers died with it, but what they left (a setsid escapee) did not, and
 * is killed now, as at a shutdown. A folder whose pid is alive, whoever that is, is left
 * alone. */
static void sweep_stale(int parent)
{
	DIR *d = cg_opendir(parent);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		int pid, sub;

		if (e->d_type != DT_DIR || sscanf(e->d_name, "loopvisor-%d", &pid) != 1 || pid <= 0 ||
		    (kill(pid, 0) == 0 || errno != ESRCH))
			continue;
		if ((sub = openat(parent, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)) < 0)
			continue;
		if (cg_populated(sub)) {
			log_warn("killing what is left in %s of a loopvisord that is gone", e->d_name);
			cg_kill_all(faccessat(sub, "cgroup.kill", W_OK, AT_EACCESS) == 0, sub);
			cg_wait_empty(sub, 2000);
		}
		cg_remove_below(sub, NULL);
		unlinkat(parent, e->d_name, AT_REMOVEDIR);
		close(sub);
	}
	closedir(d);
}

/* Where the subtree goes: the unit's folder (the daemon moving into "supervisor"), or
 * loopvisor-PID in the daemon's own folder. 0, or -1 with the reason in why. */
static int place_subtree(struct cgroups *cg, const char *mount, const char *own, char *why,
                         size_t wlen)
{
	char dir[PATH_MAX], pid[32];
	bool unit = under_systemd(own);
	int fd;

	if (snprintf(dir, sizeof dir, "%s%s", mount, strcmp(own, "/") ? own : "") >= (int)sizeof dir)
		return snprintf(why, wlen, "off: the cgroup path is too long"), -1;
	if (!unit && geteuid() != 0)
		return snprintf(why, wlen, "off: not root, and not a systemd unit"), -1;
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || faccessat(fd, "cgroup.procs", W_OK, AT_EACCESS) < 0) {
		snprintf(why, wlen, "off: %s is not writable%s", dir,
		         unit ? " (does the unit say Delegate=yes?)" : "");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	if (!unit)
		sweep_stale(fd);
	if (unit) { /* no process may stay in a folder whose controllers are handed down */
		if ((mkdirat(fd, "supervisor", 0755) < 0 && errno != EEXIST) ||
		    cg_write_at(fd, "supervisor/cgroup.procs", pid) < 0) {
			snprintf(why, wlen, "off: cannot move into %s/supervisor: %s", dir, strerror(errno));
			close(fd);
			return -1;
		}
		cg->dir = fd;
		cg_remove_below(fd, "supervisor"); /* empty leaves of the unit's last run: made anew */
		snprintf(cg->abs, sizeof cg->abs, "%s", dir);
		snprintf(cg->path, sizeof cg->path, "%s", own);
		return 0;
	}
	if (snprintf(cg->abs, sizeof cg->abs, "%s/loopvisor-%s", dir, pid) >= (int)sizeof cg->abs ||
	    snprintf(cg->path, sizeof cg->path, "%s/loopvisor-%s", strcmp(own, "/") ? own : "",
	             pid) >= (int)sizeof cg->path) {
		snprintf(why, wlen, "off: the cgroup path is too long");
		close(fd);
		return -1;
	}
	if (mkdirat(fd, cg->abs + strlen(dir) + 1, 0755) < 0 && errno != EEXIST) {
		snprintf(why, wlen, "off: cannot make %s: %s", cg->abs, strerror(errno));
		close(fd);
		return -1;
	}
	cg->dir = openat(fd, cg->abs + strlen(dir) + 1, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	close(fd);
	cg->made = true;
	if (cg->dir < 0)
		return snprintf(why, wlen, "off: cannot open %s: %s", cg->abs, strerror(errno)), -1;
	return 0;
}

const char *cgroups_lacks(const struct cgroups *cg, const struct lv_cgroup_limits *l)
{
	unsigned missing = cg_needs(l) & ~cg->controllers;

	for (unsigned i = 0; i < 3; i++)
		if (missing & (1u << i))
			return cg_controller_names[i];
	return NULL;
}

const char *cgroups_host_lacks(const struct lv_cgroup_limits *l, char *where, size_t len)
{
	char mount[PATH_MAX], own[PATH_MAX], why[128];
	unsigned have = 0, missing;
	int fd;

	if (!cg_needs(l))
		return NULL;
	if (find_own(mount, sizeof mount, own, sizeof own, why, sizeof why) == 0 &&
	    snprintf(where, len, "%s%s", mount, strcmp(own, "/") ? own : "") < (int)len &&
	    (fd = open(where, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		have = cg_read_controllers(fd, "cgroup.controllers");
		close(fd);
	} else {
		snprintf(where, len, "this host (no cgroup v2)");
	}
	missing = cg_needs(l) & ~have;
	for (unsigned i = 0; i < 3; i++)
		if (missing & (1u << i))
			return cg_controller_names[i];
	return NULL;
}

struct cgroups *cgroups_open(struct event_base *base, enum lv_cgroup_mode mode, char *state,
                             size_t statelen)
{
	char mount[PATH_MAX], own[PATH_MAX];
	struct cgroups *cg;

	if (mode == LV_CGROUP_OFF) {
		snprintf(state, statelen, "off: the config says \"cgroup\": \"off\"");
		return NULL;
	}
	if (find_own(mount, sizeof mount, own, sizeof own, state, statelen) < 0 ||
	    !(cg = calloc(1, sizeof *cg)))
		return NULL;
	cg->base = base;
	cg->dir = cg->inotify = -1;
	LIST_INIT(&cg->draining);
	LIST_INIT(&cg->watched);
	if (place_subtree(cg, mount, own, state, statelen) < 0) {
		free(cg);
		return NULL;
	}
	cg->has_kill = faccessat(cg->dir, "cgroup.kill", W_OK, AT_EACCESS) == 0 &&
	               !getenv("LOOPVISOR_CGROUP_NO_KILL"); /* tests: the pre-5.14 way */
	if ((cg->inotify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0 ||
	    !(cg->inotify_ev = event_new(base, cg->inotify, EV_READ | EV_PERSIST, cgleaf_on_inotify, cg)) ||
	    event_add(cg->inotify_ev, NULL) < 0) {
		snprintf(state, statelen, "off: inotify: %s", strerror(errno));
		cgroups_close(cg);
		return NULL;
	}
	cg->controllers = cg_read_controllers(cg->dir, "cgroup.controllers");
	snprintf(state, statelen, "on: %s", cg->abs);
	return cg;
}

const char *cgroups_path(const struct cgroups *cg)
{
	return cg->abs;
}

int cgroups_zygote_dir(struct cgroups *cg, unsigned serial)
{
	char name[32];

	snprintf(name, sizeof name, "zygote-%u", serial);
	if (mkdirat(cg->dir, name, 0755) < 0 && errno != EEXIST)
		return -1;
	return openat(cg->dir, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
}

int cgroups_pool_usage(const struct cgroups *cg, const char *pool, struct cg_usage *u)
{
	char name[LV_POOL_NAME_MAX + 8];

	snprintf(name, sizeof name, "pool-%s", pool);
	return cg_usage_of(cg->dir, name, cg->enabled, u) ? 0 : -1;
}

void cgroups_close(struct cgroups *cg)
{
	if (!cg)
		return;
	while (!LIST_EMPTY(&cg->draining))
		cgleaf_drain_cancel(LIST_FIRST(&cg->draining));
	cgmem_close(cg);
	if (cg->inotify_ev)
		event_free(cg->inotify_ev);
	if (cg->dir >= 0 && cg->made) {
		cg_kill_all(cg->has_kill, cg->dir);
		cg_wait_empty(cg->dir, 2000);
		cg_remove_below(cg->dir, NULL);
		close(cg->dir);
		if (rmdir(cg->abs) < 0 && errno != ENOENT)
			log_warn("cannot remove %s: %s", cg->abs, strerror(errno));
	} else if (cg->dir >= 0) { /* the unit's folder: all but the daemon's own leaf */
		cg_remove_below(cg->dir, "supervisor");
		close(cg->dir);
	}
	if (cg->inotify >= 0)
		close(cg->inotify);
	free(cg);
}
