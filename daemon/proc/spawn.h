/* spawn: the parent's half of starting a process: pipes and channels, a zygote or a fork
 * with signals blocked, and watching the child until exec succeeded or it said why not. */
#ifndef LV_PROC_SPAWN_H
#define LV_PROC_SPAWN_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "daemon/proc/procs.h"
#include "worker/spawn.h"

/* The daemon's ends of a new process's pipes and channels. */
struct spawn_io {
	int out, err;                    /* read ends of stdout and stderr, -1: not captured */
	int channels[LV_LOOPS_MAX];      /* one per loop of a module worker */
	unsigned n_channels;
};

/* Starts sp as p's process (sp's descriptors are filled here): 0 with io, or -1 with err.
 * capture: pipes for stdout and stderr; n_channels: channels to make; watch_exec: hear
 * through hooks.exec_done when the program was exec'd. */
int proc_spawn(struct procs *ps, struct process *p, struct lv_spawn *sp, bool capture,
               unsigned n_channels, bool watch_exec, struct spawn_io *io, char *err,
               size_t errlen);
/* Closes the start-error pipe (a running module worker reports no start error). */
void proc_close_error(struct process *p);
/* Reads a start error still in the pipe (hooks.start_error); true if the pipe was watched
 * for exec and is at EOF and empty: the program had been exec'd. Call it at exit. */
bool proc_drain_error(struct process *p);

#endif
