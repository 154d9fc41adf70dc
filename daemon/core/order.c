/* order: start and stop order between pools ("after"). Judged once per loop turn for a
 * pool that changed, so the cost is the number of pools that follow it, not of workers. */
#include "daemon/core/order.h"

#include "daemon/core/deps.h"
#include "daemon/lib/log.h"

void order_changed(struct supervisor *sup, const struct pool *changed)
{
	char why[LV_ERRBUF];

	if (sup->shutting_down)
		return;
	for (size_t i = 0; i < sup->n_pools; i++) {
		struct pool *q = sup->pools[i];
		bool ready;

		if (q == changed || q->removing || !deps_follows(q, changed->cfg.name))
			continue;
		ready = deps_ready(sup, q, why, sizeof why);
		for (unsigned k = 0; k < q->n_slots; k++) {
			struct worker *w = q->workers[k];

			if (!w || w->state != WS_WAITING)
				continue;
			if (ready)
				worker_resume(w);
			else
				worker_set_error(w, "%s", why);
		}
	}
}

/* Does any pool that follows p still have a worker that is not stopped? */
static bool followers_live(struct supervisor *sup, const struct pool *p)
{
	for (size_t i = 0; i < sup->n_pools; i++) {
		const struct pool *q = sup->pools[i];

		if (q == p || !deps_follows(q, p->cfg.name))
			continue;
		for (unsigned k = 0; k < q->n_slots; k++)
			if (q->workers[k] && (q->workers[k]->proc.pid > 0 || q->workers[k]->proc.spawning ||
			                      q->workers[k]->state == WS_WAITING))
				return true;
	}
	return false;
}

void order_shutdown_step(struct supervisor *sup)
{
	for (size_t i = 0; i < sup->n_pools; i++) {
		struct pool *p = sup->pools[i];

		if (p->draining || followers_live(sup, p))
			continue;
		p->draining = true;
		for (unsigned k = 0; k < p->n_slots; k++)
			if (p->workers[k])
				worker_stop(p->workers[k]);
	}
}
