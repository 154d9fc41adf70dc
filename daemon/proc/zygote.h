/* zygote: forks workers from small processes of their own, not from the daemon.
 *
 * A fork copies the parent's descriptor table and page tables, and the child then closes
 * every descriptor it inherited: from a daemon with 10000 workers (and 10000+ channels
 * and pipes) that is milliseconds per spawn, so starting N workers cost O(N^2). A zygote
 * is a fresh exec of loopvisord (LV_ZYGOTE_ARG) that holds next to nothing; it receives
 * each spawn (the struct lv_spawn as JSON, its descriptors by SCM_RIGHTS), forks the
 * worker, answers with its pid, signals it when the daemon asks (only the reaper knows
 * that a pid is still its worker's), and reports its exit, then reaps it. The daemon
 * starts one at startup and one more per 1000 live workers (LOOPVISOR_ZYGOTE_WORKERS), so
 * that what a zygote pays per fork and per exit does not grow with the number of workers.
 * A zygote that dies takes its workers with it (PR_SET_PDEATHSIG); they come back to the
 * daemon, a child subreaper, which restarts them, forking them itself if no zygote has
 * room and no new one may start yet (a backoff after each failure). The daemon never waits
 * for a zygote: requests go out when its socket has room, answers and exits are read as
 * they come, and one that owes an answer for 10 s (LOOPVISOR_ZYGOTE_REPLY_MS) is killed,
 * its unanswered requests going to another zygote or to the daemon. */
#ifndef LV_ZYGOTE_H
#define LV_ZYGOTE_H

#include <stdbool.h>
#include <sys/types.h>

#include "worker/spawn.h"

struct procs;
struct process;

/* loopvisord LV_ZYGOTE_ARG PARENT_PID SERIAL: the zygote's own entry (fd 3 is its socket).
 * SERIAL comes padded with spaces to LV_PROCTITLE_ROOM bytes: argv is where process titles
 * are written, and the module workers it forks title themselves there too. */
#define LV_ZYGOTE_ARG "--zygote-internal"
#define LV_PROCTITLE_ROOM 160
_Noreturn void zygote_main(const char *parent, unsigned serial);

/* Starts the first zygote; -1 when it could not (the daemon then forks workers itself). */
int zygote_start(struct procs *ps);
struct zygote;
/* The zygote the next spawn goes to: one with room, or a new one. NULL with *later set when
 * those with room cannot take a request now (full window or socket: the queue's pump runs
 * again when they can); NULL without it when none can (the daemon forks the worker). */
struct zygote *zygote_pick(struct procs *ps, bool *later);
/* Sends z the request for p's process (sp, its descriptors attached): 0 (the answer comes
 * through ps->spawn_answered), -EAGAIN (z's socket is full: later), -EMSGSIZE, -ENOBUFS or
 * -ENOMEM (the daemon forks this one), or another -errno: z failed, pick again. */
int zygote_send_spawn(struct zygote *z, struct process *p, const struct lv_spawn *sp);
/* p is about to be freed: no answer or report leads to it any more; what a zygote forked
 * for it is killed. */
void zygote_forget(struct procs *ps, struct process *p);
/* Has zygote `zygote` send sig to its worker pid (group: to its process group) if it has
 * not reaped it: 0 when asked, now or (its socket full) once it has room, in order; no
 * answer comes: a worker reaped already gets nothing. -ESRCH when it cannot be asked; 1
 * when no such zygote is left (a worker it forked is then the daemon's child). */
int zygote_signal(struct procs *ps, unsigned zygote, pid_t pid, int sig, bool group);
/* Takes every exit zygote `zygote` has reported so far: a worker of it that still holds
 * its pid afterwards has not been reaped. */
void zygote_settle(struct procs *ps, unsigned zygote);
/* The process that held pid until its zygote reported its exit, which the daemon has read
 * but not acted on yet; NULL if none. */
struct process *zygote_exiting(struct procs *ps, pid_t pid);
/* Spawn requests the zygotes have not answered yet. */
unsigned zygote_unanswered(struct procs *ps);
/* A child of the daemon exited: true if it was a zygote (then forgotten). */
bool zygote_lost(struct procs *ps, pid_t pid);
/* Ends every zygote and waits for them. */
void zygote_stop(struct procs *ps);

#endif
