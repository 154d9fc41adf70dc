/* notify: the sd_notify(3) receiver for exec workers with "ready": "notify": one datagram
 * socket for all of them, senders identified by their kernel-checked credentials. */
#ifndef LV_NOTIFY_H
#define LV_NOTIFY_H

#include <stddef.h>
#include <sys/types.h>

#include "daemon/supervisor.h"

#define LV_NOTIFY_MAX_DATAGRAM 4096
#define LV_NOTIFY_MAX_PER_SECOND 1000

struct notify *notify_open(struct supervisor *sup, char *err, size_t errlen);
void notify_close(struct notify *n);
/* The NOTIFY_SOCKET value workers get ("@..." for the abstract namespace). */
const char *notify_address(const struct notify *n);

/* Applies one datagram from sender to the workers (pure apart from the worker calls);
 * exposed for tests. Returns the worker it was attributed to, or NULL if dropped. */
struct worker *notify_deliver(struct supervisor *sup, pid_t sender, const char *data,
                              size_t len);

#endif
