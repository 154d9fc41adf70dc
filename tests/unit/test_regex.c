/* test_regex: lv_regex_cost (config/regex.c), what a probe regex would cost glibc's regcomp,
 * against what regcomp builds: repetitions that copy (chained '+', nested intervals) are
 * counted, brackets and escapes are one node, and a config whose regex would take gigabytes
 * (fuzz_config found 50 chained '+') is refused before regcomp runs. */
#include <check.h>

#include "check_run.h"
#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"

START_TEST(what_repetitions_copy_is_counted)
{
	char chain[64];

	ck_assert_uint_eq(lv_regex_cost("listening on"), 12);
	ck_assert_uint_eq(lv_regex_cost("on+"), 3);           /* o n n* */
	ck_assert_uint_eq(lv_regex_cost("a++"), 4);           /* (a a*) (a a*)* */
	ck_assert_uint_eq(lv_regex_cost("(ab){100}"), 200);
	ck_assert_uint_eq(lv_regex_cost("x{2,1000}"), 1000);
	ck_assert_uint_eq(lv_regex_cost("[+]+"), 2);          /* a bracket is one node */
	ck_assert_uint_eq(lv_regex_cost("[]+]"), 1);
	ck_assert_uint_eq(lv_regex_cost("[^]+]{3}"), 3);
	ck_assert_uint_eq(lv_regex_cost("\\++"), 2);          /* an escaped '+' is an atom */
	ck_assert_uint_eq(lv_regex_cost("a{"), 2);            /* literal braces */
	ck_assert_uint_eq(lv_regex_cost("a{x}"), 4);
	ck_assert_uint_eq(lv_regex_cost("ready|up*|(ok)?"), 13); /* operators are nodes too */
	ck_assert_uint_eq(lv_regex_cost("((a*)*){2}"), 6);
	/* past the bound */
	memset(chain, '+', sizeof chain - 1);
	chain[0] = 'a';
	chain[sizeof chain - 1] = '\0';
	ck_assert_uint_gt(lv_regex_cost(chain), LV_REGEX_COST_MAX);
	ck_assert_uint_gt(lv_regex_cost("(a{255}){255}"), LV_REGEX_COST_MAX);
	ck_assert_uint_gt(lv_regex_cost("((a*)*){1000}"), LV_REGEX_COST_MAX);
	ck_assert_uint_gt(lv_regex_cost("((a{100}){100}){100}"), LV_REGEX_COST_MAX);
	ck_assert_uint_gt(lv_regex_cost("x{1,30000}"), LV_REGEX_COST_MAX);
	ck_assert_uint_gt(lv_regex_cost("((((((((((((((((((((((((((((((((((a))))))))))))))))))))))))))))))))))"),
	                  LV_REGEX_COST_MAX);
	ck_assert_uint_le(lv_regex_cost("(a{31}){31}"), LV_REGEX_COST_MAX);
	ck_assert_uint_le(lv_regex_cost("^\\[.*\\] (INFO|WARN) listening on [0-9.]+:[0-9]{2,5}$"), 60);
}
END_TEST

/* What passes compiles at once, even the worst shapes at the bound (~0.15 s, 6 MiB here). */
START_TEST(what_passes_compiles)
{
	const char *worst[] = { "(a{31}){31}", "((a*)*){333}", "(((a*)*)*){250}", "(a*|b*){200}" };
	regex_t rx;

	for (size_t i = 0; i < sizeof worst / sizeof worst[0]; i++) {
		ck_assert_uint_le(lv_regex_cost(worst[i]), LV_REGEX_COST_MAX);
		ck_assert_int_eq(regcomp(&rx, worst[i], REG_EXTENDED | REG_NOSUB), 0);
		regfree(&rx);
	}
}
END_TEST

START_TEST(a_config_with_a_costly_regex_is_refused)
{
	char text[512], err[LV_ERRBUF];
	struct lv_config *cfg = NULL;
	json_t *root;

	snprintf(text, sizeof text, "{\"pools\":[{\"name\":\"api\",\"exec\":[\"/api\"],\"probes\":"
	         "{\"startup\":{\"log\":\"listening on%s1\"}}}]}",
	         "++++++++++++++++++++++++++++++++++++++++++++++++++");
	ck_assert_ptr_nonnull(root = json_loads(text, 0, NULL));
	ck_assert_int_eq(lv_config_from_json(root, "/etc/lv", &cfg, err, sizeof err), -1);
	ck_assert_str_eq(err, "pools[0].probes.startup.log: too costly a regex: its repetitions "
	                      "('+', '{n}') multiply out to over 1000 copies");
	json_decref(root);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("regex");
	TCase *tc = tcase_create("cost");

	tcase_add_test(tc, what_repetitions_copy_is_counted);
	tcase_add_test(tc, what_passes_compiles);
	tcase_add_test(tc, a_config_with_a_costly_regex_is_refused);
	suite_add_tcase(su, tc);
	return lv_check_run(su);
}
