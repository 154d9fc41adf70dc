/* procs: the process layer's own view of the workers' processes: a pid table, the zygotes,
 * and the hooks through which it reports back. It never sees struct worker: each process
 * carries an owner pointer that the core gets back in every report. */
#ifndef LV_PROCS_H
#define LV_PROCS_H

#include <stdbool.h>
#include <sys/queue.h>
#include <sys/types.h>

#include <event2/event.h>

#include "config/config.h"
#include "daemon/lib/pidmap.h"

struct lv_spawn;

/* The daemon's ends of a new process's pipes and channels. */
struct spawn_io {
	int out, err;                    /* read ends of stdout and stderr, -1: not captured */
	int channels[LV_LOOPS_MAX];      /* one per loop of a module worker */
	unsigned n_channels;
};

/* What a process is made with, besides what its owner describes (hooks.describe, whose
 * module loops each get a channel). */
struct spawn_opts {
	bool capture;        /* pipes for stdout and stderr */
	bool watch_exec;     /* hear through hooks.exec_done when the program was exec'd */
};

struct process {
	pid_t pid;              /* 0 when none */
	unsigned zygote;        /* the zygote that forked it (zygote.h), 0: the daemon */
	bool reaped;            /* its exit is known, not handled yet: pid is stale */
	const char *name;       /* "POOL:INDEX", for the log */
	void *owner;            /* handed back in every report */
	bool probe;             /* the owner is a probe (core/probes.h), not a worker */
	struct procs *ps;       /* set when it starts */
	int error_fd;           /* read end of its start-error pipe, or -1 */
	struct event *exec_watch; /* exec: watches that pipe; EOF = exec succeeded */
	struct notify_peer *notify; /* what it says on its notify socket (notify_socket.h) */
	/* A spawn on its way (spawn.h): asked for, its pid not known yet. It waits in the
	 * queue for a zygote with room, then for that zygote's answer. */
	bool spawning;
	bool queued;                /* in procs.queue: not sent yet */
	struct spawn_opts opts;
	struct spawn_io io;         /* the daemon's ends, from the send until hooks.spawned */
	int pending_sig;            /* asked for while spawning: sent as soon as the pid is known */
	bool pending_group;
	struct cgleaf *cg;          /* a worker's cgroup leaf (cgroup.h), made at its first spawn */
	int drain_status;           /* its exit, held until the leaf is empty */
	unsigned oom_kills;         /* at its exit: processes of its leaf the OOM killer ended */
	TAILQ_ENTRY(process) link;  /* procs.queue */
};

struct proc_hooks {
	/* p's process exited (status as from waitpid); it is out of the table already, its
	 * pid still set for the report, and it no longer counts as live */
	void (*exited)(void *ctx, struct process *p, int status);
	/* p exited and its pid cannot be reused yet: read what it sent before (notify) */
	void (*last_words)(void *ctx, struct process *p);
	/* p's child reported why it could not start (exec, cwd, module load...) */
	void (*start_error)(void *ctx, struct process *p, const char *text, size_t len);
	/* p exec'd its program (the start-error pipe closed empty) */
	void (*exec_done)(void *ctx, struct process *p);
	/* p is about to be made: fill sp from its owner (the process layer fills its
	 * descriptors); 0, or -1 with err */
	int (*describe)(void *ctx, struct process *p, struct lv_spawn *sp, char *err,
	                size_t errlen);
	/* p's process exists: p->pid is set, io holds the daemon's ends of its pipes and
	 * channels (the owner's from now on) */
	void (*spawned)(void *ctx, struct process *p, const struct spawn_io *io);
	/* p's process could not be made; it is not spawning any more */
	void (*spawn_failed)(void *ctx, struct process *p, const char *why);
	/* the memory of p's cgroup leaf passed its pool's memory_restart (detail: by how much);
	 * once per process */
	void (*memory_over)(void *ctx, struct process *p, const char *detail);
	void *ctx;
};

struct zygote_set;
struct notify_peer;
struct cgroups;

struct procs {
	struct event_base *base;
	struct lv_pidmap pids;          /* pid -> struct process */
	struct zygote_set *zygotes;     /* the fork servers (zygote.h), or NULL */
	struct cgroups *cgroups;        /* the daemon's cgroup subtree (cgroup.h), or NULL: off */
	unsigned live;                  /* processes whose exit has not been reported */
	struct proc_hooks hooks;
	TAILQ_HEAD(, process) queue;    /* spawns waiting to be sent (spawn.h) */
	struct event *pump;             /* made active to send them */
	/* what the zygotes hand back to the queue (set by spawn.c, called by zygote.c, so
	 * that the zygotes never call up into spawn.c): the answer to p's request, from the
	 * loop (err: the errno of its fork, 0: p runs as p->pid); p's request given back by a
	 * zygote that went away without answering */
	void (*spawn_answered)(struct procs *ps, struct process *p, int err);
	void (*spawn_requeue)(struct procs *ps, struct process *p);
};


/* The process that holds pid now: exits its zygote reported are taken first, so a process
 * whose pid was reaped and given to another one is never the answer. */
struct process *procs_by_pid(struct procs *ps, pid_t pid);
/* p runs as pid now, forked by zygote (0: the daemon). */
void procs_adopt(struct procs *ps, struct process *p, pid_t pid, unsigned zygote);
/* p is about to be freed: its pid no longer leads to it, a spawn on its way is dropped
 * (a zygote's answer to it then kills what it forked), its cgroup leaf is removed (what is
 * left in it killed) and an exit held for the leaf to empty is not reported. */
void procs_forget(struct procs *ps, struct process *p);
/* Closes the daemon's ends of p's pipes and channels that no owner has taken yet. */
void process_close_io(struct process *p);
/* p exited: out of the table, not live; then the exited hook (its zygote or the reaper),
 * once its cgroup leaf is empty: what the process left there is killed first. */
void procs_exited(struct procs *ps, struct process *p, int status);
/* Signals p's process (or its whole process group); 0 or -errno. A process still spawning
 * gets the signal (the strongest asked for) once its pid is known. Only the process that
 * reaps it sends it, and only before the reap, so a reused pid is never hit: its zygote if
 * it has one (asked on its socket, no answer awaited), else the daemon, after making sure
 * the pid is still an unreaped child of its own. */
int procs_kill(struct procs *ps, struct process *p, int sig, bool group);

/* reap.c: collects exited children after SIGCHLD */
void procs_reap(struct procs *ps);

#endif
