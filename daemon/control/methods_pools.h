/* methods_pools: the handlers of add, remove, scale and reload (see docs/protocol.md);
 * methods.c lists them in the method table. */
#ifndef LV_METHODS_POOLS_H
#define LV_METHODS_POOLS_H

#include <jansson.h>

#include "ipc/jsonrpc.h"

void m_add(struct lv_rpc_call *call, json_t *params, void *app);
void m_remove(struct lv_rpc_call *call, json_t *params, void *app);
void m_scale(struct lv_rpc_call *call, json_t *params, void *app);
void m_reset(struct lv_rpc_call *call, json_t *params, void *app);
void m_reload(struct lv_rpc_call *call, json_t *params, void *app);

#endif
