/* test_ratewin: the one-second windows behind the daemon's per-second limits (lib/ratewin.c):
 * when a window ends and a new one starts, what is counted, what is left of it. */
#include <check.h>

#include "check_run.h"
#include "daemon/lib/ratewin.h"

/* lv_now_ms() is the time since boot: large, never 0 */
#define T0 123456789u

START_TEST(a_zeroed_window_starts_at_first_use)
{
	struct lv_ratewin w = { 0 };

	ck_assert(lv_ratewin_ended(&w, T0));
	ck_assert(lv_ratewin_roll(&w, T0));
	ck_assert_uint_eq(w.start_ms, T0);
	ck_assert_uint_eq(w.count, 0);
	ck_assert_uint_eq(w.bytes, 0);
	ck_assert(!lv_ratewin_roll(&w, T0));
}
END_TEST

START_TEST(a_window_lasts_exactly_one_second)
{
	struct lv_ratewin w = { 0 };

	lv_ratewin_roll(&w, T0);
	lv_ratewin_charge(&w, 10);
	ck_assert(!lv_ratewin_ended(&w, T0 + 999));
	ck_assert(!lv_ratewin_roll(&w, T0 + 999));
	ck_assert_uint_eq(w.count, 1);
	ck_assert(lv_ratewin_ended(&w, T0 + 1000));
	ck_assert(lv_ratewin_roll(&w, T0 + 1000));
	ck_assert_uint_eq(w.start_ms, T0 + 1000);
	ck_assert_uint_eq(w.count, 0);
	ck_assert_uint_eq(w.bytes, 0);
}
END_TEST

START_TEST(a_new_window_starts_at_the_first_event_after_a_quiet_gap)
{
	struct lv_ratewin w = { 0 };

	lv_ratewin_roll(&w, T0);
	ck_assert(lv_ratewin_roll(&w, T0 + 5500));
	ck_assert_uint_eq(w.start_ms, T0 + 5500); /* not T0 + 5000: windows are not a grid */
	ck_assert(!lv_ratewin_ended(&w, T0 + 6499));
}
END_TEST

START_TEST(charges_count_events_and_bytes)
{
	struct lv_ratewin w = { 0 };

	lv_ratewin_roll(&w, T0);
	lv_ratewin_charge(&w, 100);
	lv_ratewin_charge(&w, 0);
	lv_ratewin_charge(&w, 4096);
	ck_assert_uint_eq(w.count, 3);
	ck_assert_uint_eq(w.bytes, 4196);
}
END_TEST

START_TEST(left_counts_down_to_zero)
{
	struct lv_ratewin w = { 0 };

	lv_ratewin_roll(&w, T0);
	ck_assert_uint_eq(lv_ratewin_left_ms(&w, T0), 1000);
	ck_assert_uint_eq(lv_ratewin_left_ms(&w, T0 + 1), 999);
	ck_assert_uint_eq(lv_ratewin_left_ms(&w, T0 + 999), 1);
	ck_assert_uint_eq(lv_ratewin_left_ms(&w, T0 + 1000), 0);
	ck_assert_uint_eq(lv_ratewin_left_ms(&w, T0 + 86400000), 0); /* never wraps */
}
END_TEST

START_TEST(hit_is_true_past_max_until_the_window_ends)
{
	struct lv_ratewin w = { 0 };

	for (unsigned i = 0; i < 3; i++)
		ck_assert(!lv_ratewin_hit(&w, T0 + i, 3));
	ck_assert(lv_ratewin_hit(&w, T0 + 10, 3));
	ck_assert_uint_eq(w.count, 4); /* max + 1: the first one over, for a log line */
	ck_assert(lv_ratewin_hit(&w, T0 + 999, 3));
	ck_assert_uint_eq(w.count, 5);
	ck_assert(!lv_ratewin_hit(&w, T0 + 1000, 3)); /* a new second */
	ck_assert_uint_eq(w.count, 1);
	ck_assert(lv_ratewin_hit(&w, T0 + 1000, 0)); /* max 0: every event is over */
}
END_TEST

int main(void)
{
	Suite *su = suite_create("ratewin");
	TCase *tc = tcase_create("window");

	tcase_add_test(tc, a_zeroed_window_starts_at_first_use);
	tcase_add_test(tc, a_window_lasts_exactly_one_second);
	tcase_add_test(tc, a_new_window_starts_at_the_first_event_after_a_quiet_gap);
	tcase_add_test(tc, charges_count_events_and_bytes);
	tcase_add_test(tc, left_counts_down_to_zero);
	tcase_add_test(tc, hit_is_true_past_max_until_the_window_ends);
	suite_add_tcase(su, tc);
	return lv_check_run(su);
}
