/* order: acting on the start and stop order between pools (deps.c judges it). */
#ifndef LV_ORDER_H
#define LV_ORDER_H

#include "daemon/core/supervisor.h"

/* A worker of changed moved: starts the waiting workers of pools that follow it, or tells
 * them what they still wait for. */
void order_changed(struct supervisor *sup, const struct pool *changed);

/* At shutdown: stops the pools no live pool depends on; called again as workers exit. */
void order_shutdown_step(struct supervisor *sup);

#endif
