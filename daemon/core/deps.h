/* deps: ordering between pools ("after"): a pool's workers start only once every pool it
 * names is running, and at shutdown pools stop in the reverse order (order.h acts). */
#ifndef LV_DEPS_H
#define LV_DEPS_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon/core/supervisor.h"

/* True when every pool in p's "after" has all its workers running; else why says on what
 * it waits ("waiting for pool db (failed)"). */
bool deps_ready(struct supervisor *sup, const struct pool *p, char *why, size_t len);

/* Whether p names the pool `name` in its "after". */
bool deps_follows(const struct pool *p, const char *name);

#endif
