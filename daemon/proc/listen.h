/* listen: binds a pool's listening sockets once, before any worker starts, so that they
 * outlive every worker restart ("tcp:HOST:PORT", "tcp:[V6]:PORT", "unix:/path"). */
#ifndef LV_LISTEN_H
#define LV_LISTEN_H

#include <stddef.h>

/* Returns a listening, blocking, close-on-exec socket, or -1 with err filled. */
int listen_open(const char *spec, char *err, size_t errlen);

#endif
