/* waitrule: the verdict of a parked request on one worker: done, failed or pending, from
 * its state, restart count and the run clock of its last arrival in running. */
#include "daemon/out/waitrule.h"

#include "daemon/core/fsm.h"

static bool ran_since_request(const struct wait_spec *spec, const struct wait_seen *w)
{
	return spec->ran_counts && w->ran_seq > spec->ran_since;
}

enum wait_verdict wait_judge_worker(const struct wait_spec *spec, const struct wait_seen *w)
{
	if (spec->made)
		return w->state == WS_SPAWNING ? WAIT_PENDING : WAIT_DONE;
	if (w->restarts >= spec->min_restarts &&
	    ((spec->ok_states & WS_BIT(fsm_on_wire(w->state))) ||
	     ran_since_request(spec, w)))
		return WAIT_DONE;
	if (spec->fail_states & WS_BIT(fsm_on_wire(w->state)))
		return WAIT_FAILED;
	return WAIT_PENDING;
}
