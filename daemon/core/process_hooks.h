/* process_hooks: the core's answers to the process layer's reports, and the daemon's way
 * out (shutdown waits for every exit). */
#ifndef LV_PROCESS_HOOKS_H
#define LV_PROCESS_HOOKS_H

struct supervisor;

/* Fills sup->procs.hooks; main calls it before the first process starts. */
void core_process_hooks_install(struct supervisor *sup);

#endif
