/* spawn: the parent's half of starting a process: pipes and channels, a zygote or a fork
 * with signals blocked, and watching the child until exec succeeded or it said why not. */
#ifndef LV_PROC_SPAWN_H
#define LV_PROC_SPAWN_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "daemon/proc/procs.h"
#include "worker/spawn.h"

/* Asks for p's process, to be made from what hooks.describe says and opts. A zygote with
 * room forks it (the daemon itself when none can): the spawn waits in ps->queue, without
 * descriptors, until one has room; its pipes and channels are made as it is sent, so a
 * burst of 10,000 spawns holds no more than the zygotes' windows. hooks.spawned or
 * hooks.spawn_failed follows, from the loop, never from within this call. */
void proc_spawn(struct procs *ps, struct process *p, const struct spawn_opts *opts);
/* The queue and its pump on ps->base, and the zygotes' way back to it (struct procs):
 * 0 or -1. Free drops what still waits. */
int spawn_queue_init(struct procs *ps);
void spawn_queue_free(struct procs *ps);
/* Closes the start-error pipe (a running module worker reports no start error). */
void proc_close_error(struct process *p);
/* Reads a start error still in the pipe (hooks.start_error); true if the pipe was watched
 * for exec and is at EOF and empty: the program had been exec'd. Call it at exit. */
bool proc_drain_error(struct process *p);

#endif
