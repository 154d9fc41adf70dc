/* outlet_consumers: who hears of each change of the core (core/outlet.h), in the order they
 * hear it: the event stream, systemd, parked requests, "after", rolling restarts, inspect. */
#include "daemon/outlet_consumers.h"

#include "daemon/control/inspect.h"
#include "daemon/core/order.h"
#include "daemon/core/supervisor.h"
#include "daemon/out/events.h"
#include "daemon/out/systemd.h"
#include "daemon/out/waiters.h"

static void on_change(void *ctx, const struct core_change *c)
{
	struct supervisor *sup = ctx;

	switch (c->kind) {
	case CC_WORKER_STATE:
		events_worker_state(sup, c->worker, c->from);
		pool_changed(c->pool); /* waiters, followers and rolls: once per loop turn */
		systemd_worker_changed(sup);
		break;
	case CC_WORKER_EXITED:
		events_worker_exited(sup, c->worker, c->status, c->error);
		inspect_worker_gone(sup, c->worker, "exited"); /* the process asked can never answer */
		break;
	case CC_WORKER_HUNG:
		events_worker(sup, EV_WORKER_HUNG, c->worker, json_pack("{s:s}", "error", c->error));
		break;
	case CC_WORKER_PROBE:
		events_worker(sup, EV_WORKER_PROBE, c->worker,
		              json_pack("{s:s, s:s, s:s, s:b}", "probe", c->probe, "result",
		                        c->probe_ok ? "success" : "failure", "reason", c->error,
		                        "ready", c->worker->ready));
		break;
	case CC_WORKER_READY:
		pool_changed(c->pool); /* "after", waiters and rolls read readiness */
		break;
	case CC_WORKER_GONE:
		inspect_worker_gone(sup, c->worker, "was removed");
		break;
	case CC_POOL_SETTLED:
		waiters_notify(sup, c->pool);
		order_changed(sup, c->pool);
		if (c->pool->roll.active)
			pool_roll(c->pool);
		break;
	case CC_POOL_ROLL:
		events_pool_roll(sup, c->pool);
		if (!c->pool->roll.active)
			waiters_notify(sup, c->pool);
		break;
	case CC_POOL_ADDED:
		events_emit(sup, EV_POOL_ADDED, c->pool_name, NULL);
		break;
	case CC_POOL_REMOVED:
		events_emit(sup, EV_POOL_REMOVED, c->pool_name, NULL);
		waiters_notify_all(sup); /* the waiters it handed over when it was freed */
		break;
	case CC_POOL_GONE:
		waiters_pool_gone(c->pool);
		break;
	case CC_POOL_SCALED:
		events_emit(sup, EV_POOL_SCALED, c->pool_name,
		            json_pack("{s:i, s:i}", "from", (int)c->scaled_from, "workers",
		                      (int)c->scaled_to));
		break;
	case CC_DAEMON_RELOADED:
		events_emit(sup, EV_DAEMON_RELOADED, NULL, json_incref(c->result));
		break;
	case CC_DAEMON_STOPPING:
		events_emit(sup, EV_DAEMON_STOPPING, NULL, NULL);
		systemd_stopping(sup);
		break;
	}
}

void outlet_consumers_install(struct supervisor *sup)
{
	sup->outlet = (struct core_outlet){ .changed = on_change, .ctx = sup };
}
