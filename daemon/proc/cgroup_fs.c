/* cgroup_fs: reading and writing the files of a cgroup v2 folder, always from a directory
 * descriptor with openat and O_NOFOLLOW, never by a path built from what a worker could
 * change (see cgroup_int.h). */
#include "daemon/proc/cgroup_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "daemon/lib/log.h"

const char *const cg_controller_names[3] = { "memory", "pids", "cpu" };

DIR *cg_opendir(int dir)
{
	int fd = dup(dir);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (!d && fd >= 0)
		close(fd);
	return d;
}

/* Writes text into the file `name` of dir: 0 or -1 with errno. */
int cg_write_at(int dir, const char *name, const char *text)
{
	int fd = openat(dir, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;
	int err;

	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	err = errno;
	close(fd);
	errno = err;
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* The file `name` of dir into buf (NUL-terminated); its length or -1. */
ssize_t cg_read_at(int dir, const char *name, char *buf, size_t size)
{
	int fd = openat(dir, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return n;
}

/* The value after "key " in a "key value" file's text, or -1. */
int64_t cg_keyed(const char *text, const char *key)
{
	size_t len = strlen(key);

	for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		if (!strncmp(l, key, len) && l[len] == ' ')
			return strtoll(l + len + 1, NULL, 10);
	return -1;
}

bool cg_populated(int dir)
{
	char buf[256];

	/* unreadable: a leaf that is gone holds nobody */
	return cg_read_at(dir, "cgroup.events", buf, sizeof buf) > 0 && cg_keyed(buf, "populated") == 1;
}

/* SIGKILL to each process listed in dir and the folders below it. */
static void kill_listed(int dir)
{
	char buf[8192];
	struct dirent *e;
	DIR *d;

	if (cg_read_at(dir, "cgroup.procs", buf, sizeof buf) > 0)
		for (char *l = buf; *l; l += strcspn(l, "\n") + (l[strcspn(l, "\n")] != '\0'))
			if (atoi(l) > 0)
				kill(atoi(l), SIGKILL);
	if (!(d = cg_opendir(dir)))
		return;
	while ((e = readdir(d)))
		if (e->d_type == DT_DIR && strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			int sub = openat(dir, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);

			if (sub >= 0) {
				kill_listed(sub);
				close(sub);
			}
		}
	closedir(d);
}

/* SIGKILL to everything in dir and below: cgroup.kill, or (before 5.14) freeze, kill each
 * process listed, thaw; a frozen process can neither fork nor exit on its own, so no pid
 * read here can be reused before its kill. */
void cg_kill_all(bool has_kill, int dir)
{
	if (has_kill && cg_write_at(dir, "cgroup.kill", "1") == 0)
		return;
	cg_write_at(dir, "cgroup.freeze", "1");
	kill_listed(dir);
	cg_write_at(dir, "cgroup.freeze", "0");
}

/* Removes dir's sub-folders, deepest first, except `keep`. */
void cg_remove_below(int dir, const char *keep)
{
	DIR *d = cg_opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (e->d_type == DT_DIR && strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    (!keep || strcmp(e->d_name, keep))) {
			int sub = openat(dir, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);

			if (sub >= 0) {
				cg_remove_below(sub, NULL);
				close(sub);
			}
			unlinkat(dir, e->d_name, AT_REMOVEDIR);
		}
	closedir(d);
}

/* Waits (at startup or exit, so blocking) until nothing is left in dir, at most bound_ms:
 * woken by each change of its cgroup.events. */
void cg_wait_empty(int dir, int bound_ms)
{
	char events[64];
	int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	snprintf(events, sizeof events, "/proc/self/fd/%d/cgroup.events", dir);
	if (in < 0 || inotify_add_watch(in, events, IN_MODIFY) < 0) {
		if (in >= 0)
			close(in);
		return;
	}
	for (int waited = 0; cg_populated(dir) && waited < bound_ms; waited += 100) {
		struct pollfd pfd = { .fd = in, .events = POLLIN };
		char buf[4096];

		if (poll(&pfd, 1, 100) > 0)
			while (read(in, buf, sizeof buf) > 0)
				;
	}
	close(in);
}

/* The CG_* controllers a cgroup.controllers or cgroup.subtree_control file lists. */
unsigned cg_read_controllers(int dir, const char *file)
{
	char buf[512];
	unsigned bits = 0;

	if (cg_read_at(dir, file, buf, sizeof buf) <= 0)
		return 0;
	for (char *tok = strtok(buf, " \n"); tok; tok = strtok(NULL, " \n"))
		for (unsigned i = 0; i < 3; i++)
			if (!strcmp(tok, cg_controller_names[i]))
				bits |= 1u << i;
	return bits;
}

/* Hands the controllers `bits` down from dir to its children ("+memory +pids"). */
void cg_enable(int dir, unsigned bits)
{
	char text[64] = "";

	for (unsigned i = 0; i < 3; i++)
		if (bits & (1u << i))
			snprintf(text + strlen(text), sizeof text - strlen(text), "%s+%s",
			         text[0] ? " " : "", cg_controller_names[i]);
	if (text[0] && cg_write_at(dir, "cgroup.subtree_control", text) < 0)
		log_warn("cgroup: cannot enable %s: %s", text, strerror(errno));
}

/* File name of folder sub: "sub/name" into path (all names here are short and fixed). */
static const char *file_of(char *path, size_t len, const char *sub, const char *name)
{
	snprintf(path, len, "%s/%s", sub, name);
	return path;
}

static int64_t number_at(int dir, const char *sub, const char *name)
{
	char buf[64], path[PATH_MAX];

	return cg_read_at(dir, file_of(path, sizeof path, sub, name), buf, sizeof buf) > 0 &&
	       buf[0] >= '0' && buf[0] <= '9' ? strtoll(buf, NULL, 10) : -1;
}

/* "some avg10=... total=N" / "full ... total=N" of a pressure file. */
static void pressure(int dir, const char *sub, const char *name, int64_t *some, int64_t *full)
{
	char buf[512], path[PATH_MAX];
	const char *t;

	*some = -1;
	if (full)
		*full = -1;
	if (cg_read_at(dir, file_of(path, sizeof path, sub, name), buf, sizeof buf) <= 0)
		return;
	if (!strncmp(buf, "some ", 5) && (t = strstr(buf, "total=")))
		*some = strtoll(t + 6, NULL, 10);
	if (full && (t = strstr(buf, "\nfull ")) && (t = strstr(t, "total=")))
		*full = strtoll(t + 6, NULL, 10);
}

bool cg_usage_of(int dir, const char *sub, unsigned have, struct cg_usage *u)
{
	char buf[8192], path[PATH_MAX];

	memset(u, 0xff, sizeof *u); /* -1 everywhere: nothing known */
	u->cpu_base_usec = 0;
	if (cg_read_at(dir, file_of(path, sizeof path, sub, "cpu.stat"), buf, sizeof buf) <= 0)
		return false; /* no such folder */
	u->cpu_usage_usec = cg_keyed(buf, "usage_usec");
	u->cpu_user_usec = cg_keyed(buf, "user_usec");
	u->cpu_system_usec = cg_keyed(buf, "system_usec");
	if (have & CG_MEMORY) {
		u->memory_current = number_at(dir, sub, "memory.current");
		u->memory_peak = number_at(dir, sub, "memory.peak");
	}
	if (have & CG_PIDS) {
		u->pids_current = number_at(dir, sub, "pids.current");
	} else if (cg_read_at(dir, file_of(path, sizeof path, sub, "cgroup.threads"), buf,
	                      sizeof buf) >= 0) {
		u->pids_current = 0;
		for (const char *l = buf; (l = strchr(l, '\n')); l++)
			u->pids_current++;
	}
	pressure(dir, sub, "cpu.pressure", &u->cpu_some_usec, NULL);
	pressure(dir, sub, "memory.pressure", &u->memory_some_usec, &u->memory_full_usec);
	pressure(dir, sub, "io.pressure", &u->io_some_usec, &u->io_full_usec);
	return true;
}

unsigned cg_needs(const struct lv_cgroup_limits *l)
{
	return (l->memory_max || l->memory_high || l->memory_oom_group == 1 || l->memory_restart
	        ? CG_MEMORY : 0) |
	       (l->pids_max ? CG_PIDS : 0) | (l->cpu_max_pct || l->cpu_weight ? CG_CPU : 0);
}
