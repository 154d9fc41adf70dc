/* deps: whether a pool's "after" pools run, and who follows whom: the facts of the start
 * and stop order (order.c acts on them). */
#include "daemon/core/deps.h"

#include <stdio.h>
#include <string.h>


/* "running", or the state of its first worker that is not. */
static const char *pool_readiness(const struct pool *p)
{
	for (unsigned i = 0; i < p->n_slots; i++) {
		const struct worker *w = p->workers[i];

		if (w && !w->removing && w->state != WS_RUNNING)
			return fsm_wire_name(w->state);
		if (w && !w->removing && !w->ready)
			return "not ready"; /* running, and its readiness probe says no */
	}
	return "running";
}

bool deps_ready(struct supervisor *sup, const struct pool *p, char *why, size_t len)
{
	for (char **name = p->cfg.after; name && *name; name++) {
		const struct pool *dep = pool_find(sup, *name);
		const char *state = dep ? pool_readiness(dep) : "missing";

		if (!dep || dep->removing || strcmp(state, "running") != 0) {
			snprintf(why, len, "waiting for pool %s (%s)", *name, dep ? state : "missing");
			return false;
		}
	}
	return true;
}

bool deps_follows(const struct pool *p, const char *name)
{
	for (char **dep = p->cfg.after; dep && *dep; dep++)
		if (!strcmp(*dep, name))
			return true;
	return false;
}
