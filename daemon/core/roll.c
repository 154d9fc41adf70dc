/* roll: rolling restarts, of a reloaded pool or on an operator's request. One worker at a
 * time: the next is restarted only once the replacement of the one before is running
 * (ready, where the pool has readiness), so a pool of N never has fewer than N-1 serving.
 * A replacement that cannot get there stops the roll, with the reason kept on the pool. */
#include "daemon/core/supervisor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/core/outlet.h"
#include "daemon/lib/log.h"

static void roll_changed(struct pool *p)
{
	struct core_change c = { .kind = CC_POOL_ROLL, .pool = p, .pool_name = p->cfg.name };

	core_changed(p->sup, &c);
}

/* The replacement of w exited or gave up before it ran: the roll stops here. */
static void roll_fail(struct pool *p, const struct worker *w)
{
	char why[512];

	snprintf(why, sizeof why, "%s is %s%s%s", w->name, fsm_wire_name(fsm_on_wire(w->state)),
	         w->last_error ? ": " : "", w->last_error ? w->last_error : "");
	free(p->roll.error);
	p->roll.error = strdup(why);
	snprintf(p->roll.culprit, sizeof p->roll.culprit, "%s", w->name);
	p->roll.active = false;
	log_err("pool %s: rolling restart stopped after %u of %u: %s", p->cfg.name, p->roll.done,
	        p->roll.total, why);
	roll_changed(p);
}

/* Where the replacement of w stands: 1 running since it was asked for, 0 on its way, -1
 * stopped short (exited and backing off, failed, or stopped). */
static int replacement(const struct pool *p, const struct worker *w)
{
	if (w->ready_seq > p->roll.since)
		return 1;
	switch (w->state) {
	case WS_RUNNING: /* not ready yet: its readiness probe has not said so */
	case WS_STOPPING:
	case WS_WAITING:
	case WS_SPAWNING:
	case WS_STARTING:
		return 0;
	default:
		return -1;
	}
}

void pool_roll(struct pool *p)
{
	while (p->roll.active) {
		struct worker *w = p->roll.index < p->n_slots ? p->workers[p->roll.index] : NULL;

		if (p->roll.index >= p->n_slots) {
			p->roll.active = false;
			log_info("pool %s: rolling restart done: %u workers replaced", p->cfg.name,
			         p->roll.done);
			roll_changed(p);
			return;
		}
		if (w && p->roll.started) {
			int r = replacement(p, w);

			if (r == 0)
				return; /* still on its way: this is called again on its next change */
			if (r < 0) {
				roll_fail(p, w);
				return;
			}
			p->roll.started = false;
			p->roll.index++;
			p->roll.done++;
			roll_changed(p);
			continue;
		}
		if (!w || w->removing || !w->want_running) {
			p->roll.index++; /* nothing of this slot runs: nothing to replace */
			continue;
		}
		p->roll.started = true;
		p->roll.since = p->sup->run_seq;
		worker_restart(w);
	}
}

void pool_start_rolling(struct pool *p, const char *why)
{
	unsigned total = 0;

	for (unsigned i = 0; i < p->n_slots; i++)
		if (p->workers[i] && !p->workers[i]->removing && p->workers[i]->want_running)
			total++;
	log_info("pool %s: rolling restart of %u workers (%s)", p->cfg.name, total, why);
	free(p->roll.error);
	p->roll = (struct pool_roll){ .active = true, .total = total,
	                              .reload = !strcmp(why, "reload") };
	roll_changed(p);
	pool_roll(p);
}
