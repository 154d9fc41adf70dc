/* cgmemory: memory_restart and the OOM count of a worker's cgroup leaf (see cgroup.h).
 *
 * memory.events is watched with the subtree's inotify descriptor: the kernel notifies it
 * when a counter moves, "high" among them, so a worker that reaches memory_high is seen at
 * once. A threshold below memory_high has no such event: memory.current of each watched
 * leaf is read on one timer for the whole subtree (never a timer per worker). */
#include "daemon/proc/cgroup_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <event2/event.h>

#include "daemon/lib/log.h"

/* A file of the leaf, reached through the subtree's folder (no open of the leaf's own). */
static ssize_t read_leaf(const struct cgleaf *leaf, const char *file, char *buf, size_t size)
{
	char path[sizeof leaf->name + 32];

	snprintf(path, sizeof path, "%s/%s", leaf->name, file);
	return cg_read_at(leaf->cg->dir, path, buf, size);
}

/* memory.events' "high" and "oom_kill" counters; false where there is no such file */
static bool read_events(const struct cgleaf *leaf, int64_t *high, int64_t *oom_kill)
{
	char buf[512];

	if (!(leaf->cg->enabled & CG_MEMORY) || read_leaf(leaf, "memory.events", buf, sizeof buf) <= 0)
		return false;
	*high = cg_keyed(buf, "high");
	*oom_kill = cg_keyed(buf, "oom_kill");
	return true;
}

void cgleaf_on_memory(struct cgleaf *leaf, void (*over)(void *arg, const char *detail),
                      void *arg)
{
	leaf->over = over;
	leaf->over_arg = arg;
}

int64_t cgleaf_oom_kills(const struct cgleaf *leaf)
{
	int64_t high, kills;

	return read_events(leaf, &high, &kills) && kills >= 0 ? kills - leaf->oom_base : -1;
}

void cgmem_disarm(struct cgleaf *leaf)
{
	if (leaf->due) { /* told of soon: no more */
		LIST_REMOVE(leaf, mlink);
		free(leaf->due);
		leaf->due = NULL;
	}
	if (!leaf->restart_at)
		return;
	if (leaf->mwd >= 0)
		inotify_rm_watch(leaf->cg->inotify, leaf->mwd);
	leaf->mwd = -1;
	leaf->restart_at = 0;
	LIST_REMOVE(leaf, mlink);
	if (LIST_EMPTY(&leaf->cg->watched))
		evtimer_del(leaf->cg->memory_check);
}

/* Has the leaf's process passed its threshold? Then why, in detail. by_event: memory.events
 * changed, and a "high" it counted since the last look counts as passing a threshold at or
 * below memory_high. */
static bool is_over(struct cgleaf *leaf, bool by_event, char *detail, size_t len)
{
	int64_t high = -1, kills, current;
	char buf[64];
	bool over = false;

	if (by_event && read_events(leaf, &high, &kills) && high > leaf->high_seen) {
		leaf->high_seen = high;
		if (leaf->applied.memory_high && leaf->restart_at <= leaf->applied.memory_high) {
			snprintf(detail, len, "memory: reached memory_high (%llu bytes), at or above "
			         "memory_restart (%llu bytes)", leaf->applied.memory_high, leaf->restart_at);
			over = true;
		}
	}
	if (!over && read_leaf(leaf, "memory.current", buf, sizeof buf) > 0 &&
	    (current = strtoll(buf, NULL, 10)) >= (int64_t)leaf->restart_at) {
		snprintf(detail, len, "memory: %lld bytes, past memory_restart (%llu bytes)",
		         (long long)current, leaf->restart_at);
		over = true;
	}
	return over;
}

/* Each leaf over its threshold is disarmed, then told: what it is told may stop, or even
 * remove, other leaves of the list. */
static void check(struct cgroups *cg, struct cgleaf *only)
{
	LIST_HEAD(, cgleaf) due = LIST_HEAD_INITIALIZER(due);
	struct cgleaf *leaf, *next;
	char detail[160];

	for (leaf = only ? only : LIST_FIRST(&cg->watched); leaf; leaf = only ? NULL : next) {
		next = LIST_NEXT(leaf, mlink);
		if (!is_over(leaf, only != NULL, detail, sizeof detail))
			continue;
		cgmem_disarm(leaf);
		if ((leaf->due = strdup(detail)))
			LIST_INSERT_HEAD(&due, leaf, mlink);
	}
	while ((leaf = LIST_FIRST(&due))) {
		char *why = leaf->due;

		LIST_REMOVE(leaf, mlink);
		leaf->due = NULL;
		leaf->over(leaf->over_arg, why);
		free(why);
	}
}

static void on_check(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	check(arg, NULL);
}

bool cgmem_on_events(struct cgroups *cg, int wd)
{
	struct cgleaf *leaf;

	LIST_FOREACH(leaf, &cg->watched, mlink)
		if (leaf->mwd == wd) {
			check(cg, leaf);
			return true;
		}
	return false;
}

void cgmem_arm(struct cgleaf *leaf, const struct lv_cgroup_limits *l)
{
	struct cgroups *cg = leaf->cg;
	struct timeval tv = { MEMORY_CHECK_MS / 1000, MEMORY_CHECK_MS % 1000 * 1000 };
	char events[2 * PATH_MAX];
	int64_t high, kills;

	cgmem_disarm(leaf);
	leaf->oom_base = leaf->high_seen = 0;
	if (!(cg->enabled & CG_MEMORY))
		return;
	if (!leaf->fresh && read_events(leaf, &high, &kills)) { /* a fresh leaf counted nothing */
		leaf->oom_base = kills > 0 ? kills : 0;
		leaf->high_seen = high > 0 ? high : 0;
	}
	if (!l || !l->memory_restart || !leaf->over)
		return;
	if (!cg->memory_check &&
	    !(cg->memory_check = event_new(cg->base, -1, EV_PERSIST, on_check, cg))) {
		log_warn("%s: memory_restart is not watched: out of memory", leaf->path);
		return;
	}
	snprintf(events, sizeof events, "%s/%s/memory.events", cg->abs, leaf->name);
	if ((leaf->mwd = inotify_add_watch(cg->inotify, events, IN_MODIFY)) < 0)
		log_warn("%s: memory.events is not watched (%s): memory_restart is seen at its "
		         "checks only", leaf->path, strerror(errno));
	if (LIST_EMPTY(&cg->watched))
		event_add(cg->memory_check, &tv);
	leaf->restart_at = l->memory_restart;
	LIST_INSERT_HEAD(&cg->watched, leaf, mlink);
}

void cgmem_close(struct cgroups *cg)
{
	while (!LIST_EMPTY(&cg->watched))
		cgmem_disarm(LIST_FIRST(&cg->watched));
	if (cg->memory_check)
		event_free(cg->memory_check);
	cg->memory_check = NULL;
}
