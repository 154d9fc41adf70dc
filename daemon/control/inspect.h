/* inspect: asks a worker's loops about themselves over their channels and answers the
 * control request when all did, or with -32002 when a blocked loop does not in time. */
#ifndef LV_INSPECT_H
#define LV_INSPECT_H

#include "daemon/core/supervisor.h"
#include "ipc/jsonrpc.h"

#define LV_INSPECT_TIMEOUT_MS 2000

/* Who hears how an inspect ends: exactly one of answer (result stolen) or fail (data
 * stolen, may be NULL), once. */
struct inspect_to {
	void (*answer)(void *arg, json_t *result);
	void (*fail)(void *arg, int code, json_t *data, const char *message);
	void *arg;
};
struct inspect;

/* Asks w's loops; NULL when it has already failed (not inspectable, no memory), else the
 * request, which ends through to (or inspect_cancel). */
struct inspect *inspect_ask(struct supervisor *sup, const struct inspect_to *to,
                            struct worker *w, unsigned timeout_ms);
/* Forgets a request whose asker went away: to hears nothing. */
void inspect_cancel(struct inspect *in);
/* The control method: the call is parked until the answer and cancelled with its client. */
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
