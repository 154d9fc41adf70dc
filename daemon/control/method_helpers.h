/* method_helpers: what the control methods share (see method_helpers.c). Each refusal
 * answers the call and returns true; the caller returns then. */
#ifndef LV_METHOD_HELPERS_H
#define LV_METHOD_HELPERS_H

#include <stdbool.h>

#include "daemon/core/supervisor.h"
#include "daemon/out/waitrule.h"
#include "ipc/jsonrpc.h"

/* Whether the caller is root or the daemon's user (they may park into the reserve). */
bool method_privileged(struct lv_rpc_call *call);
/* Parks call until every worker of target satisfies spec (waiter_park). */
void method_park(struct supervisor *sup, struct lv_rpc_call *call, const char *target,
                 const struct wait_spec *spec);
/* Answers -32001 for target. */
void method_fail_target(struct lv_rpc_call *call, const char *target);
/* Resolves target or answers -32602 (not the one target syntax) or -32001; the count, or
 * -1 after replying. *out is malloc'd. */
int method_resolve_or_fail(struct supervisor *sup, struct lv_rpc_call *call, const char *target,
                           struct worker ***out);
/* Nothing new starts while the daemon stops: -32005. */
bool method_refuse_if_shutting_down(struct lv_rpc_call *call, const struct supervisor *sup);
/* A pool on its way out takes no more commands (-32008); target a pool or POOL:INDEX. */
bool method_refuse_if_removing(struct lv_rpc_call *call, struct supervisor *sup,
                               const char *target);
/* params.timeout_ms, or the default wait. */
unsigned method_timeout_param(json_t *params);

/* The last lines of the workers (and, for a whole pool, of its workers scaled away), as
 * the tail method and GET /api/tail answer: {"lines": [...]}, or NULL without memory. */
json_t *method_tail(struct worker **ws, int n_ws, struct pool *pool, unsigned lines);

#endif
