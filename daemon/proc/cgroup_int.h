/* cgroup_int: what the daemon's cgroup files share (cgroup.c: the subtree, cgleaf.c: the
 * workers' leaves, cgroup_fs.c: reading and writing cgroup files from directory descriptors).
 * Not for use outside them: cgroup.h is the interface. */
#ifndef LV_CGROUP_INT_H
#define LV_CGROUP_INT_H

#include <dirent.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "daemon/proc/cgroup.h"

#define DRAIN_BOUND_MS 10000 /* a process that ignores SIGKILL this long is stuck in the kernel */
#define MEMORY_CHECK_MS 1000 /* memory_restart: memory.current of each watched leaf, this often */

enum { CG_MEMORY = 1, CG_PIDS = 2, CG_CPU = 4 };
extern const char *const cg_controller_names[3]; /* by bit: CG_MEMORY, CG_PIDS, CG_CPU */

struct cgleaf {
	struct cgroups *cg;
	char name[LV_POOL_NAME_MAX + 32];   /* "pool-NAME/w-INDEX", under the subtree */
	char path[PATH_MAX];                /* under the mount, as /proc/PID/cgroup says it */
	int wd;                             /* its cgroup.events watch while it drains, or -1 */
	struct lv_cgroup_limits applied;    /* what its files say now... */
	bool limits_set;                    /* ...once they were written */
	bool fresh;                         /* made by cgleaf_open, no process in it yet */
	int64_t cpu_base_usec;              /* its CPU time when its current process started */
	struct event *bound;
	void (*done)(void *arg);
	void *arg;
	LIST_ENTRY(cgleaf) link;            /* cgroups.draining */
	/* memory_restart (cgmemory.c) */
	void (*over)(void *arg, const char *detail);
	void *over_arg;
	unsigned long long restart_at;      /* bytes while watched, else 0 */
	int mwd;                            /* its memory.events watch, or -1 */
	int64_t high_seen;                  /* memory.events "high" when last read */
	int64_t oom_base;                   /* ... "oom_kill" when its process was made */
	char *due;                          /* passed: what to tell, while on the due list */
	LIST_ENTRY(cgleaf) mlink;           /* cgroups.watched, or that due list */
};

struct cgroups {
	struct event_base *base;
	int dir;                            /* the subtree's folder */
	char abs[PATH_MAX];                 /* its absolute path */
	char path[PATH_MAX];                /* under the mount */
	bool made;                          /* loopvisor-PID: ours, removed at exit */
	bool has_kill;                      /* cgroup.kill (kernel 5.14) */
	unsigned controllers;               /* CG_*: in the subtree's cgroup.controllers */
	unsigned enabled;                   /* CG_*: handed down by its cgroup.subtree_control */
	int inotify;
	struct event *inotify_ev;
	LIST_HEAD(, cgleaf) draining;
	LIST_HEAD(, cgleaf) watched;        /* leaves with a memory_restart armed */
	struct event *memory_check;         /* every MEMORY_CHECK_MS while any is */
};

/* cgroup_fs.c: files of a cgroup folder, reached from its directory descriptor */
DIR *cg_opendir(int dir);                            /* its entries (dir stays open) */
int cg_write_at(int dir, const char *name, const char *text);  /* 0 or -1 with errno */
ssize_t cg_read_at(int dir, const char *name, char *buf, size_t size); /* NUL-terminated */
int64_t cg_keyed(const char *text, const char *key); /* "key value" lines: value, or -1 */
bool cg_populated(int dir);                          /* cgroup.events says populated 1 */
void cg_kill_all(bool has_kill, int dir);            /* SIGKILL to all in dir and below */
void cg_remove_below(int dir, const char *keep);     /* sub-folders, deepest first */
void cg_wait_empty(int dir, int bound_ms);           /* blocking: startup and exit only */
unsigned cg_read_controllers(int dir, const char *file); /* CG_* bits a file lists */
void cg_enable(int dir, unsigned bits);              /* hands controllers down from dir */
unsigned cg_needs(const struct lv_cgroup_limits *l); /* CG_* bits limits need */
/* What the kernel accounts for folder sub of dir; have: the CG_* it has of memory and pids
 * (what it lacks is not asked for). false when there is no such folder. */
bool cg_usage_of(int dir, const char *sub, unsigned have, struct cg_usage *u);

/* cgleaf.c: the subtree's inotify descriptor is readable (a draining leaf's cgroup.events,
 * a watched leaf's memory.events) */
void cgleaf_on_inotify(evutil_socket_t fd, short what, void *arg);

/* cgmemory.c: at cgleaf_prepare, the OOM count starts again and
 * memory_restart is armed if l has one and the leaf the memory controller; disarmed when
 * the process exits (cgleaf_drain) or the leaf goes */
void cgmem_arm(struct cgleaf *leaf, const struct lv_cgroup_limits *l);
void cgmem_disarm(struct cgleaf *leaf);
/* a watched leaf's memory.events changed (wd), or false if wd is not such a watch */
bool cgmem_on_events(struct cgroups *cg, int wd);
void cgmem_close(struct cgroups *cg);

#endif
