/* deps: start and stop order between pools. Checked per state change of a pool that
 * others follow, so the cost is the number of dependent pools, not of workers. */
#include "daemon/core/deps.h"

#include <stdio.h>
#include <string.h>

#include "daemon/lib/log.h"

/* "running", or the state of its first worker that is not. */
static const char *pool_readiness(const struct pool *p)
{
	for (unsigned i = 0; i < p->n_slots; i++) {
		const struct worker *w = p->workers[i];

		if (w && !w->removing && w->state != WS_RUNNING)
			return worker_state_name(w->state);
	}
	return "running";
}

bool deps_ready(struct supervisor *sup, const struct pool *p, char *why, size_t len)
{
	for (char **name = p->cfg.after; name && *name; name++) {
		const struct pool *dep = supervisor_find_pool(sup, *name);
		const char *state = dep ? pool_readiness(dep) : "missing";

		if (!dep || dep->removing || strcmp(state, "running") != 0) {
			snprintf(why, len, "waiting for pool %s (%s)", *name, dep ? state : "missing");
			return false;
		}
	}
	return true;
}

static bool follows(const struct pool *p, const char *name)
{
	for (char **dep = p->cfg.after; dep && *dep; dep++)
		if (!strcmp(*dep, name))
			return true;
	return false;
}

void deps_changed(struct supervisor *sup, const struct pool *changed)
{
	char why[LV_ERRBUF];

	if (sup->shutting_down)
		return;
	for (size_t i = 0; i < sup->n_pools; i++) {
		struct pool *q = sup->pools[i];
		bool ready;

		if (q == changed || q->removing || !follows(q, changed->cfg.name))
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

		if (q == p || !follows(q, p->cfg.name))
			continue;
		for (unsigned k = 0; k < q->n_slots; k++)
			if (q->workers[k] && (q->workers[k]->proc.pid > 0 || q->workers[k]->state == WS_WAITING))
				return true;
	}
	return false;
}

void deps_shutdown_step(struct supervisor *sup)
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
