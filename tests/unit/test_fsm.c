/* test_fsm: the worker state machine in daemon/core/worker.c, with the process layer stubbed:
 * commands and exits in, states, backoff timers, start limits and signals out. */
#include <check.h>

#include "check_run.h"
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "daemon/core/deps.h"
#include "daemon/out/events.h"
#include "daemon/control/inspect.h"
#include "daemon/proc/output.h"
#include "daemon/out/systemd.h"
#include "daemon/core/supervisor.h"
#include "daemon/out/waitrule.h"

#define EXITED(code) ((code) << 8)
#define KILLED(sig) (sig)

/* ---- the process layer, stubbed ---- */
static int spawn_fail, spawns, asked_stop, last_kill_sig, last_kill_group, notifies;
static pid_t next_pid = 1000;

int worker_spawn(struct worker *w)
{
	if (spawn_fail) {
		worker_set_error(w, "fork: Resource temporarily unavailable");
		return -1;
	}
	spawns++;
	w->pid = next_pid++;
	w->started_ms = lv_now_ms();
	if (w->spawns++ > 0)
		w->restarts++;
	w->pool->sup->live++;
	return 0;
}

void worker_close_process(struct worker *w) { (void)w; }
void worker_close_error(struct worker *w) { (void)w; }
void worker_drain_error(struct worker *w) { (void)w; }
void worker_ask_stop(struct worker *w) { (void)w; asked_stop++; }
void pool_changed(struct pool *pool)
{
	(void)pool;
	notifies++;
}

void events_worker(struct supervisor *s, enum lv_event ev, const struct worker *wk, json_t *extra)
{
	(void)s;
	(void)ev;
	(void)wk;
	json_decref(extra);
}

json_t *exit_status_json(int status)
{
	return json_pack("{s:i}", "status", status);
}

bool deps_ready(struct supervisor *s, const struct pool *p, char *why, size_t len)
{
	(void)s;
	(void)p;
	(void)why;
	(void)len;
	return true;
}

void logs_drain(struct worker *wk)
{
	(void)wk;
}

void logs_free_worker(struct worker *wk)
{
	(void)wk;
}

void inspect_worker_gone(struct supervisor *s, const struct worker *wk, const char *why)
{
	(void)s;
	(void)wk;
	(void)why;
}

void service_worker_changed(struct supervisor *s)
{
	(void)s;
}

void pool_roll(struct pool *p)
{
	(void)p;
}

int worker_kill(struct worker *w, int sig, bool group)
{
	(void)w;
	last_kill_sig = sig;
	last_kill_group = group;
	return 0;
}

/* ---- fixture ---- */
static struct supervisor sup;
static struct pool pool;
static struct worker *w;

static void teardown(void);

/* (Re)creates the fixture with another policy; a test may call it again. */
static void setup_policy(enum lv_restart restart, unsigned burst)
{
	teardown();
	memset(&sup, 0, sizeof sup);
	memset(&pool, 0, sizeof pool);
	spawn_fail = spawns = asked_stop = last_kill_sig = last_kill_group = notifies = 0;
	sup.base = event_base_new();
	pool.sup = &sup;
	strcpy(pool.cfg.name, "p");
	pool.cfg.workers = 1;
	pool.cfg.restart = restart;
	pool.cfg.stop_signal = SIGTERM;
	pool.cfg.stop_timeout_ms = 50;
	pool.cfg.start_limit_burst = burst;
	pool.cfg.start_limit_interval_ms = 60000;
	w = worker_new(&pool, 0);
	ck_assert_ptr_nonnull(w);
}

static void setup(void)
{
	setup_policy(LV_RESTART_ALWAYS, 5);
}

static void teardown(void)
{
	worker_free(w);
	w = NULL;
	if (sup.base)
		event_base_free(sup.base);
	sup.base = NULL;
}

/* The reaper's part: the process is gone with status. */
static void exit_with(int status)
{
	worker_exited(w, status);
}

static void run_timers(void)
{
	event_base_loop(sup.base, EVLOOP_ONCE);
}

START_TEST(start_ready_running)
{
	ck_assert_int_eq(w->state, WS_STOPPED);
	worker_start(w);
	ck_assert_int_eq(w->state, WS_STARTING);
	ck_assert_int_eq(spawns, 1);
	worker_ready(w);
	ck_assert_int_eq(w->state, WS_RUNNING);
	ck_assert_uint_eq(pool.running, 1);
	ck_assert_int_gt(notifies, 0);
	/* a second start is a no-op */
	worker_start(w);
	ck_assert_int_eq(spawns, 1);
}
END_TEST

START_TEST(stop_asks_then_kills_the_group)
{
	worker_start(w);
	worker_ready(w);
	worker_stop(w);
	ck_assert_int_eq(w->state, WS_STOPPING);
	ck_assert_int_eq(asked_stop, 1);
	ck_assert_uint_eq(pool.running, 0);
	run_timers(); /* the 50 ms stop timeout */
	ck_assert_int_eq(last_kill_sig, SIGKILL);
	ck_assert(last_kill_group);
	exit_with(KILLED(SIGKILL));
	ck_assert_int_eq(w->state, WS_STOPPED);
	ck_assert(!w->want_running);
	ck_assert_int_eq(spawns, 1);
}
END_TEST

START_TEST(stable_run_restarts_at_once)
{
	worker_start(w);
	worker_ready(w);
	w->started_ms -= 5000; /* it ran for five seconds */
	exit_with(KILLED(SIGKILL));
	ck_assert_int_eq(w->state, WS_STARTING);
	ck_assert_int_eq(spawns, 2);
	ck_assert_uint_eq(w->restarts, 1);
}
END_TEST

START_TEST(quick_failures_back_off)
{
	worker_start(w);
	exit_with(EXITED(1));
	ck_assert_int_eq(w->state, WS_BACKOFF);
	ck_assert_uint_eq(w->quick_failures, 1);
	run_timers(); /* 100 ms */
	ck_assert_int_eq(w->state, WS_STARTING);
	exit_with(EXITED(1));
	ck_assert_int_eq(w->state, WS_BACKOFF);
	ck_assert_uint_eq(w->quick_failures, 2);
	/* stop during backoff: no further start */
	worker_stop(w);
	ck_assert_int_eq(w->state, WS_STOPPED);
	ck_assert_int_eq(spawns, 2);
}
END_TEST

START_TEST(start_limit_fails_until_explicit_start)
{
	setup_policy(LV_RESTART_ALWAYS, 2);
	worker_start(w);
	exit_with(EXITED(1));
	run_timers();
	ck_assert_int_eq(spawns, 2);
	exit_with(EXITED(1));
	run_timers(); /* the third start would exceed burst 2 */
	ck_assert_int_eq(w->state, WS_FAILED);
	ck_assert_ptr_nonnull(strstr(w->last_error, "start limit hit: 2 starts within 60000 ms"));
	ck_assert_int_eq(spawns, 2);
	worker_start(w);
	ck_assert_int_eq(w->state, WS_STARTING);
	ck_assert_int_eq(spawns, 3);
}
END_TEST

START_TEST(on_failure_and_never)
{
	setup_policy(LV_RESTART_ON_FAILURE, 5);
	worker_start(w);
	exit_with(EXITED(0));
	ck_assert_int_eq(w->state, WS_STOPPED);
	worker_start(w);
	exit_with(KILLED(SIGSEGV));
	ck_assert_int_eq(w->state, WS_BACKOFF);

	setup_policy(LV_RESTART_NEVER, 5);
	worker_start(w);
	exit_with(EXITED(2));
	ck_assert_int_eq(w->state, WS_FAILED);
	worker_start(w);
	exit_with(EXITED(0));
	ck_assert_int_eq(w->state, WS_STOPPED);
	ck_assert_int_eq(spawns, 2);
}
END_TEST

START_TEST(restart_stops_then_starts)
{
	worker_start(w);
	worker_ready(w);
	worker_restart(w);
	ck_assert_int_eq(w->state, WS_STOPPING);
	exit_with(KILLED(SIGTERM));
	ck_assert_int_eq(w->state, WS_STARTING);
	ck_assert_int_eq(spawns, 2);
}
END_TEST

START_TEST(spawn_failure_backs_off)
{
	spawn_fail = 1;
	worker_start(w);
	ck_assert_int_eq(w->state, WS_BACKOFF);
	ck_assert_str_eq(w->last_error, "fork: Resource temporarily unavailable");
	spawn_fail = 0;
	run_timers();
	ck_assert_int_eq(w->state, WS_STARTING);
	worker_ready(w);
	/* the error stays until the next exit tells its own story */
	ck_assert_str_eq(w->last_error, "fork: Resource temporarily unavailable");
	exit_with(EXITED(0));
	ck_assert_ptr_null(w->last_error);
}
END_TEST

START_TEST(shutdown_never_restarts)
{
	worker_start(w);
	worker_ready(w);
	sup.shutting_down = true;
	exit_with(KILLED(SIGKILL));
	ck_assert_int_eq(w->state, WS_STOPPED);
	ck_assert_int_eq(spawns, 1);
}
END_TEST

START_TEST(state_names_round_trip)
{
	for (int s = 0; s < WS_COUNT; s++)
		ck_assert_int_eq(worker_state_from_name(worker_state_name(s)), s);
	ck_assert_int_eq(worker_state_from_name("sleeping"), -1);
	ck_assert_str_eq(worker_state_name(WS_BACKOFF), "backoff");
}
END_TEST

/* The run clock: a worker that became running and died before the daemon judged its
 * waiters still satisfies a start made before it ran; one that never ran does not. */
START_TEST(run_clock_remembers_a_run_nobody_saw)
{
	struct wait_spec start = { .ok_states = WS_BIT(WS_RUNNING), .fail_states = WS_BIT(WS_FAILED),
	                           .ran_counts = true };
	struct wait_seen seen;

	setup_policy(LV_RESTART_ALWAYS, 1);
	start.ran_since = sup.run_seq;
	worker_start(w);
	worker_ready(w);
	exit_with(EXITED(1));
	ck_assert_int_eq(w->state, WS_BACKOFF);
	ck_assert_uint_gt(w->ran_seq, start.ran_since);
	seen = (struct wait_seen){ .state = w->state, .restarts = w->restarts, .ran_seq = w->ran_seq };
	ck_assert_int_eq(wait_judge_worker(&start, &seen), WAIT_DONE);
	run_timers(); /* the retry hits the start limit (burst 1) */
	ck_assert_int_eq(w->state, WS_FAILED);
	seen.state = w->state;
	ck_assert_int_eq(wait_judge_worker(&start, &seen), WAIT_DONE);
	/* the next start: it fails before it runs, and the earlier run no longer counts */
	start.ran_since = sup.run_seq;
	worker_start(w);
	exit_with(EXITED(127));
	run_timers();
	ck_assert_int_eq(w->state, WS_FAILED);
	seen = (struct wait_seen){ .state = w->state, .restarts = w->restarts, .ran_seq = w->ran_seq };
	ck_assert_int_eq(wait_judge_worker(&start, &seen), WAIT_FAILED);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("fsm");
	TCase *tc = tcase_create("worker");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, start_ready_running);
	tcase_add_test(tc, stop_asks_then_kills_the_group);
	tcase_add_test(tc, stable_run_restarts_at_once);
	tcase_add_test(tc, quick_failures_back_off);
	tcase_add_test(tc, start_limit_fails_until_explicit_start);
	tcase_add_test(tc, on_failure_and_never);
	tcase_add_test(tc, restart_stops_then_starts);
	tcase_add_test(tc, spawn_failure_backs_off);
	tcase_add_test(tc, shutdown_never_restarts);
	tcase_add_test(tc, state_names_round_trip);
	tcase_add_test(tc, run_clock_remembers_a_run_nobody_saw);
	suite_add_tcase(su, tc);
	return lv_check_run(su);
}
