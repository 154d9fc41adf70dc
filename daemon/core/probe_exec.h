/* probe_exec: an exec probe's process. It is made through the process layer like a
 * worker's, so a zygote forks it, never the daemon: as the pool's user, in its cwd and env,
 * its output to /dev/null, leading its own process group, which is killed at the probe's
 * timeout or when its worker stops. One verdict by callback. */
#ifndef LV_PROBE_EXEC_H
#define LV_PROBE_EXEC_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>

#include "config/config.h"
#include "daemon/core/worker_env.h"
#include "daemon/proc/procs.h"

struct worker;
struct lv_spawn;

typedef void (*probe_exec_done_fn)(void *arg, bool ok, const char *why);

struct probe_proc {
	struct process proc;         /* its owner is this struct (proc.probe is set) */
	struct worker *w;
	enum lv_probe_role role;     /* which of the pool's probes it runs */
	struct event *kill_timer;    /* its timeout */
	struct worker_env env;       /* argv, env and cwd of the start being sent */
	bool live;                   /* a process not reaped yet: no new attempt before */
	bool timed_out;              /* killed at its timeout */
	bool wanted;                 /* its verdict is awaited (not after a stop) */
	probe_exec_done_fn done;
	void *arg;
};

/* Asks for a process running w's pool's probe `role`; done follows, from the loop. 0, or
 * -1 with why (no memory). */
int probe_exec_start(struct probe_proc *pp, struct worker *w, enum lv_probe_role role,
                     probe_exec_done_fn done, void *arg, char *why, size_t whylen);
/* The attempt is dropped (its worker stops): its process group is killed, no verdict. */
void probe_exec_stop(struct probe_proc *pp);
/* pp is about to be freed: its process no longer leads to it. */
void probe_exec_forget(struct probe_proc *pp);

/* struct proc_hooks for a process whose owner is a probe (process_hooks.c dispatches). */
int probe_exec_describe(struct probe_proc *pp, struct lv_spawn *sp, char *err, size_t errlen);
void probe_exec_spawned(struct probe_proc *pp);
void probe_exec_spawn_failed(struct probe_proc *pp, const char *why);
void probe_exec_exited(struct probe_proc *pp, int status);

#endif
