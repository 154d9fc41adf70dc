/* notify_socket: the sd_notify(3) receiver for exec workers with "ready": "notify": a datagram
 * socket per worker uid, reachable by that uid and root only, senders identified by their
 * kernel-checked credentials and attributed to the worker whose session they are in. */
#ifndef LV_NOTIFY_H
#define LV_NOTIFY_H

#include <stddef.h>
#include <sys/types.h>

#include "daemon/core/supervisor.h"

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

struct notify *notify_open(struct supervisor *sup, char *err, size_t errlen);
/* Unlinks every socket and removes their folder. */
void notify_close(struct notify *n);
/* The NOTIFY_SOCKET path for a worker running as uid: its socket, bound (and the folder
 * made) on first use. NULL with err when it cannot be. */
const char *notify_socket_for(struct notify *n, uid_t uid, char *err, size_t errlen);
/* Before the daemon acts on the exit of w, a notify worker: reads what is queued on its
 * socket (within the budgets), where all w sent before it exited already is, while w can
 * still be found by its pid. Nothing for other workers, nor when called from within. */
void notify_flush(struct notify *n, const struct worker *w);

#endif
