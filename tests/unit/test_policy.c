/* test_policy: restart decisions, backoff arithmetic, the start-limit window, the pid table
 * and the waiters' verdicts: the pure parts of the supervisor, driven with made-up values. */
#include <check.h>

#include "check_run.h"
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "daemon/lib/pidmap.h"
#include "daemon/core/policy.h"
#include "daemon/core/supervisor.h"
#include "daemon/out/waitrule.h"

/* waitpid-style statuses without running anything */
#define EXITED(code) ((code) << 8)
#define KILLED(sig) (sig)

START_TEST(clean_exits)
{
	ck_assert(lv_exit_is_clean(EXITED(0)));
	ck_assert(!lv_exit_is_clean(EXITED(1)));
	ck_assert(lv_exit_is_clean(KILLED(SIGTERM)));
	ck_assert(lv_exit_is_clean(KILLED(SIGINT)));
	ck_assert(!lv_exit_is_clean(KILLED(SIGKILL)));
	ck_assert(!lv_exit_is_clean(KILLED(SIGSEGV)));
}
END_TEST

START_TEST(restart_policies)
{
	ck_assert(lv_should_restart(LV_RESTART_ALWAYS, EXITED(0)));
	ck_assert(lv_should_restart(LV_RESTART_ALWAYS, KILLED(SIGKILL)));
	ck_assert(!lv_should_restart(LV_RESTART_ON_FAILURE, EXITED(0)));
	ck_assert(lv_should_restart(LV_RESTART_ON_FAILURE, EXITED(3)));
	ck_assert(lv_should_restart(LV_RESTART_ON_FAILURE, KILLED(SIGKILL)));
	ck_assert(!lv_should_restart(LV_RESTART_NEVER, EXITED(3)));
	ck_assert(!lv_should_restart(LV_RESTART_NEVER, EXITED(0)));
}
END_TEST

START_TEST(backoff_doubles_and_caps)
{
	ck_assert_uint_eq(lv_backoff_ms(0), 0);
	ck_assert_uint_eq(lv_backoff_ms(1), 100);
	ck_assert_uint_eq(lv_backoff_ms(2), 200);
	ck_assert_uint_eq(lv_backoff_ms(5), 1600);
	ck_assert_uint_eq(lv_backoff_ms(20), LV_BACKOFF_MAX_MS);
	ck_assert_uint_eq(lv_backoff_ms(4000000000u), LV_BACKOFF_MAX_MS);
}
END_TEST

START_TEST(start_limit_window)
{
	struct lv_start_limit sl;

	ck_assert_int_eq(lv_start_limit_init(&sl, 3, 1000), 0);
	ck_assert(!lv_start_limit_hit(&sl, 0));
	lv_start_limit_record(&sl, 0);
	lv_start_limit_record(&sl, 100);
	ck_assert(!lv_start_limit_hit(&sl, 200));
	lv_start_limit_record(&sl, 200);
	/* three starts within 1000 ms: a fourth would exceed the burst */
	ck_assert(lv_start_limit_hit(&sl, 300));
	ck_assert(lv_start_limit_hit(&sl, 999));
	/* the oldest start leaves the window */
	ck_assert(!lv_start_limit_hit(&sl, 1000));
	lv_start_limit_record(&sl, 1000);
	ck_assert(lv_start_limit_hit(&sl, 1050));
	lv_start_limit_reset(&sl);
	ck_assert(!lv_start_limit_hit(&sl, 1050));
	lv_start_limit_free(&sl);
}
END_TEST

START_TEST(pidmap_put_get_del)
{
	struct lv_pidmap m = { 0 };
	int values[5000];

	for (int i = 0; i < 5000; i++)
		ck_assert_int_eq(lv_pidmap_put(&m, i + 2, &values[i]), 0);
	for (int i = 0; i < 5000; i++)
		ck_assert_ptr_eq(lv_pidmap_get(&m, i + 2), &values[i]);
	ck_assert_ptr_null(lv_pidmap_get(&m, 1));
	for (int i = 0; i < 5000; i += 2)
		ck_assert_ptr_eq(lv_pidmap_del(&m, i + 2), &values[i]);
	for (int i = 0; i < 5000; i++)
		ck_assert_ptr_eq(lv_pidmap_get(&m, i + 2), i % 2 ? &values[i] : NULL);
	/* reuse of deleted slots keeps lookups right */
	for (int i = 0; i < 5000; i += 2)
		ck_assert_int_eq(lv_pidmap_put(&m, i + 2, &values[i]), 0);
	for (int i = 0; i < 5000; i++)
		ck_assert_ptr_eq(lv_pidmap_get(&m, i + 2), &values[i]);
	ck_assert_uint_eq(m.used, 5000);
	lv_pidmap_free(&m);
}
END_TEST

START_TEST(pidmap_churn_stays_bounded)
{
	struct lv_pidmap m = { 0 };
	int v;

	/* a crash loop: one pid in, one out, forever */
	for (int i = 2; i < 200000; i++) {
		lv_pidmap_put(&m, i, &v);
		ck_assert_ptr_eq(lv_pidmap_del(&m, i), &v);
	}
	ck_assert_uint_le(m.cap, 1024);
	lv_pidmap_free(&m);
}
END_TEST

static enum wait_verdict judge(const struct wait_spec *spec, enum worker_state state,
                               unsigned restarts, uint64_t ran_seq)
{
	struct wait_seen seen = { .state = state, .restarts = restarts, .ran_seq = ran_seq };

	return wait_judge_worker(spec, &seen);
}

/* What start promises: the worker reached running since the request (run clock 10 then),
 * even if the daemon looks only after it died; failed without running since is a failure. */
START_TEST(start_is_done_once_running_since_the_request)
{
	struct wait_spec start = { .ok_states = WS_BIT(WS_RUNNING), .fail_states = WS_BIT(WS_FAILED),
	                           .ran_counts = true, .ran_since = 10 };

	ck_assert_int_eq(judge(&start, WS_RUNNING, 0, 11), WAIT_DONE);
	ck_assert_int_eq(judge(&start, WS_RUNNING, 0, 3), WAIT_DONE); /* running already */
	ck_assert_int_eq(judge(&start, WS_STARTING, 0, 0), WAIT_PENDING);
	ck_assert_int_eq(judge(&start, WS_STARTING, 1, 10), WAIT_PENDING); /* ran before it */
	/* ran and exited in one loop iteration of a starved daemon: seen in backoff or failed */
	ck_assert_int_eq(judge(&start, WS_BACKOFF, 1, 11), WAIT_DONE);
	ck_assert_int_eq(judge(&start, WS_FAILED, 3, 12), WAIT_DONE);
	ck_assert_int_eq(judge(&start, WS_STOPPED, 1, 11), WAIT_DONE);
	/* never ran since (exec failed, start limit): the start fails */
	ck_assert_int_eq(judge(&start, WS_FAILED, 1, 10), WAIT_FAILED);
	ck_assert_int_eq(judge(&start, WS_FAILED, 0, 0), WAIT_FAILED);
	ck_assert_int_eq(judge(&start, WS_BACKOFF, 1, 9), WAIT_PENDING);
}
END_TEST

/* wait and stop judge the current state only: a past run counts for nothing. */
START_TEST(wait_and_stop_judge_the_state_now)
{
	struct wait_spec wait = { .ok_states = WS_BIT(WS_RUNNING), .min_restarts = 2 };
	struct wait_spec stop = { .ok_states = WS_BIT(WS_STOPPED) };

	ck_assert_int_eq(judge(&wait, WS_BACKOFF, 5, 99), WAIT_PENDING);
	ck_assert_int_eq(judge(&wait, WS_FAILED, 5, 99), WAIT_PENDING); /* not a fail state */
	ck_assert_int_eq(judge(&wait, WS_RUNNING, 1, 99), WAIT_PENDING); /* too few restarts */
	ck_assert_int_eq(judge(&wait, WS_RUNNING, 2, 99), WAIT_DONE);
	ck_assert_int_eq(judge(&stop, WS_STOPPING, 0, 99), WAIT_PENDING);
	ck_assert_int_eq(judge(&stop, WS_STOPPED, 0, 0), WAIT_DONE);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("policy");
	TCase *tc = tcase_create("pure");

	tcase_add_test(tc, clean_exits);
	tcase_add_test(tc, restart_policies);
	tcase_add_test(tc, backoff_doubles_and_caps);
	tcase_add_test(tc, start_limit_window);
	tcase_add_test(tc, pidmap_put_get_del);
	tcase_add_test(tc, pidmap_churn_stays_bounded);
	tcase_add_test(tc, start_is_done_once_running_since_the_request);
	tcase_add_test(tc, wait_and_stop_judge_the_state_now);
	suite_add_tcase(su, tc);
	return lv_check_run(su);
}
