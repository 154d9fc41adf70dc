/* cgroup: every worker in a cgroup v2 leaf of its own (docs/cgroups.md).
 *
 * The daemon owns one subtree: under systemd its unit's cgroup (Delegate=yes), the daemon
 * itself moving into the leaf "supervisor" first; otherwise, when it runs as root and its
 * own cgroup v2 folder is writable, "loopvisor-PID" made there and removed at exit. Inside:
 * "zygote-N" for each zygote and "pool-NAME/w-INDEX" for each worker (the prefixes keep any
 * pool name clear of the kernel's own files, which are all "CONTROLLER.KEY"). A worker is
 * born in its leaf; when its main process exits, whatever is left in the leaf (a setsid
 * escapee, a double-forker) is killed, and the exit is reported only once the kernel says
 * the leaf is empty. Anything else makes the whole thing off, with the reason in status. */
#ifndef LV_CGROUP_H
#define LV_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "config/config.h"

struct cgroups;
struct cgleaf;

/* The daemon's subtree, or NULL (off) with the reason in state ("off: not root"); state
 * otherwise says "on: PATH". */
struct cgroups *cgroups_open(struct event_base *base, enum lv_cgroup_mode mode, char *state,
                             size_t statelen);
/* At exit: kills what is left in the subtree, removes the folders it made. */
void cgroups_close(struct cgroups *cg);
/* The folder of the subtree (absolute), for status. */
const char *cgroups_path(const struct cgroups *cg);

/* A directory descriptor of zygote `serial`'s leaf, made if needed (the zygote joins it from
 * its child before exec); -1 with errno. */
int cgroups_zygote_dir(struct cgroups *cg, unsigned serial);

/* The leaf of worker INDEX of POOL, made if needed; NULL with why. */
struct cgleaf *cgleaf_open(struct cgroups *cg, const char *pool, unsigned index, char *why,
                           size_t whylen);
/* Readies the leaf for a new process: a pool's "limits" written where they changed (its
 * controllers handed down first, as far as the subtree has them: cgroups_lacks says which
 * it does not), its CPU counted from now. The leaf's directory descriptor
 * (O_RDONLY|O_DIRECTORY|O_CLOEXEC, for clone3's CLONE_INTO_CGROUP), the caller's to close;
 * -1 with errno. */
int cgleaf_prepare(struct cgleaf *leaf, const struct lv_cgroup_limits *l);
/* The first controller ("memory", "pids", "cpu") that limits l need and the subtree does
 * not have, or NULL. */
const char *cgroups_lacks(const struct cgroups *cg, const struct lv_cgroup_limits *l);

/* For --check, without a subtree: the first controller limits l need that this process's own
 * cgroup v2 folder (named in where) does not offer, or NULL. */
const char *cgroups_host_lacks(const struct lv_cgroup_limits *l, char *where, size_t len);

/* Removes the leaf (killing what is still in it); nothing waits for it. */
void cgleaf_close(struct cgleaf *leaf);
/* The leaf's path under the cgroup v2 mount, as /proc/PID/cgroup shows it ("/a/b"). */
const char *cgleaf_path(const struct cgleaf *leaf);

/* The main process of the leaf has exited: 0 when the leaf is empty; else what is left is
 * killed, and either 2 (empty already) or 1: done(arg) comes from the loop once the kernel
 * says the leaf is empty (or after a bound, with a warning, for a process that will not
 * die). A leaf that was killed (1 or 2) is not to be spawned into again: cgleaf_close it. */
int cgleaf_drain(struct cgleaf *leaf, void (*done)(void *arg), void *arg);
/* Drops a drain on its way: done is not called. */
void cgleaf_drain_cancel(struct cgleaf *leaf);

/* memory_restart (docs/cgroups.md): over(arg, detail) is called from the loop, once per
 * process, when the memory of the leaf's process passes the threshold of the limits its
 * cgleaf_prepare had: memory.events counting "high" (watched, not polled) while the
 * threshold is at most memory_high, or memory.current at a check every second. Only where
 * the leaf has the memory controller. Set once per leaf. */
void cgleaf_on_memory(struct cgleaf *leaf, void (*over)(void *arg, const char *detail),
                      void *arg);
/* How many processes of the leaf the OOM killer ended since cgleaf_prepare; -1 where the
 * leaf has no memory controller. */
int64_t cgleaf_oom_kills(const struct cgleaf *leaf);

/* What the kernel accounts for a leaf; a field the host does not provide stays -1. */
struct cg_usage {
	int64_t cpu_user_usec, cpu_system_usec;
	int64_t cpu_usage_usec, cpu_base_usec; /* all of it now, and when the process started */
	int64_t memory_current, memory_peak;
	int64_t pids_current;
	int64_t cpu_some_usec, memory_some_usec, memory_full_usec, io_some_usec, io_full_usec;
};
void cgleaf_usage(const struct cgleaf *leaf, struct cg_usage *u);
/* The same for a pool's folder (all its workers together); -1 before its first worker. */
int cgroups_pool_usage(const struct cgroups *cg, const char *pool, struct cg_usage *u);

#endif
