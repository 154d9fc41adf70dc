/* deps: ordering between pools ("after"): a pool's workers start only once every pool it
 * names is running, and at shutdown pools stop in the reverse order. */
#ifndef LV_DEPS_H
#define LV_DEPS_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon/core/supervisor.h"

/* True when every pool in p's "after" has all its workers running; else why says on what
 * it waits ("waiting for pool db (failed)"). */
bool deps_ready(struct supervisor *sup, const struct pool *p, char *why, size_t len);

/* A worker of changed moved: starts the waiting workers of pools that follow it. */
void deps_changed(struct supervisor *sup, const struct pool *changed);

/* At shutdown: stops the pools no live pool depends on; called again as workers exit. */
void deps_shutdown_step(struct supervisor *sup);

#endif
