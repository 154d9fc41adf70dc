/* events: the daemon's event stream: every worker and pool transition becomes one
 * numbered event, sent as a JSON-RPC notification to the clients that subscribed. */
#ifndef LV_EVENTS_H
#define LV_EVENTS_H

#include <stdbool.h>

#include "daemon/core/supervisor.h"

enum lv_event {
	EV_WORKER_STARTING, EV_WORKER_RUNNING, EV_WORKER_EXITED, EV_WORKER_BACKOFF,
	EV_WORKER_FAILED, EV_WORKER_HUNG, EV_WORKER_STOPPED, EV_POOL_ADDED, EV_POOL_REMOVED,
	EV_POOL_SCALED, EV_POOL_ROLLING, EV_POOL_ROLLED, EV_POOL_ROLL_FAILED, EV_DAEMON_RELOADED,
	EV_DAEMON_STOPPING, EV_WORKER_PROBE,
	EV_COUNT
};

const char *events_name(enum lv_event ev);
int events_from_name(const char *name);

/* Emits a worker event; extra members (stolen, may be NULL) such as "exit" or "error". */
void events_worker(struct supervisor *sup, enum lv_event ev, const struct worker *w,
                   json_t *extra);
/* The event of a worker's arrival in its state, if the wire sees one. */
void events_worker_state(struct supervisor *sup, const struct worker *w, enum worker_state from);
/* worker.exited, with its exit status and the error that ended it (or NULL). */
void events_worker_exited(struct supervisor *sup, const struct worker *w, int status,
                          const char *error);
/* Where the pool's rolling restart stands: pool.rolling (begun, or one more replaced),
 * pool.rolled (all replaced) or pool.roll_failed (stopped short, with the worker and why). */
void events_pool_roll(struct supervisor *sup, const struct pool *pool);
/* Emits a pool or daemon event (pool may be NULL); extra as above. */
void events_emit(struct supervisor *sup, enum lv_event ev, const char *pool, json_t *extra);

#endif
