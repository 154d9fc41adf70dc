/* inspect: asks a worker's loops about themselves over their channels and answers the
 * control request when all did, or with -32002 when a blocked loop does not in time. */
#ifndef LV_INSPECT_H
#define LV_INSPECT_H

#include "daemon/core/supervisor.h"
#include "ipc/jsonrpc.h"

#define LV_INSPECT_TIMEOUT_MS 2000

void inspect_start(struct supervisor *sup, struct lv_rpc_call *call, struct worker *w,
                   unsigned timeout_ms);
/* Loop `loop` of worker `owner` answered (an "inspected" message); ctx is the supervisor:
 * the loop channels' inspected hook. */
void inspect_reply(void *ctx, void *owner, unsigned loop, json_t *msg);
/* The process asked is gone, or w is about to be freed: every request waiting for w is
 * answered now (-32006, "... <why> before it answered"); none keeps pointing at w. */
void inspect_worker_gone(struct supervisor *sup, const struct worker *w, const char *why);
/* Fails every request still waiting (daemon shutdown). */
void inspect_abort_all(struct supervisor *sup);

#endif
