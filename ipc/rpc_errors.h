/* rpc_errors: every JSON-RPC error code loopvisor answers with, in one place.
 * -32700..-32603 are the specification's; -32001.. are loopvisor's own. */
#ifndef LV_RPC_ERRORS_H
#define LV_RPC_ERRORS_H

#define LV_RPC_PARSE_ERROR       (-32700)
#define LV_RPC_INVALID_REQUEST   (-32600)
#define LV_RPC_METHOD_NOT_FOUND  (-32601)
#define LV_RPC_INVALID_PARAMS    (-32602)
#define LV_RPC_INTERNAL_ERROR    (-32603)

#define LV_RPC_NO_SUCH_TARGET    (-32001) /* data: {"target": ...} */
#define LV_RPC_PERMISSION_DENIED (-32003) /* data: {"method": ...} */
#define LV_RPC_TIMED_OUT         (-32002) /* data: {"workers": [names not there yet]} */
#define LV_RPC_WORKER_FAILED     (-32004) /* data: {"worker": name, "last_error": text} */
#define LV_RPC_SHUTTING_DOWN     (-32005)
#define LV_RPC_NOT_INSPECTABLE   (-32006) /* data: {"worker"}: no job process to ask (or
                                          * it ended, or was removed, before answering) */
#define LV_RPC_RELOAD_FAILED     (-32007) /* the config file is invalid: nothing changed */
#define LV_RPC_POOL_REMOVING     (-32008) /* data: {"pool"}: it is being removed */
#define LV_RPC_LIMIT_REACHED     (-32010) /* data: {"limit": name, "max": N}: connections,
                                           * parked waits, follows per connection */

#endif
