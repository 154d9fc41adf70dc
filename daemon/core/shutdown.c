/* shutdown: the daemon's way out. Pools nothing follows stop first, in parallel, the rest
 * as their followers are gone; the loop ends once no process is left. */
#include "daemon/core/shutdown.h"

#include <signal.h>

#include "daemon/core/order.h"
#include "daemon/core/supervisor.h"
#include "daemon/lib/log.h"

void shutdown_step(struct supervisor *sup)
{
	if (!sup->shutting_down)
		return;
	order_shutdown_step(sup);
	if (sup->procs.live == 0)
		event_base_loopexit(sup->base, NULL);
}

void shutdown_begin(struct supervisor *sup)
{
	if (sup->shutting_down) {
		/* Asked twice: do not wait for graceful stops any more. */
		log_warn("second shutdown request: killing every worker now");
		for (size_t p = 0; p < sup->n_pools; p++)
			for (unsigned i = 0; i < sup->pools[p]->n_slots; i++) {
				struct worker *w = sup->pools[p]->workers[i];
				if (w)
					worker_kill(w, SIGKILL, true);
			}
		return;
	}
	log_info("shutting down: stopping %u workers", sup->procs.live);
	sup->shutting_down = true;
	core_changed(sup, &(struct core_change){ .kind = CC_DAEMON_STOPPING });
	/* pools nothing depends on first, in parallel; the rest as their followers are gone */
	order_shutdown_step(sup);
	shutdown_step(sup);
}
