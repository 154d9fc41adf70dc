/* test_strv: NULL-terminated string vectors (lib/strv.c): counting, deep copies and freeing,
 * NULL vectors included. */
#include <check.h>
#include <string.h>

#include "check_run.h"
#include "daemon/lib/strv.h"

START_TEST(len_counts_up_to_the_null)
{
	char *empty[] = { NULL }, *three[] = { "a", "", "c", NULL };

	ck_assert_uint_eq(lv_strv_len(NULL), 0);
	ck_assert_uint_eq(lv_strv_len(empty), 0);
	ck_assert_uint_eq(lv_strv_len(three), 3);
}
END_TEST

START_TEST(dup_copies_every_string)
{
	char *v[] = { "PATH=/bin", "", "HOME=/", NULL }, **d = lv_strv_dup(v);

	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(lv_strv_len(d), 3);
	for (size_t i = 0; i < 3; i++) {
		ck_assert_ptr_ne(d[i], v[i]);
		ck_assert_str_eq(d[i], v[i]);
	}
	ck_assert_ptr_null(d[3]);
	lv_strv_free(d);
}
END_TEST

START_TEST(dup_of_null_is_an_empty_vector)
{
	char **d = lv_strv_dup(NULL);

	ck_assert_ptr_nonnull(d);
	ck_assert_ptr_null(d[0]);
	lv_strv_free(d);
}
END_TEST

START_TEST(free_takes_null)
{
	lv_strv_free(NULL);
}
END_TEST

/* "did you mean": one or two edits away (a swap of neighbours is one), never a guess */
START_TEST(the_closest_word_is_a_near_one)
{
	static const char *const keys[] = { "workers", "name", "burst", "reload", "start", NULL };

	ck_assert_str_eq(lv_strv_closest("wrokers", keys), "workers");
	ck_assert_str_eq(lv_strv_closest("relod", keys), "reload");
	ck_assert_str_eq(lv_strv_closest("bursts", keys), "burst");
	ck_assert_str_eq(lv_strv_closest("stat", keys), "start");
	ck_assert_ptr_null(lv_strv_closest("owner", keys));
	ck_assert_ptr_null(lv_strv_closest("x", keys));       /* one letter is anything's typo */
	ck_assert_ptr_null(lv_strv_closest("workersworkers", keys));
	ck_assert_ptr_null(lv_strv_closest("reload", NULL));
}
END_TEST

int main(void)
{
	Suite *su = suite_create("strv");
	TCase *tc = tcase_create("strv");

	tcase_add_test(tc, len_counts_up_to_the_null);
	tcase_add_test(tc, the_closest_word_is_a_near_one);
	tcase_add_test(tc, dup_copies_every_string);
	tcase_add_test(tc, dup_of_null_is_an_empty_vector);
	tcase_add_test(tc, free_takes_null);
	suite_add_tcase(su, tc);
	return lv_check_run(su);
}
