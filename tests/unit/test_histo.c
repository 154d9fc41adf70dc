/* test_histo: observations land in the right bucket (bounds inclusive, le), cumulative
 * counts grow, and what is past 10 s counts only in +Inf. */
#include <check.h>

#include "check_run.h"
#include "daemon/lib/histo.h"

START_TEST(buckets)
{
	struct lv_histo h = { 0 };

	lv_histo_observe(&h, 0);
	lv_histo_observe(&h, 50);       /* le 50 us: on the bound */
	lv_histo_observe(&h, 51);       /* le 100 us */
	lv_histo_observe(&h, 1000000);  /* le 1 s */
	lv_histo_observe(&h, 20000000); /* past 10 s: +Inf only */
	ck_assert_uint_eq(lv_histo_cumulative(&h, 0), 2);
	ck_assert_uint_eq(lv_histo_cumulative(&h, 1), 3);
	ck_assert_uint_eq(lv_histo_cumulative(&h, 12), 3);  /* le 500 ms */
	ck_assert_uint_eq(lv_histo_cumulative(&h, 13), 4);  /* le 1 s */
	ck_assert_uint_eq(lv_histo_cumulative(&h, LV_HISTO_BUCKETS - 1), 4);
	ck_assert_uint_eq(h.count, 5);
	ck_assert_uint_eq(h.sum_us, 21000101);
	ck_assert_uint_eq(lv_histo_bounds_us[0], 50);
	ck_assert_uint_eq(lv_histo_bounds_us[LV_HISTO_BUCKETS - 1], 10000000);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("histo");
	TCase *tc = tcase_create("histo");

	tcase_add_test(tc, buckets);
	suite_add_tcase(su, tc);
	return lv_check_run(su);
}
