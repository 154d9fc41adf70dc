/* process_hooks: the core's answers to the process layer's reports, and the daemon's way
 * out (shutdown waits for every exit). */
#ifndef LV_PROCESS_HOOKS_H
#define LV_PROCESS_HOOKS_H

#include "daemon/proc/notify_socket.h"

struct supervisor;

/* Fills sup->procs.hooks and the core's hooks of sup->channels (all but inspected, which
 * is the control socket's); main calls it before the first process starts. */
void core_process_hooks_install(struct supervisor *sup);
/* What the notify socket reports to (notify_open). */
struct notify_hooks core_notify_hooks(struct supervisor *sup);

#endif
