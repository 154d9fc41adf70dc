/* fsm: the worker state machine (see fsm.h). Every rule of when a worker starts, stops,
 * backs off, fails or is killed is here, and only here; core/worker.c carries out steps. */
#include "daemon/core/fsm.h"

#include <string.h>

#include "daemon/core/policy.h"

static const char *const state_names[WS_COUNT] = {
	[WS_STOPPED] = "stopped", [WS_WAITING] = "starting", [WS_SPAWNING] = "starting",
	[WS_STARTING] = "starting", [WS_RUNNING] = "running", [WS_STOPPING] = "stopping",
	[WS_BACKOFF] = "backoff", [WS_FAILED] = "failed",
};

static const char *const inner_names[WS_COUNT] = {
	[WS_STOPPED] = "stopped", [WS_WAITING] = "waiting", [WS_SPAWNING] = "spawning",
	[WS_STARTING] = "starting", [WS_RUNNING] = "running", [WS_STOPPING] = "stopping",
	[WS_BACKOFF] = "backoff", [WS_FAILED] = "failed",
};

static const char *const input_names[FI_COUNT] = {
	[FI_START] = "start", [FI_STOP] = "stop", [FI_RESTART] = "restart",
	[FI_DEPS_READY] = "deps-ready", [FI_SPAWNED] = "spawned",
	[FI_SPAWN_FAILED] = "spawn-failed", [FI_READY] = "ready", [FI_EXITED] = "exited",
	[FI_TIMER] = "timer", [FI_HUNG] = "hung", [FI_FAULT] = "fault",
};

const char *fsm_wire_name(enum worker_state s)
{
	return (unsigned)s < WS_COUNT ? state_names[s] : "unknown";
}

const char *fsm_state_name(enum worker_state s)
{
	return (unsigned)s < WS_COUNT ? inner_names[s] : "unknown";
}

int fsm_from_wire_name(const char *name)
{
	for (int i = 0; i < WS_COUNT; i++)
		if ((int)fsm_on_wire(i) == i && strcmp(state_names[i], name) == 0)
			return i;
	return -1;
}

const char *fsm_input_name(enum fsm_input in)
{
	return (unsigned)in < FI_COUNT ? input_names[in] : "unknown";
}

static void arm(struct fsm_step *s, unsigned ms)
{
	s->actions |= FA_ARM_TIMER;
	s->delay_ms = ms;
}

/* Starts a process now unless the daemon drains, the pools it follows are not running yet,
 * or the start limit says it failed too often (a command that forgot failures passes). */
static void try_start(struct fsm_step *s, const struct fsm_facts *f, bool forgot)
{
	s->actions |= FA_CLEAR_TIMER;
	if (f->shutting_down) { /* a backoff or a roll must not outlive the shutdown */
		s->want_running = false;
		s->next = WS_STOPPED;
	} else if (!f->deps_ready) {
		s->next = WS_WAITING;
		s->actions |= FA_ERR_DEPS;
	} else if (f->start_limit_hit && !forgot) {
		s->want_running = false;
		s->next = WS_FAILED;
		s->actions |= FA_ERR_START_LIMIT;
	} else { /* the start timeout runs once the process exists (FI_SPAWNED) */
		s->next = WS_SPAWNING;
		s->actions |= FA_SPAWN;
		s->stop_requested = s->hung = false;
		s->fault = FSM_FAULT_NONE;
	}
}

static void forget_failures(struct fsm_step *s)
{
	s->actions |= FA_FORGET_FAILURES;
	s->quick_failures = 0;
}

static void request_stop(struct fsm_step *s, const struct fsm_facts *f)
{
	s->next = WS_STOPPING;
	s->stop_requested = true;
	s->actions |= FA_ASK_STOP | FA_DISARM_HANG;
	arm(s, f->stop_timeout_ms);
}

static bool has_live_process(enum worker_state state, const struct fsm_facts *f)
{
	return (state == WS_SPAWNING || state == WS_STARTING || state == WS_RUNNING) &&
	       f->has_process;
}

static void on_start(struct fsm_step *s, enum worker_state state, const struct fsm_facts *f)
{
	s->want_running = true;
	if (state == WS_STOPPED || state == WS_FAILED || state == WS_BACKOFF) {
		forget_failures(s);
		try_start(s, f, true);
	} /* waiting, spawning, starting, running: on its way; stopping: starts again at exit */
}

static void on_stop(struct fsm_step *s, enum worker_state state, const struct fsm_facts *f)
{
	s->want_running = false;
	if (state == WS_STOPPED || state == WS_STOPPING)
		return;
	if (has_live_process(state, f)) {
		request_stop(s, f); /* a process still being made gets the signal once it exists */
		return;
	}
	s->actions |= FA_CLEAR_TIMER; /* waiting, backoff, failed: nothing runs */
	s->next = WS_STOPPED;
}

static void on_restart(struct fsm_step *s, enum worker_state state, const struct fsm_facts *f)
{
	forget_failures(s);
	s->want_running = true;
	if (has_live_process(state, f))
		request_stop(s, f); /* the exit starts it again */
	else if (state != WS_STOPPING)
		try_start(s, f, true);
}

/* The process asked for exists: the start timeout counts from now. */
static void on_spawned(struct fsm_step *s, enum worker_state state, const struct fsm_facts *f)
{
	if (state != WS_SPAWNING)
		return; /* stopping: asked to stop while it was made, and it has been told */
	s->next = WS_STARTING;
	arm(s, f->start_timeout_ms);
}

/* The process could not be made: a stop asked for meanwhile is done; otherwise it counts
 * as a failed start. */
static void on_spawn_failed(struct fsm_step *s, enum worker_state state,
                            const struct fsm_facts *f)
{
	if (state == WS_STOPPING && (!f->want_running || f->shutting_down || f->removing)) {
		s->actions |= FA_CLEAR_TIMER;
		s->stop_requested = false;
		s->next = WS_STOPPED;
		return;
	}
	s->stop_requested = false;
	if (f->restart == LV_RESTART_NEVER) {
		s->want_running = false;
		s->next = WS_FAILED;
		s->actions |= FA_CLEAR_TIMER;
		return;
	}
	s->quick_failures = f->quick_failures + 1;
	s->next = WS_BACKOFF;
	arm(s, lv_backoff_ms(s->quick_failures));
}

/* A failed process starts again at once after a stable run, else after a backoff. */
static void restart_after_failure(struct fsm_step *s, const struct fsm_facts *f, bool quick)
{
	if ((s->quick_failures = quick ? f->quick_failures + 1 : 0) == 0) {
		try_start(s, f, false);
	} else {
		s->next = WS_BACKOFF;
		arm(s, lv_backoff_ms(s->quick_failures));
	}
}

/* An exit it was asked for ends in stopped or, for a restart, in a new start; an exit a
 * failed probe asked for is a failure whatever its status (a failed startup probe a failed
 * start); any other exit goes by the pool's restart policy, backing off after short runs. */
static void on_exited(struct fsm_step *s, const struct fsm_facts *f)
{
	s->actions |= FA_CLEAR_TIMER | FA_DISARM_HANG;
	s->stop_requested = s->hung = false;
	s->fault = FSM_FAULT_NONE;
	if (f->shutting_down || f->removing || !f->want_running) {
		s->next = WS_STOPPED;
	} else if (f->fault && f->restart == LV_RESTART_NEVER) {
		s->want_running = false;
		s->next = WS_FAILED;
	} else if (f->fault) {
		restart_after_failure(s, f, f->fault == FSM_FAULT_STARTUP || !f->stable_run);
	} else if (f->stop_requested) {
		try_start(s, f, false);
	} else if (!lv_should_restart(f->restart, f->exit_status)) {
		s->want_running = false;
		s->next = lv_exit_is_clean(f->exit_status) ? WS_STOPPED : WS_FAILED;
	} else {
		restart_after_failure(s, f, !f->stable_run);
	}
}

/* One timer per worker, whose meaning is the state it was armed in. */
static void on_timer(struct fsm_step *s, enum worker_state state, const struct fsm_facts *f)
{
	if (state == WS_BACKOFF)
		try_start(s, f, false);
	else if (!f->has_process)
		return;
	else if (f->hung || state == WS_STOPPING)
		s->actions |= FA_KILL; /* the abort's grace or the stop timeout is over */
	else if (state == WS_STARTING)
		s->actions |= FA_ERR_START_TIMEOUT | FA_KILL;
}

static void on_hung(struct fsm_step *s, enum worker_state state, const struct fsm_facts *f)
{
	if (!f->has_process || f->hung || (state != WS_RUNNING && state != WS_STARTING))
		return;
	s->hung = true;
	s->actions |= FA_ERR_HUNG | FA_ABORT;
	arm(s, FSM_HANG_KILL_GRACE_MS);
}

/* A fault (a failed startup or liveness probe, memory past memory_restart) stops the
 * process gracefully (its stop signal, then SIGKILL after stop_timeout_ms); its exit then
 * counts as a failure. */
static void on_fault(struct fsm_step *s, enum worker_state state, const struct fsm_facts *f)
{
	if (!f->has_process || f->hung || f->stop_requested || f->fault ||
	    (state != WS_STARTING && state != WS_RUNNING))
		return;
	s->fault = state == WS_STARTING ? FSM_FAULT_STARTUP : FSM_FAULT_LIVENESS;
	s->next = WS_STOPPING;
	s->actions |= FA_ERR_FAULT | FA_ASK_STOP | FA_DISARM_HANG;
	arm(s, f->stop_timeout_ms);
}

struct fsm_step fsm_step(enum worker_state state, enum fsm_input in, const struct fsm_facts *f)
{
	struct fsm_step s = {
		.next = state, .want_running = f->want_running, .quick_failures = f->quick_failures,
		.stop_requested = f->stop_requested, .hung = f->hung, .fault = f->fault,
	};

	switch (in) {
	case FI_START: on_start(&s, state, f); break;
	case FI_STOP: on_stop(&s, state, f); break;
	case FI_RESTART: on_restart(&s, state, f); break;
	case FI_DEPS_READY:
		if (state == WS_WAITING && f->want_running)
			try_start(&s, f, false);
		break;
	case FI_SPAWNED: on_spawned(&s, state, f); break;
	case FI_SPAWN_FAILED: on_spawn_failed(&s, state, f); break;
	case FI_READY:
		if (state == WS_STARTING && f->has_process) {
			s.next = WS_RUNNING;
			s.actions |= FA_CLEAR_TIMER | FA_ARM_HANG; /* the start timeout is over */
		}
		break;
	case FI_EXITED: on_exited(&s, f); break;
	case FI_TIMER: on_timer(&s, state, f); break;
	case FI_HUNG: on_hung(&s, state, f); break;
	case FI_FAULT: on_fault(&s, state, f); break;
	}
	return s;
}
