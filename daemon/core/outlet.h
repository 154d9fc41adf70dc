/* outlet: the one way a change leaves the core. Every change of a worker or pool is one
 * struct core_change handed to the hook main installs; events, systemd, waiters, "after",
 * rolling restarts and inspect requests consume it there. The core includes none of them. */
#ifndef LV_OUTLET_H
#define LV_OUTLET_H

#include <jansson.h>

#include "daemon/core/fsm.h"

struct supervisor;
struct pool;
struct worker;

enum core_change_kind {
	CC_WORKER_STATE,     /* worker moved from `from` to worker->state */
	CC_WORKER_EXITED,    /* worker's process exited (status, error); its pid still set */
	CC_WORKER_HUNG,      /* worker's process stopped beating and was aborted (error) */
	CC_WORKER_PROBE,     /* a probe of worker gave a result (probe, probe_ok, error) */
	CC_WORKER_READY,     /* worker's ready flag changed */
	CC_WORKER_GONE,      /* worker is about to be freed */
	CC_POOL_SETTLED,     /* workers of pool changed during the last loop turn */
	CC_POOL_ADDED,       /* pool_name */
	CC_POOL_REMOVED,     /* pool_name; the pool is freed already */
	CC_POOL_GONE,        /* pool is about to be freed */
	CC_POOL_SCALED,      /* pool_name, from -> to workers */
	CC_POOL_ROLL,        /* pool's rolling restart began, advanced, ended or stopped short */
	CC_DAEMON_RELOADED,  /* result */
	CC_DAEMON_STOPPING,
};

struct core_change {
	enum core_change_kind kind;
	struct worker *worker;
	struct pool *pool;
	const char *pool_name;
	enum worker_state from;
	int status;
	const char *error;
	unsigned scaled_from, scaled_to;
	json_t *result;                /* borrowed */
	const char *probe;             /* CC_WORKER_PROBE: "startup", "liveness", "readiness" */
	bool probe_ok;
};

struct core_outlet {
	void (*changed)(void *ctx, const struct core_change *c);
	void *ctx;
};

/* Hands c to the installed hook (nothing happens before main installs one). */
void core_changed(struct supervisor *sup, const struct core_change *c);

#endif
