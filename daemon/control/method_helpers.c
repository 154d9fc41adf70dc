/* method_helpers: what the control methods share: target checks and refusals with their
 * error codes, the wait timeout, and parking a call until its workers settle. */
#include "daemon/control/method_helpers.h"

#include <stdlib.h>
#include <string.h>

#include "daemon/control/control.h"
#include "daemon/out/waiters.h"

#define DEFAULT_WAIT_MS 60000

/* Root and the daemon's user may park requests into the reserve. */
bool method_privileged(struct lv_rpc_call *call)
{
	return control_client_privileged(lv_rpc_session_io(lv_rpc_call_session(call)));
}

void method_park(struct supervisor *sup, struct lv_rpc_call *call, const char *target,
                 const struct wait_spec *spec)
{
	waiter_park(sup, call, method_privileged(call), target, spec);
}

void method_fail_target(struct lv_rpc_call *call, const char *target)
{
	lv_rpc_fail(call, LV_RPC_NO_SUCH_TARGET, "no such pool or worker",
	            json_pack("{s:s}", "target", target));
}

#define TARGET_SYNTAX "POOL or POOL:INDEX (INDEX in decimal, without sign or leading zeros)"

/* Resolves params.target or answers -32602 (not the one target syntax) or -32001; returns
 * the count, or -1 after replying. */
int method_resolve_or_fail(struct supervisor *sup, struct lv_rpc_call *call, const char *target,
                           struct worker ***out)
{
	int n;

	*out = NULL;
	if (!pool_target_valid(target)) {
		lv_rpc_fail(call, LV_RPC_INVALID_PARAMS, "params.target: must be " TARGET_SYNTAX, NULL);
		return -1;
	}
	if ((n = pool_resolve_target(sup, target, out)) < 0)
		method_fail_target(call, target);
	return n;
}

/* Nothing new starts while the daemon stops: what would start a worker is refused. */
bool method_refuse_if_shutting_down(struct lv_rpc_call *call, const struct supervisor *sup)
{
	if (!sup->shutting_down)
		return false;
	lv_rpc_fail(call, LV_RPC_SHUTTING_DOWN, "the daemon is shutting down", NULL);
	return true;
}

/* A pool on its way out takes no more commands: they would revive it or act on workers
 * that are leaving. target is a pool or POOL:INDEX (NULL: nothing to check). */
bool method_refuse_if_removing(struct lv_rpc_call *call, struct supervisor *sup,
                               const char *target)
{
	char name[LV_POOL_NAME_MAX + 1];
	size_t len = target ? strcspn(target, ":") : 0;
	const struct pool *p;

	if (len == 0 || len > LV_POOL_NAME_MAX)
		return false;
	memcpy(name, target, len);
	name[len] = '\0';
	if (!(p = pool_find(sup, name)) || !p->removing)
		return false;
	lv_rpc_failf(call, LV_RPC_POOL_REMOVING, json_pack("{s:s}", "pool", name),
	             "pool %s is being removed", name);
	return true;
}

unsigned method_timeout_param(json_t *params)
{
	json_int_t t = json_integer_value(json_object_get(params, "timeout_ms"));

	return t > 0 && t < 86400000 ? (unsigned)t : DEFAULT_WAIT_MS;
}

json_t *method_tail(struct worker **ws, int n_ws, struct pool *pool, unsigned lines)
{
	struct output **os = malloc(((size_t)n_ws + 1) * sizeof *os);
	json_t *r;
	int n = 0;

	if (!os)
		return NULL;
	for (int i = 0; i < n_ws; i++)
		os[n++] = &ws[i]->output;
	if (pool)
		os[n++] = &pool->departed;
	r = output_tail(os, n, lines);
	free(os);
	return r;
}
