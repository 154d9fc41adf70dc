/* status: the shapes of docs/protocol.md for a worker and a pool, as JSON values or written
 * straight as text (a status of many workers). */
#ifndef LV_STATUS_H
#define LV_STATUS_H

#include <stdint.h>

#include <jansson.h>

#include "daemon/core/supervisor.h"

struct jsonw;

json_t *status_worker_json(const struct worker *w);
/* {"code": N} or {"signal": "NAME"} for a waitpid status. */
json_t *status_exit_json(int status);
/* The name of an enum lv_restart_reason: "exit", "signal", "hang", "probe"... */
const char *status_reason_name(unsigned reason);
void status_write_worker(struct jsonw *o, const struct worker *w, uint64_t now);
void status_write_pool(struct jsonw *o, const struct pool *p);
/* The whole status result, {"pools": [...], "workers": [...]}: the status method without a
 * target, and GET /api/status. */
void status_write_all(struct jsonw *o, const struct supervisor *sup, uint64_t now);

#endif
