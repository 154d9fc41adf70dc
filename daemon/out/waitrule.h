/* waitrule: what a parked request (start, restart, add, wait, ...) makes of one worker, as a
 * pure function of the worker's state and counters, so that it can be tested on its own. */
#ifndef LV_WAITRULE_H
#define LV_WAITRULE_H

#include <stdbool.h>
#include <stdint.h>

#define WS_BIT(s) (1u << (s))

struct wait_spec {
	unsigned ok_states;     /* WS_BIT mask every target worker must be in */
	unsigned fail_states;   /* a worker entering one of these ends the wait with an error */
	unsigned min_restarts;  /* and have restarted at least this often */
	unsigned timeout_ms;
	enum { REPLY_NAMES, REPLY_STATUS, REPLY_SCALE, REPLY_REMOVED } reply;
	bool gone_ok;           /* the target disappearing is what we wait for (remove) */
	bool pool_settled;      /* and the pool has no scaled-away workers left */
	bool ran_counts;        /* a worker that became running after ran_since is done, */
	uint64_t ran_since;     /* whatever its state now (start, restart, add) */
	bool made;              /* only: done once no worker's process is still being made
	                         * (start without wait: its pid shows in status) */
	bool roll;              /* only: done once the pool's rolling restart ends */
};

/* One worker as a waiter sees it: its state (enum worker_state), restarts, and the run
 * clock reading of its last arrival in running (0: never). */
struct wait_seen {
	unsigned state;
	unsigned restarts;
	uint64_t ran_seq;
};

enum wait_verdict { WAIT_PENDING, WAIT_DONE, WAIT_FAILED };

/* DONE when the worker satisfies spec; FAILED when it is in a fail state without having
 * satisfied it; PENDING otherwise. A start promises that the worker reached running since
 * the request: a worker that ran and died before the daemon looked still counts as done,
 * however slowly the daemon runs; one that failed without running since fails the start. */
enum wait_verdict wait_judge_worker(const struct wait_spec *spec, const struct wait_seen *w);

#endif
