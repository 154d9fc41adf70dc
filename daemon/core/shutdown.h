/* shutdown: stopping every worker on the way out (see shutdown.c). */
#ifndef LV_SHUTDOWN_H
#define LV_SHUTDOWN_H

struct supervisor;

/* Stops every worker, pools nothing follows first; asked a second time, kills them all. */
void shutdown_begin(struct supervisor *sup);
/* The next pools to drain, and the loop's end once no process is left. */
void shutdown_step(struct supervisor *sup);

#endif
