/* cgleaf: a worker's cgroup leaf (see cgroup.h): made and removed, its limits written, what
 * its worker left killed and the leaf watched until the kernel says it is empty, and what
 * the kernel accounts for it. */
#include "daemon/proc/cgroup_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/lib/log.h"

struct cgleaf *cgleaf_open(struct cgroups *cg, const char *pool, unsigned index, char *why,
                           size_t whylen)
{
	struct cgleaf *leaf = calloc(1, sizeof *leaf);
	char pooldir[LV_POOL_NAME_MAX + 8];

	if (!leaf) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	snprintf(pooldir, sizeof pooldir, "pool-%s", pool);
	snprintf(leaf->name, sizeof leaf->name, "%s/w-%u", pooldir, index);
	if (snprintf(leaf->path, sizeof leaf->path, "%s/%s", cg->path, leaf->name) >=
	    (int)sizeof leaf->path) {
		snprintf(why, whylen, "cgroup %s/%s: the path is too long", cg->path, leaf->name);
		free(leaf);
		return NULL;
	}
	leaf->cg = cg;
	leaf->wd = leaf->mwd = -1;
	if ((mkdirat(cg->dir, pooldir, 0755) < 0 && errno != EEXIST) ||
	    (!(leaf->fresh = mkdirat(cg->dir, leaf->name, 0755) == 0) && errno != EEXIST)) {
		snprintf(why, whylen, "cgroup %s/%s: %s", cg->abs, leaf->name, strerror(errno));
		free(leaf);
		return NULL;
	}
	return leaf;
}

/* The leaf's folder, opened for each use: a worker's leaf costs the daemon no descriptor
 * while it runs (at 10,000 workers descriptors are what runs out first). */
static int open_leaf(const struct cgleaf *leaf)
{
	return openat(leaf->cg->dir, leaf->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
}

static bool leaf_populated(const struct cgleaf *leaf)
{
	int dir = open_leaf(leaf);
	bool yes = dir >= 0 && cg_populated(dir);

	if (dir >= 0)
		close(dir);
	return yes;
}

/* v if set, else unset: the kernel's default, which a fresh leaf (unset NULL) has already */
static void write_limit(const struct cgleaf *leaf, int dir, const char *file,
                        unsigned long long v, bool set, const char *unset)
{
	char text[64];

	if (!set && !unset)
		return;
	if (set)
		snprintf(text, sizeof text, "%llu", v);
	if (cg_write_at(dir, file, set ? text : unset) < 0 && (set || errno != ENOENT))
		log_warn("%s: cannot write %s: %s", leaf->path, file, strerror(errno));
}

/* The pool's limits into the leaf's files (dir), where they changed. */
static void apply_limits(struct cgleaf *leaf, int dir, const struct lv_cgroup_limits *l)
{
	struct cgroups *cg = leaf->cg;
	/* memory and pids also for their accounting, where the subtree has them */
	unsigned want = (cg_needs(l) | CG_MEMORY | CG_PIDS) & cg->controllers;
	char pooldir[sizeof leaf->name], cpu[64];
	bool fresh = !leaf->limits_set;
	int fd;

	if (leaf->limits_set && !memcmp(&leaf->applied, l, sizeof *l))
		return;
	if (want & ~cg->enabled) { /* the subtree first, then the pool's folder */
		cg_enable(cg->dir, want & ~cg->enabled);
		cg->enabled = cg_read_controllers(cg->dir, "cgroup.subtree_control");
	}
	snprintf(pooldir, sizeof pooldir, "%.*s", (int)strcspn(leaf->name, "/"), leaf->name);
	if (want && (fd = openat(cg->dir, pooldir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)) >= 0) {
		if (want & ~cg_read_controllers(fd, "cgroup.subtree_control"))
			cg_enable(fd, want & cg->enabled);
		close(fd);
	}
	if (cg->enabled & CG_MEMORY) {
		write_limit(leaf, dir, "memory.max", l->memory_max, l->memory_max, fresh ? NULL : "max");
		write_limit(leaf, dir, "memory.high", l->memory_high, l->memory_high,
		            fresh ? NULL : "max");
		write_limit(leaf, dir, "memory.oom.group", 1, l->memory_oom_group == 1,
		            fresh ? NULL : "0");
	}
	if (cg->enabled & CG_PIDS)
		write_limit(leaf, dir, "pids.max", l->pids_max, l->pids_max, fresh ? NULL : "max");
	if (cg->enabled & CG_CPU) {
		/* a percentage of one CPU: that many ms of every 100 ms */
		snprintf(cpu, sizeof cpu, "%u 100000", l->cpu_max_pct * 1000);
		if ((l->cpu_max_pct || !fresh) &&
		    cg_write_at(dir, "cpu.max", l->cpu_max_pct ? cpu : "max 100000") < 0)
			log_warn("%s: cannot write cpu.max: %s", leaf->path, strerror(errno));
		write_limit(leaf, dir, "cpu.weight", l->cpu_weight, l->cpu_weight, fresh ? NULL : "100");
	}
	leaf->applied = *l;
	leaf->limits_set = true;
}

int cgleaf_prepare(struct cgleaf *leaf, const struct lv_cgroup_limits *l)
{
	char buf[1024];
	int dir = open_leaf(leaf);

	if (dir < 0)
		return -1;
	apply_limits(leaf, dir, l ? l : &(struct lv_cgroup_limits){ .memory_oom_group = -1 });
	cgmem_arm(leaf, l);
	/* its CPU share is counted from here, as ps counts %CPU over a process's life (a leaf
	 * just made has counted nothing: one file read less on a first start) */
	leaf->cpu_base_usec = !leaf->fresh && cg_read_at(dir, "cpu.stat", buf, sizeof buf) > 0
	                      ? cg_keyed(buf, "usage_usec") : 0;
	leaf->fresh = false;
	return dir;
}

const char *cgleaf_path(const struct cgleaf *leaf)
{
	return leaf->path;
}

void cgleaf_drain_cancel(struct cgleaf *leaf)
{
	if (leaf->wd < 0)
		return;
	inotify_rm_watch(leaf->cg->inotify, leaf->wd);
	LIST_REMOVE(leaf, link);
	event_free(leaf->bound);
	leaf->bound = NULL;
	leaf->wd = -1;
}

static void drained(struct cgleaf *leaf)
{
	void (*done)(void *) = leaf->done;

	cgleaf_drain_cancel(leaf);
	done(leaf->arg);
}

static void on_bound(evutil_socket_t fd, short what, void *arg)
{
	struct cgleaf *leaf = arg;

	(void)fd;
	(void)what;
	log_warn("%s: processes of the worker's cgroup did not die within %d ms of SIGKILL; "
	         "it counts as stopped all the same", leaf->path, DRAIN_BOUND_MS);
	drained(leaf);
}

void cgleaf_on_inotify(evutil_socket_t fd, short what, void *arg)
{
	struct cgroups *cg = arg;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	(void)what;
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			struct cgleaf *leaf;

			p += sizeof *ev + ev->len;
			LIST_FOREACH(leaf, &cg->draining, link)
				if (leaf->wd == ev->wd)
					break;
			if (leaf && !leaf_populated(leaf))
				drained(leaf);
			else if (!leaf)
				cgmem_on_events(cg, ev->wd);
		}
	}
}

int cgleaf_drain(struct cgleaf *leaf, void (*done)(void *arg), void *arg)
{
	struct timeval tv = { DRAIN_BOUND_MS / 1000, 0 };
	char events[2 * PATH_MAX];
	int dir = open_leaf(leaf);

	cgmem_disarm(leaf); /* the process it was armed for is gone */
	if (dir < 0 || !cg_populated(dir)) {
		if (dir >= 0)
			close(dir);
		return 0;
	}
	cg_kill_all(leaf->cg->has_kill, dir);
	close(dir);
	snprintf(events, sizeof events, "%s/%s/cgroup.events", leaf->cg->abs, leaf->name);
	if ((leaf->wd = inotify_add_watch(leaf->cg->inotify, events, IN_MODIFY)) < 0 ||
	    !(leaf->bound = evtimer_new(leaf->cg->base, on_bound, leaf)) ||
	    evtimer_add(leaf->bound, &tv) < 0) {
		log_warn("%s: cannot watch the worker's cgroup: %s", leaf->path, strerror(errno));
		if (leaf->wd >= 0)
			inotify_rm_watch(leaf->cg->inotify, leaf->wd);
		if (leaf->bound)
			event_free(leaf->bound);
		leaf->bound = NULL;
		leaf->wd = -1;
		return 2;
	}
	leaf->done = done;
	leaf->arg = arg;
	LIST_INSERT_HEAD(&leaf->cg->draining, leaf, link);
	if (leaf_populated(leaf)) /* it may have emptied before the watch was there */
		return 1;
	cgleaf_drain_cancel(leaf);
	return 2;
}

void cgleaf_close(struct cgleaf *leaf)
{
	char pooldir[sizeof leaf->name];
	int dir;

	if (!leaf)
		return;
	cgleaf_drain_cancel(leaf);
	cgmem_disarm(leaf);
	if ((dir = open_leaf(leaf)) >= 0) {
		if (cg_populated(dir)) /* what dies later goes at exit, with the subtree */
			cg_kill_all(leaf->cg->has_kill, dir);
		close(dir);
	}
	unlinkat(leaf->cg->dir, leaf->name, AT_REMOVEDIR);
	snprintf(pooldir, sizeof pooldir, "%.*s", (int)strcspn(leaf->name, "/"), leaf->name);
	unlinkat(leaf->cg->dir, pooldir, AT_REMOVEDIR); /* when it was the pool's last */
	free(leaf);
}

void cgleaf_usage(const struct cgleaf *leaf, struct cg_usage *u)
{
	/* the files are reached through the subtree's folder: a leaf's own open costs as much
	 * as reading one of them */
	cg_usage_of(leaf->cg->dir, leaf->name, leaf->cg->enabled, u);
	u->cpu_base_usec = leaf->cpu_base_usec;
}
