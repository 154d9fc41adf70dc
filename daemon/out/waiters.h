/* waiters: control requests parked until their target workers reach a state, answered
 * when a state change satisfies them, when one fails, or when their time runs out. */
#ifndef LV_WAITERS_H
#define LV_WAITERS_H

#include <stdbool.h>

#include "daemon/core/supervisor.h"
#include "daemon/out/waitrule.h"
#include "ipc/jsonrpc.h"

#define LV_WAITERS_PER_CLIENT 256   /* parked calls of one connection: one full batch */
#define LV_WAITERS_MAX        16384 /* parked calls in all ... */
#define LV_WAITERS_RESERVED   1024  /* ... of which only root and the daemon's user get these */

/* Answers call once every worker of target satisfies spec (possibly at once); a call that
 * would park past LV_WAITERS_PER_CLIENT or LV_WAITERS_MAX (or, unless privileged: root or
 * the daemon's user, past the reserve) is answered -32010. */
void waiter_park(struct supervisor *sup, struct lv_rpc_call *call, bool privileged,
                 const char *target, const struct wait_spec *spec);
/* Whether call may park one more request (per connection and in all); false after
 * answering it -32010. For other parked requests (inspect). */
bool waiters_room(struct supervisor *sup, struct lv_rpc_call *call, bool privileged);
/* Judges the waiters of pool (a worker of it changed state). */
void waiters_notify(struct supervisor *sup, struct pool *pool);
/* Judges the waiters of pools freed since (pool_free hands them over). */
void waiters_notify_all(struct supervisor *sup);
/* A pool is about to be freed: its waiters wait for waiters_notify_all to judge them. */
void waiters_pool_gone(struct pool *pool);
/* Answers every parked request with an error (daemon shutting down). */
void waiters_abort_all(struct supervisor *sup);

/* The reply a start/stop/wait sends: {"workers": [...]} for the target. */
json_t *target_result(struct supervisor *sup, const char *target, bool status);
/* The reply scale sends: {"pool": NAME, "workers": N}. */
json_t *scale_result(const struct pool *pool);

#endif
