/* test_fsm: the worker state machine (daemon/core/fsm.c) as a table: every state times every
 * input with the usual facts, then the facts that change an outcome, one row each. */
#include <check.h>

#include "check_run.h"
#include <signal.h>
#include <stdio.h>

#include "daemon/core/fsm.h"
#include "daemon/core/policy.h"
#include "daemon/out/waitrule.h"

#define EXITED(code) ((code) << 8)
#define KILLED(sig) (sig)
#define START_MS 1000
#define STOP_MS 2000

/* The usual facts of a worker in state s that wants to run: a process in the states that
 * have one (or one being made), a stop asked for in stopping, an unexpected exit of code 1 after a short run. */
static struct fsm_facts usual(enum worker_state s)
{
	return (struct fsm_facts){
		.want_running = true, .has_process = s == WS_SPAWNING || s == WS_STARTING ||
		                                     s == WS_RUNNING || s == WS_STOPPING,
		.stop_requested = s == WS_STOPPING, .deps_ready = true, .restart = LV_RESTART_ALWAYS,
		.exit_status = EXITED(1), .start_timeout_ms = START_MS, .stop_timeout_ms = STOP_MS,
	};
}

#define SPAWNS (FA_CLEAR_TIMER | FA_SPAWN) /* the start timeout waits for FI_SPAWNED */
#define STOPS (FA_ASK_STOP | FA_DISARM_HANG | FA_ARM_TIMER)
#define EXIT (FA_CLEAR_TIMER | FA_DISARM_HANG)
#define NONE 0u

struct row {
	enum worker_state state;
	enum fsm_input in;
	enum worker_state next;
	unsigned actions;
	unsigned delay;    /* checked when FA_ARM_TIMER is among the actions */
	int want;          /* want_running after */
};

/* Every state x every input, with the usual facts. */
static const struct row grid[] = {
	{ WS_STOPPED, FI_START, WS_SPAWNING, FA_FORGET_FAILURES | SPAWNS, 0, 1 },
	{ WS_STOPPED, FI_STOP, WS_STOPPED, NONE, 0, 0 },
	{ WS_STOPPED, FI_RESTART, WS_SPAWNING, FA_FORGET_FAILURES | SPAWNS, 0, 1 },
	{ WS_STOPPED, FI_DEPS_READY, WS_STOPPED, NONE, 0, 1 },
	{ WS_STOPPED, FI_SPAWNED, WS_STOPPED, NONE, 0, 1 },
	{ WS_STOPPED, FI_SPAWN_FAILED, WS_BACKOFF, FA_ARM_TIMER, 100, 1 },
	{ WS_STOPPED, FI_READY, WS_STOPPED, NONE, 0, 1 },
	{ WS_STOPPED, FI_EXITED, WS_BACKOFF, EXIT | FA_ARM_TIMER, 100, 1 },
	{ WS_STOPPED, FI_TIMER, WS_STOPPED, NONE, 0, 1 },
	{ WS_STOPPED, FI_HUNG, WS_STOPPED, NONE, 0, 1 },
	{ WS_STOPPED, FI_FAULT, WS_STOPPED, NONE, 0, 1 },

	{ WS_WAITING, FI_START, WS_WAITING, NONE, 0, 1 },
	{ WS_WAITING, FI_STOP, WS_STOPPED, FA_CLEAR_TIMER, 0, 0 },
	{ WS_WAITING, FI_RESTART, WS_SPAWNING, FA_FORGET_FAILURES | SPAWNS, 0, 1 },
	{ WS_WAITING, FI_DEPS_READY, WS_SPAWNING, SPAWNS, 0, 1 },
	{ WS_WAITING, FI_SPAWNED, WS_WAITING, NONE, 0, 1 },
	{ WS_WAITING, FI_SPAWN_FAILED, WS_BACKOFF, FA_ARM_TIMER, 100, 1 },
	{ WS_WAITING, FI_READY, WS_WAITING, NONE, 0, 1 },
	{ WS_WAITING, FI_EXITED, WS_BACKOFF, EXIT | FA_ARM_TIMER, 100, 1 },
	{ WS_WAITING, FI_TIMER, WS_WAITING, NONE, 0, 1 },
	{ WS_WAITING, FI_HUNG, WS_WAITING, NONE, 0, 1 },
	{ WS_WAITING, FI_FAULT, WS_WAITING, NONE, 0, 1 },

	{ WS_SPAWNING, FI_START, WS_SPAWNING, NONE, 0, 1 },
	{ WS_SPAWNING, FI_STOP, WS_STOPPING, STOPS, STOP_MS, 0 },
	{ WS_SPAWNING, FI_RESTART, WS_STOPPING, FA_FORGET_FAILURES | STOPS, STOP_MS, 1 },
	{ WS_SPAWNING, FI_DEPS_READY, WS_SPAWNING, NONE, 0, 1 },
	{ WS_SPAWNING, FI_SPAWNED, WS_STARTING, FA_ARM_TIMER, START_MS, 1 },
	{ WS_SPAWNING, FI_SPAWN_FAILED, WS_BACKOFF, FA_ARM_TIMER, 100, 1 },
	{ WS_SPAWNING, FI_READY, WS_SPAWNING, NONE, 0, 1 },
	{ WS_SPAWNING, FI_EXITED, WS_BACKOFF, EXIT | FA_ARM_TIMER, 100, 1 },
	{ WS_SPAWNING, FI_TIMER, WS_SPAWNING, NONE, 0, 1 },
	{ WS_SPAWNING, FI_HUNG, WS_SPAWNING, NONE, 0, 1 },
	{ WS_SPAWNING, FI_FAULT, WS_SPAWNING, NONE, 0, 1 },

	{ WS_STARTING, FI_START, WS_STARTING, NONE, 0, 1 },
	{ WS_STARTING, FI_STOP, WS_STOPPING, STOPS, STOP_MS, 0 },
	{ WS_STARTING, FI_RESTART, WS_STOPPING, FA_FORGET_FAILURES | STOPS, STOP_MS, 1 },
	{ WS_STARTING, FI_DEPS_READY, WS_STARTING, NONE, 0, 1 },
	{ WS_STARTING, FI_SPAWNED, WS_STARTING, NONE, 0, 1 },
	{ WS_STARTING, FI_SPAWN_FAILED, WS_BACKOFF, FA_ARM_TIMER, 100, 1 },
	{ WS_STARTING, FI_READY, WS_RUNNING, FA_CLEAR_TIMER | FA_ARM_HANG, 0, 1 },
	{ WS_STARTING, FI_EXITED, WS_BACKOFF, EXIT | FA_ARM_TIMER, 100, 1 },
	{ WS_STARTING, FI_TIMER, WS_STARTING, FA_ERR_START_TIMEOUT | FA_KILL, 0, 1 },
	{ WS_STARTING, FI_HUNG, WS_STARTING, FA_ERR_HUNG | FA_ABORT | FA_ARM_TIMER,
	  FSM_HANG_KILL_GRACE_MS, 1 },
	{ WS_STARTING, FI_FAULT, WS_STOPPING, FA_ERR_FAULT | STOPS, STOP_MS, 1 },

	{ WS_RUNNING, FI_START, WS_RUNNING, NONE, 0, 1 },
	{ WS_RUNNING, FI_STOP, WS_STOPPING, STOPS, STOP_MS, 0 },
	{ WS_RUNNING, FI_RESTART, WS_STOPPING, FA_FORGET_FAILURES | STOPS, STOP_MS, 1 },
	{ WS_RUNNING, FI_DEPS_READY, WS_RUNNING, NONE, 0, 1 },
	{ WS_RUNNING, FI_SPAWNED, WS_RUNNING, NONE, 0, 1 },
	{ WS_RUNNING, FI_SPAWN_FAILED, WS_BACKOFF, FA_ARM_TIMER, 100, 1 },
	{ WS_RUNNING, FI_READY, WS_RUNNING, NONE, 0, 1 },
	{ WS_RUNNING, FI_EXITED, WS_BACKOFF, EXIT | FA_ARM_TIMER, 100, 1 },
	{ WS_RUNNING, FI_TIMER, WS_RUNNING, NONE, 0, 1 },
	{ WS_RUNNING, FI_HUNG, WS_RUNNING, FA_ERR_HUNG | FA_ABORT | FA_ARM_TIMER,
	  FSM_HANG_KILL_GRACE_MS, 1 },
	{ WS_RUNNING, FI_FAULT, WS_STOPPING, FA_ERR_FAULT | STOPS, STOP_MS, 1 },

	{ WS_STOPPING, FI_START, WS_STOPPING, NONE, 0, 1 },
	{ WS_STOPPING, FI_STOP, WS_STOPPING, NONE, 0, 0 },
	{ WS_STOPPING, FI_RESTART, WS_STOPPING, FA_FORGET_FAILURES, 0, 1 },
	{ WS_STOPPING, FI_DEPS_READY, WS_STOPPING, NONE, 0, 1 },
	{ WS_STOPPING, FI_SPAWNED, WS_STOPPING, NONE, 0, 1 }, /* told to stop as made */
	{ WS_STOPPING, FI_SPAWN_FAILED, WS_BACKOFF, FA_ARM_TIMER, 100, 1 },
	{ WS_STOPPING, FI_READY, WS_STOPPING, NONE, 0, 1 },
	{ WS_STOPPING, FI_EXITED, WS_SPAWNING, EXIT | SPAWNS, 0, 1 }, /* a restart */
	{ WS_STOPPING, FI_TIMER, WS_STOPPING, FA_KILL, 0, 1 },
	{ WS_STOPPING, FI_HUNG, WS_STOPPING, NONE, 0, 1 },
	{ WS_STOPPING, FI_FAULT, WS_STOPPING, NONE, 0, 1 },

	{ WS_BACKOFF, FI_START, WS_SPAWNING, FA_FORGET_FAILURES | SPAWNS, 0, 1 },
	{ WS_BACKOFF, FI_STOP, WS_STOPPED, FA_CLEAR_TIMER, 0, 0 },
	{ WS_BACKOFF, FI_RESTART, WS_SPAWNING, FA_FORGET_FAILURES | SPAWNS, 0, 1 },
	{ WS_BACKOFF, FI_DEPS_READY, WS_BACKOFF, NONE, 0, 1 },
	{ WS_BACKOFF, FI_SPAWNED, WS_BACKOFF, NONE, 0, 1 },
	{ WS_BACKOFF, FI_SPAWN_FAILED, WS_BACKOFF, FA_ARM_TIMER, 100, 1 },
	{ WS_BACKOFF, FI_READY, WS_BACKOFF, NONE, 0, 1 },
	{ WS_BACKOFF, FI_EXITED, WS_BACKOFF, EXIT | FA_ARM_TIMER, 100, 1 },
	{ WS_BACKOFF, FI_TIMER, WS_SPAWNING, SPAWNS, 0, 1 },
	{ WS_BACKOFF, FI_HUNG, WS_BACKOFF, NONE, 0, 1 },
	{ WS_BACKOFF, FI_FAULT, WS_BACKOFF, NONE, 0, 1 },

	{ WS_FAILED, FI_START, WS_SPAWNING, FA_FORGET_FAILURES | SPAWNS, 0, 1 },
	{ WS_FAILED, FI_STOP, WS_STOPPED, FA_CLEAR_TIMER, 0, 0 },
	{ WS_FAILED, FI_RESTART, WS_SPAWNING, FA_FORGET_FAILURES | SPAWNS, 0, 1 },
	{ WS_FAILED, FI_DEPS_READY, WS_FAILED, NONE, 0, 1 },
	{ WS_FAILED, FI_SPAWNED, WS_FAILED, NONE, 0, 1 },
	{ WS_FAILED, FI_SPAWN_FAILED, WS_BACKOFF, FA_ARM_TIMER, 100, 1 },
	{ WS_FAILED, FI_READY, WS_FAILED, NONE, 0, 1 },
	{ WS_FAILED, FI_EXITED, WS_BACKOFF, EXIT | FA_ARM_TIMER, 100, 1 },
	{ WS_FAILED, FI_TIMER, WS_FAILED, NONE, 0, 1 },
	{ WS_FAILED, FI_HUNG, WS_FAILED, NONE, 0, 1 },
	{ WS_FAILED, FI_FAULT, WS_FAILED, NONE, 0, 1 },
};

static void check_row(const struct row *r, const struct fsm_facts *f, const char *what)
{
	struct fsm_step s = fsm_step(r->state, r->in, f);
	char where[160];

	snprintf(where, sizeof where, "%s: %s + %s", what, fsm_state_name(r->state),
	         fsm_input_name(r->in));
	ck_assert_msg(s.next == r->next, "%s: next %s, not %s", where, fsm_state_name(s.next),
	              fsm_state_name(r->next));
	ck_assert_msg(s.actions == r->actions, "%s: actions %#x, not %#x", where, s.actions,
	              r->actions);
	if (r->actions & FA_ARM_TIMER)
		ck_assert_msg(s.delay_ms == r->delay, "%s: delay %u, not %u", where, s.delay_ms,
		              r->delay);
	ck_assert_msg(s.want_running == (r->want != 0), "%s: want_running %d", where,
	              s.want_running);
}

START_TEST(every_state_and_input)
{
	struct fsm_facts f = usual(grid[_i].state);

	check_row(&grid[_i], &f, "grid");
}
END_TEST

START_TEST(the_grid_is_whole)
{
	unsigned seen[WS_COUNT][FI_COUNT] = { { 0 } };

	for (size_t i = 0; i < sizeof grid / sizeof grid[0]; i++)
		seen[grid[i].state][grid[i].in]++;
	for (int s = 0; s < WS_COUNT; s++)
		for (int in = 0; in < FI_COUNT; in++)
			ck_assert_msg(seen[s][in] == 1, "%s + %s: %u rows", fsm_state_name(s),
			              fsm_input_name(in), seen[s][in]);
}
END_TEST

/* The facts that change an outcome, each against the usual facts of its row's state. */
struct variant {
	const char *what;
	struct row r;
	void (*tweak)(struct fsm_facts *f);
};

static void deps_not_ready(struct fsm_facts *f) { f->deps_ready = false; }
static void draining(struct fsm_facts *f) { f->shutting_down = true; }
static void limit_hit(struct fsm_facts *f) { f->start_limit_hit = true; }
static void stable(struct fsm_facts *f) { f->stable_run = true; }
static void stable_but_deps_not_ready(struct fsm_facts *f)
{
	f->stable_run = true;
	f->deps_ready = false;
}
static void stable_but_limit_hit(struct fsm_facts *f)
{
	f->stable_run = true;
	f->start_limit_hit = true;
}
static void third_quick_failure(struct fsm_facts *f) { f->quick_failures = 3; }
static void on_failure_clean(struct fsm_facts *f)
{
	f->restart = LV_RESTART_ON_FAILURE;
	f->exit_status = EXITED(0);
}
static void on_failure_term(struct fsm_facts *f)
{
	f->restart = LV_RESTART_ON_FAILURE;
	f->exit_status = KILLED(SIGTERM);
}
static void on_failure_crash(struct fsm_facts *f)
{
	f->restart = LV_RESTART_ON_FAILURE;
	f->exit_status = KILLED(SIGSEGV);
}
static void never(struct fsm_facts *f) { f->restart = LV_RESTART_NEVER; }
static void never_clean(struct fsm_facts *f)
{
	f->restart = LV_RESTART_NEVER;
	f->exit_status = EXITED(0);
}
static void unwanted(struct fsm_facts *f) { f->want_running = false; }
static void scaled_away(struct fsm_facts *f) { f->removing = true; }
static void hung(struct fsm_facts *f) { f->hung = true; }
static void no_process(struct fsm_facts *f) { f->has_process = false; }
static void asked(struct fsm_facts *f) { f->stop_requested = true; }
static void startup_probe_failed(struct fsm_facts *f)
{
	f->stop_requested = false;
	f->fault = FSM_FAULT_STARTUP;
	f->stable_run = true;
}
static void liveness_failed_clean(struct fsm_facts *f)
{
	f->stop_requested = false;
	f->fault = FSM_FAULT_LIVENESS;
	f->stable_run = true;
	f->restart = LV_RESTART_ON_FAILURE;
	f->exit_status = EXITED(0);
}
static void liveness_failed_quickly(struct fsm_facts *f)
{
	f->stop_requested = false;
	f->fault = FSM_FAULT_LIVENESS;
}
static void liveness_failed_never(struct fsm_facts *f)
{
	liveness_failed_clean(f);
	f->restart = LV_RESTART_NEVER;
}

static const struct variant variants[] = {
	{ "after: not ready", { WS_STOPPED, FI_START, WS_WAITING,
	  FA_FORGET_FAILURES | FA_CLEAR_TIMER | FA_ERR_DEPS, 0, 1 }, deps_not_ready },
	{ "after: still not ready", { WS_WAITING, FI_DEPS_READY, WS_WAITING,
	  FA_CLEAR_TIMER | FA_ERR_DEPS, 0, 1 }, deps_not_ready },
	{ "after: a stable exit waits", { WS_RUNNING, FI_EXITED, WS_WAITING,
	  EXIT | FA_ERR_DEPS, 0, 1 }, stable_but_deps_not_ready },
	{ "a stopped worker is not resumed", { WS_WAITING, FI_DEPS_READY, WS_WAITING, NONE, 0, 0 },
	  unwanted },
	{ "shutdown: a backoff ends stopped", { WS_BACKOFF, FI_TIMER, WS_STOPPED,
	  FA_CLEAR_TIMER, 0, 0 }, draining },
	{ "shutdown: an exit ends stopped", { WS_RUNNING, FI_EXITED, WS_STOPPED, EXIT, 0, 1 },
	  draining },
	{ "shutdown: no start", { WS_STOPPED, FI_START, WS_STOPPED,
	  FA_FORGET_FAILURES | FA_CLEAR_TIMER, 0, 0 }, draining },
	{ "start limit: the retry fails", { WS_BACKOFF, FI_TIMER, WS_FAILED,
	  FA_CLEAR_TIMER | FA_ERR_START_LIMIT, 0, 0 }, limit_hit },
	{ "start limit: a stable exit fails", { WS_RUNNING, FI_EXITED, WS_FAILED,
	  EXIT | FA_ERR_START_LIMIT, 0, 0 }, stable_but_limit_hit },
	{ "start limit: a command forgets it", { WS_FAILED, FI_START, WS_SPAWNING,
	  FA_FORGET_FAILURES | SPAWNS, 0, 1 }, limit_hit },
	{ "start limit: so does a restart", { WS_FAILED, FI_RESTART, WS_SPAWNING,
	  FA_FORGET_FAILURES | SPAWNS, 0, 1 }, limit_hit },
	{ "a stable run restarts at once", { WS_RUNNING, FI_EXITED, WS_SPAWNING, EXIT | SPAWNS,
	  0, 1 }, stable },
	{ "backoff doubles", { WS_RUNNING, FI_EXITED, WS_BACKOFF, EXIT | FA_ARM_TIMER, 800, 1 },
	  third_quick_failure },
	{ "on-failure: code 0 is clean", { WS_RUNNING, FI_EXITED, WS_STOPPED, EXIT, 0, 0 },
	  on_failure_clean },
	{ "on-failure: SIGTERM is clean", { WS_RUNNING, FI_EXITED, WS_STOPPED, EXIT, 0, 0 },
	  on_failure_term },
	{ "on-failure: a crash restarts", { WS_RUNNING, FI_EXITED, WS_BACKOFF,
	  EXIT | FA_ARM_TIMER, 100, 1 }, on_failure_crash },
	{ "never: a failure fails", { WS_RUNNING, FI_EXITED, WS_FAILED, EXIT, 0, 0 }, never },
	{ "never: a clean exit stops", { WS_RUNNING, FI_EXITED, WS_STOPPED, EXIT, 0, 0 },
	  never_clean },
	{ "never: no spawn, no retry", { WS_STOPPED, FI_SPAWN_FAILED, WS_FAILED, FA_CLEAR_TIMER,
	  0, 0 }, never },
	{ "never: a process not made fails", { WS_SPAWNING, FI_SPAWN_FAILED, WS_FAILED,
	  FA_CLEAR_TIMER, 0, 0 }, never },
	{ "stopped while made, and not made: stopped", { WS_STOPPING, FI_SPAWN_FAILED, WS_STOPPED,
	  FA_CLEAR_TIMER, 0, 0 }, unwanted },
	{ "scaled away while made, and not made: gone", { WS_STOPPING, FI_SPAWN_FAILED,
	  WS_STOPPED, FA_CLEAR_TIMER, 0, 1 }, scaled_away },
	{ "stopped by command stays stopped", { WS_STOPPING, FI_EXITED, WS_STOPPED, EXIT, 0, 0 },
	  unwanted },
	{ "scaled away: gone at its exit", { WS_STOPPING, FI_EXITED, WS_STOPPED, EXIT, 0, 1 },
	  scaled_away },
	{ "hung: killed when the grace is over", { WS_RUNNING, FI_TIMER, WS_RUNNING, FA_KILL,
	  0, 1 }, hung },
	{ "hung: aborted once", { WS_RUNNING, FI_HUNG, WS_RUNNING, NONE, 0, 1 }, hung },
	{ "no process: nothing to stop", { WS_STARTING, FI_STOP, WS_STOPPED, FA_CLEAR_TIMER, 0,
	  0 }, no_process },
	{ "no process: no readiness", { WS_STARTING, FI_READY, WS_STARTING, NONE, 0, 1 },
	  no_process },
	{ "no process: no timeout", { WS_STARTING, FI_TIMER, WS_STARTING, NONE, 0, 1 },
	  no_process },
	{ "an asked exit of a runner restarts", { WS_RUNNING, FI_EXITED, WS_SPAWNING,
	  EXIT | SPAWNS, 0, 1 }, asked },
	{ "startup probe: a failed start, however long", { WS_STOPPING, FI_EXITED, WS_BACKOFF,
	  EXIT | FA_ARM_TIMER, 100, 1 }, startup_probe_failed },
	{ "liveness: a clean exit still restarts, at once after a stable run", { WS_STOPPING,
	  FI_EXITED, WS_SPAWNING, EXIT | SPAWNS, 0, 1 }, liveness_failed_clean },
	{ "liveness: a short run backs off", { WS_STOPPING, FI_EXITED, WS_BACKOFF,
	  EXIT | FA_ARM_TIMER, 100, 1 }, liveness_failed_quickly },
	{ "liveness, never: failed", { WS_STOPPING, FI_EXITED, WS_FAILED, EXIT, 0, 0 },
	  liveness_failed_never },
	{ "a hung process is not also probed out", { WS_RUNNING, FI_FAULT, WS_RUNNING,
	  NONE, 0, 1 }, hung },
	{ "no process: no probe stop", { WS_RUNNING, FI_FAULT, WS_RUNNING, NONE, 0, 1 },
	  no_process },
};

START_TEST(facts_that_change_the_outcome)
{
	const struct variant *v = &variants[_i];
	struct fsm_facts f = usual(v->r.state);

	v->tweak(&f);
	check_row(&v->r, &f, v->what);
}
END_TEST

/* What the step carries besides the state: the failure count, and the per-process flags. */
START_TEST(counts_and_flags_follow_the_step)
{
	struct fsm_facts f = usual(WS_RUNNING);
	struct fsm_step s;

	f.quick_failures = 2;
	s = fsm_step(WS_RUNNING, FI_EXITED, &f);
	ck_assert_uint_eq(s.quick_failures, 3);
	ck_assert(!s.stop_requested && !s.hung);
	f.stable_run = true;
	ck_assert_uint_eq(fsm_step(WS_RUNNING, FI_EXITED, &f).quick_failures, 0);
	ck_assert_uint_eq(fsm_step(WS_FAILED, FI_START, &f).quick_failures, 0);
	ck_assert_uint_eq(fsm_step(WS_BACKOFF, FI_SPAWN_FAILED, &f).quick_failures, 3);
	s = fsm_step(WS_RUNNING, FI_STOP, &f);
	ck_assert(s.stop_requested);
	s = fsm_step(WS_RUNNING, FI_HUNG, &f);
	ck_assert(s.hung);
	f.hung = false;
	s = fsm_step(WS_RUNNING, FI_FAULT, &f);
	ck_assert(s.fault == FSM_FAULT_LIVENESS && !s.stop_requested);
	s = fsm_step(WS_STARTING, FI_FAULT, &f);
	ck_assert(s.fault == FSM_FAULT_STARTUP);
	f.fault = FSM_FAULT_LIVENESS;
	ck_assert(fsm_step(WS_STOPPING, FI_EXITED, &f).fault == FSM_FAULT_NONE);
	f.hung = true;
	s = fsm_step(WS_BACKOFF, FI_TIMER, &f);
	ck_assert(!s.hung && !s.stop_requested && !s.fault); /* a new process starts clean */
}
END_TEST

START_TEST(state_names_round_trip)
{
	for (int s = 0; s < WS_COUNT; s++)
		ck_assert_int_eq(fsm_from_wire_name(fsm_wire_name(s)),
		                 fsm_on_wire(s));
	ck_assert_int_eq(fsm_from_wire_name("sleeping"), -1);
	ck_assert_int_eq(fsm_from_wire_name("waiting"), -1); /* not a word of the wire */
	ck_assert_str_eq(fsm_wire_name(WS_WAITING), "starting");
	ck_assert_str_eq(fsm_state_name(WS_WAITING), "waiting");
	ck_assert_str_eq(fsm_wire_name(WS_BACKOFF), "backoff");
	ck_assert_str_eq(fsm_wire_name(WS_SPAWNING), "starting");
	ck_assert_str_eq(fsm_state_name(WS_SPAWNING), "spawning");
}
END_TEST

/* A start without wait answers once the processes it asked for exist: their pids show. */
START_TEST(a_start_without_wait_waits_for_its_processes_only)
{
	struct wait_spec made = { .made = true };
	struct wait_seen seen = { .state = WS_SPAWNING };

	ck_assert_int_eq(wait_judge_worker(&made, &seen), WAIT_PENDING);
	seen.state = WS_STARTING;
	ck_assert_int_eq(wait_judge_worker(&made, &seen), WAIT_DONE);
	seen.state = WS_WAITING; /* held back by its "after" pools: no process to wait for */
	ck_assert_int_eq(wait_judge_worker(&made, &seen), WAIT_DONE);
	seen.state = WS_BACKOFF; /* its process could not be made */
	ck_assert_int_eq(wait_judge_worker(&made, &seen), WAIT_DONE);
}
END_TEST

/* A request waiting for "starting" sees a waiting worker as one; a start that waits for
 * running is still pending while the worker waits for its "after" pools. */
START_TEST(waiting_is_starting_to_parked_requests)
{
	struct wait_spec starting = { .ok_states = WS_BIT(WS_STARTING) };
	struct wait_spec start = { .ok_states = WS_BIT(WS_RUNNING), .fail_states = WS_BIT(WS_FAILED),
	                           .ran_counts = true };
	struct wait_seen seen = { .state = WS_WAITING };

	ck_assert_int_eq(wait_judge_worker(&starting, &seen), WAIT_DONE);
	ck_assert_int_eq(wait_judge_worker(&start, &seen), WAIT_PENDING);
	seen.ran_seq = 1; /* it ran since the request, and waits again now */
	ck_assert_int_eq(wait_judge_worker(&start, &seen), WAIT_DONE);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("fsm");
	TCase *tc = tcase_create("table");

	tcase_add_loop_test(tc, every_state_and_input, 0, (int)(sizeof grid / sizeof grid[0]));
	tcase_add_test(tc, a_start_without_wait_waits_for_its_processes_only);
	tcase_add_test(tc, the_grid_is_whole);
	tcase_add_loop_test(tc, facts_that_change_the_outcome, 0,
	                    (int)(sizeof variants / sizeof variants[0]));
	tcase_add_test(tc, counts_and_flags_follow_the_step);
	tcase_add_test(tc, state_names_round_trip);
	tcase_add_test(tc, waiting_is_starting_to_parked_requests);
	suite_add_tcase(su, tc);
	return lv_check_run(su);
}
