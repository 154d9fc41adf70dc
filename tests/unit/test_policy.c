/* test_policy: restart decisions, backoff arithmetic, the start-limit window and the
 * pid table: the pure parts of the supervisor, driven with made-up times. */
#include <check.h>

#include "check_run.h"
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "daemon/pidmap.h"
#include "daemon/policy.h"

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
	suite_add_tcase(su, tc);
	return lv_check_run(su);
}
