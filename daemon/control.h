/* control: the JSON-RPC control socket: a Unix stream listener, one session per client,
 * with bounded lines, bounded output and backpressure so no client can stall the others. */
#ifndef LV_CONTROL_H
#define LV_CONTROL_H

#include <sys/types.h>

#include "daemon/supervisor.h"
#include "ipc/jsonrpc.h"

#define LV_CONTROL_MAX_LINE      (256 * 1024)
#define LV_CONTROL_MAX_PENDING   64                 /* unanswered requests per client */
#define LV_CONTROL_MAX_OUTPUT    (64 * 1024 * 1024) /* unread reply bytes per client */
#define LV_CONTROL_MAX_CLIENTS   1024

/* Binds path with mode (unlinking a stale socket nobody answers on) and starts
 * accepting. Returns NULL with err filled on failure. */
struct control *control_open(struct supervisor *sup, const char *path, mode_t mode,
                             const struct lv_rpc_method *methods, char *err, size_t errlen);
/* Writes what can be written of pending replies without blocking. */
void control_flush(struct control *c);
/* Closes every client and the listener, and removes the socket file. */
void control_close(struct control *c);

#endif
