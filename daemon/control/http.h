/* http: the read-only HTTP listener ("http" in the config): Prometheus metrics, health
 * and readiness, and the status as JSON. Control stays on the JSON-RPC socket. */
#ifndef LV_HTTP_H
#define LV_HTTP_H

#include <stddef.h>

#include "daemon/core/supervisor.h"

#define LV_HTTP_MAX_HEADERS 8192   /* bytes of request line and headers */
#define LV_HTTP_TIMEOUT_S   10     /* a peer idle or not reading this long is dropped */

struct http;

/* Binds every address of cfg->listen and serves them; NULL with err on failure. */
struct http *http_open(struct supervisor *sup, const struct lv_http_config *cfg, char *err,
                       size_t errlen);
void http_close(struct http *h);

#endif
