/* zygote: forks workers from a small process made at startup, not from the daemon.
 *
 * A fork copies the parent's descriptor table and page tables, and the child then closes
 * every descriptor it inherited: from a daemon with 10000 workers (and 10000+ channels
 * and pipes) that is milliseconds per spawn, so starting N workers cost O(N^2). The
 * zygote is forked before the daemon holds anything; it receives each spawn (the
 * struct lv_spawn as JSON, its descriptors by SCM_RIGHTS), double-forks the worker and
 * answers with its pid. The worker is reparented to the daemon, a child subreaper,
 * before it runs anything, so the daemon reaps it and is its parent for
 * PR_SET_PDEATHSIG exactly as if it had forked it. */
#ifndef LV_ZYGOTE_H
#define LV_ZYGOTE_H

#include <sys/types.h>

#include "worker/spawn.h"

struct supervisor;

/* loopvisord LV_ZYGOTE_ARG PARENT_PID: the zygote's own entry (fd 3 is its socket) */
#define LV_ZYGOTE_ARG "--zygote-internal"
_Noreturn void zygote_main(const char *parent);

/* Forks the zygote (call before the daemon opens much); -1 when it could not (the daemon
 * then forks workers itself). */
int zygote_start(struct supervisor *sup);
/* Has the zygote fork a worker: its pid, or -1 with errno: the fork's own errno
 * (EAGAIN...), or EPIPE when the zygote is gone (the caller forks itself). */
pid_t zygote_spawn(struct supervisor *sup, const struct lv_spawn *sp);
/* The zygote process exited (seen by the reaper). */
void zygote_lost(struct supervisor *sup);
/* Ends the zygote and waits for it. */
void zygote_stop(struct supervisor *sup);

#endif
