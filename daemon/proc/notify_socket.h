/* notify_socket: the sd_notify(3) receiver for exec workers with "ready": "notify": a datagram
 * socket per worker uid, reachable by that uid and root only, senders identified by their
 * kernel-checked credentials and attributed to the worker whose session they are in. */
#ifndef LV_NOTIFY_H
#define LV_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <event2/event.h>

#include "daemon/lib/ratewin.h"
#include "daemon/proc/procs.h"

#define LV_NOTIFY_MAX_DATAGRAM 4096
/* what one worker may say per second; the rest of the second is dropped */
#define LV_NOTIFY_MAX_PER_SECOND 1000
/* what is read from one uid's socket per second; past it the socket is not read until the
 * next second (its senders wait or get EAGAIN) */
#define LV_NOTIFY_SOCKET_PER_SECOND 10000
#define LV_NOTIFY_SOCKET_BYTES_PER_SECOND (1 << 20)
/* and from all of them together */
#define LV_NOTIFY_ALL_PER_SECOND 40000
#define LV_NOTIFY_ALL_BYTES_PER_SECOND (4 << 20)
/* distinct users that run notify workers */
#define LV_NOTIFY_MAX_UIDS 1024

/* What one process says on its notify socket (struct process.notify points here). */
struct notify_peer {
	bool enabled;              /* it was given a notify socket */
	uid_t uid;                 /* whose socket */
	struct lv_ratewin rate;    /* its datagrams this second */
	char *status;              /* its last STATUS=, or NULL */
	bool stopping;             /* it said STOPPING=1 */
};

/* What the socket reports, with the owner of the process that sent it. */
struct notify_hooks {
	void (*ready)(void *ctx, void *owner);      /* READY=1, after any STATUS= beside it */
	void (*watchdog)(void *ctx, void *owner);   /* WATCHDOG=1 */
	void *ctx;
};

struct notify *notify_open(struct event_base *base, struct procs *ps,
                           const struct notify_hooks *hooks, char *err, size_t errlen);
/* Unlinks every socket and removes their folder. */
void notify_close(struct notify *n);
/* The NOTIFY_SOCKET path for a worker running as uid: its socket, bound (and the folder
 * made) on first use. NULL with err when it cannot be. */
const char *notify_socket_for(struct notify *n, uid_t uid, char *err, size_t errlen);
/* Before the daemon acts on the exit of p, a notify worker's process: reads what is queued
 * on its socket (within the budgets), where all p sent before it exited already is, while
 * p can still be found by its pid. Nothing for other processes, nor when called from
 * within. */
void notify_flush(struct notify *n, const struct process *p);
/* A new process starts with nothing said. */
void notify_peer_reset(struct notify_peer *np);

#endif
