/* control: the JSON-RPC control socket: a Unix stream listener, one session per client,
 * with bounded lines, bounded output and backpressure so no client can stall the others. */
#ifndef LV_CONTROL_H
#define LV_CONTROL_H

#include <stdbool.h>
#include <sys/types.h>

#include "daemon/core/supervisor.h"
#include "daemon/lib/sinks.h"
#include "ipc/jsonrpc.h"

#define LV_CONTROL_MAX_LINE      (256 * 1024)
#define LV_CONTROL_MAX_PENDING   64                 /* unanswered requests per client */
#define LV_CONTROL_OUTPUT_HIGH   (1024 * 1024)      /* unread replies that pause its requests */
#define LV_CONTROL_TURN_LINES    16                 /* requests of a client per loop turn, */
#define LV_CONTROL_TURN_BYTES    (16 * 1024)        /* or fewer if their replies reach this */
#define LV_CONTROL_MAX_OUTPUT    (64 * 1024 * 1024) /* unread reply bytes per client ... */
#define LV_CONTROL_MAX_OUTPUT_ALL (128 * 1024 * 1024) /* ... and of all clients together */
#define LV_CONTROL_MAX_CLIENTS   1024
#define LV_CONTROL_RESERVED      64   /* of those, slots only root and the daemon's user get */
#define LV_CONTROL_MAX_PER_UID   64   /* connections of each other uid */

/* Binds path with mode (unlinking a stale socket nobody answers on) and starts
 * accepting. Returns NULL with err filled on failure. */
struct control *control_open(struct supervisor *sup, const char *path, mode_t mode,
                             const struct lv_rpc_method *methods, char *err, size_t errlen);
#define LV_SUBSCRIBER_MAX_QUEUE  (256 * 1024)      /* unread event bytes per subscriber */

/* Subscribes the client a call came from (io of its session) to events in mask (bit per
 * enum lv_event), optionally only those of target ("POOL" or "POOL:INDEX"). */
int subscribers_subscribe(void *client_io, unsigned mask, const char *target);

/* A follower with this much unread skips log lines until it has read half of it, then
 * gets {"skipped": N}; the worker and the log file never wait for it. */
#define LV_FOLLOWER_HIGH (256 * 1024)
#define LV_FOLLOWERS_MAX_QUEUE (16 * 1024 * 1024) /* what all followers together may have */
#define lv_follower_limit(n_follows) /* one follower's share of it, at most LV_FOLLOWER_HIGH */ \
	((n_follows) > LV_FOLLOWERS_MAX_QUEUE / LV_FOLLOWER_HIGH ? LV_FOLLOWERS_MAX_QUEUE / (n_follows) \
	                                                          : LV_FOLLOWER_HIGH)

/* Makes the client a follower of target's log lines (NULL: every worker); -EALREADY if it
 * follows already (one follow per connection), -ENOMEM. */
int subscribers_follow(void *client_io, const char *target);
/* Whether the client a call came from is root or the daemon's user. */
bool control_client_privileged(void *client_io);
/* The control socket as a sink of events (to every matching subscriber) and log lines (to
 * every matching follower; one that is behind skips them). */
struct lv_sink subscribers_sink(struct control *c);

/* Uses a listening socket systemd passed (socket activation) instead of binding one. */
struct control *control_adopt(struct supervisor *sup, int fd, const struct lv_rpc_method *methods,
                              char *err, size_t errlen);

/* Moves the listening socket to path (or only changes its mode); connected clients stay. */
int control_rebind(struct control *c, const char *path, mode_t mode, char *err, size_t errlen);
const char *control_path(const struct control *c);
/* What the socket answered so far (control/request_stats.h), for /metrics. */
struct request_stats;
const struct request_stats *control_request_stats(const struct control *c);

/* Writes what can be written of pending replies without blocking. */
void control_flush(struct control *c);
/* Closes every client and the listener, and removes the socket file. */
void control_close(struct control *c);

#endif
