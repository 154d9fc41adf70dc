/* procs: the process layer's own view of the workers' processes: a pid table, the zygotes,
 * and the hooks through which it reports back. It never sees struct worker: each process
 * carries an owner pointer that the core gets back in every report. */
#ifndef LV_PROCS_H
#define LV_PROCS_H

#include <stdbool.h>
#include <sys/types.h>

#include <event2/event.h>

#include "daemon/lib/pidmap.h"

struct process {
	pid_t pid;              /* 0 when none */
	unsigned zygote;        /* the zygote that forked it (zygote.h), 0: the daemon */
	bool reaped;            /* its exit is known, not handled yet: pid is stale */
	const char *name;       /* "POOL:INDEX", for the log */
	void *owner;            /* handed back in every report */
	struct procs *ps;       /* set when it starts */
	int error_fd;           /* read end of its start-error pipe, or -1 */
	struct event *exec_watch; /* exec: watches that pipe; EOF = exec succeeded */
	struct notify_peer *notify; /* what it says on its notify socket (notify_socket.h) */
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
	void *ctx;
};

struct zygote_set;
struct notify_peer;

struct procs {
	struct event_base *base;
	struct lv_pidmap pids;          /* pid -> struct process */
	struct zygote_set *zygotes;     /* the fork servers (zygote.h), or NULL */
	unsigned live;                  /* processes whose exit has not been reported */
	struct proc_hooks hooks;
};

/* The process that holds pid now: exits its zygote reported are taken first, so a process
 * whose pid was reaped and given to another one is never the answer. */
struct process *procs_by_pid(struct procs *ps, pid_t pid);
/* p runs as pid now, forked by zygote (0: the daemon). */
void procs_adopt(struct procs *ps, struct process *p, pid_t pid, unsigned zygote);
/* p is about to be freed: its pid no longer leads to it. */
void procs_forget(struct procs *ps, struct process *p);
/* p exited: out of the table, not live; then the exited hook (its zygote or the reaper). */
void procs_exited(struct procs *ps, struct process *p, int status);
/* Signals p's process (or its whole process group); 0 or -errno. Only the process that
 * reaps it sends it, and only before the reap, so a reused pid is never hit: its zygote if
 * it has one (asked on its socket, no answer awaited), else the daemon, after making sure
 * the pid is still an unreaped child of its own. */
int procs_kill(struct procs *ps, struct process *p, int sig, bool group);

/* reap.c: collects exited children after SIGCHLD */
void procs_reap(struct procs *ps);

#endif
