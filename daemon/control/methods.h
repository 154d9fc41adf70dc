/* methods: the table of control methods loopvisord answers (see docs/protocol.md). */
#ifndef LV_METHODS_H
#define LV_METHODS_H

#include "ipc/jsonrpc.h"

extern const struct lv_rpc_method lv_methods[];

#endif
