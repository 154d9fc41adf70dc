/* test_template: per-worker placeholders ({index}, {index+N}, {pool}, {name}, {{) and the
 * message for each malformed one. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "config/template.h"

static const struct lv_template_vars w2 = { .pool = "web", .name = "web:2", .index = 2 };

static void expands(const char *in, const char *want)
{
	char why[256] = "", *out = lv_template_dup(in, &w2, why, sizeof why);

	ck_assert_msg(out != NULL, "%s: %s", in, why);
	ck_assert_str_eq(out, want);
	free(out);
}

static void refused(const char *in, const char *why_starts)
{
	char why[256] = "";

	ck_assert_int_eq(lv_template_expand(in, &w2, NULL, 0, why, sizeof why), -1);
	ck_assert_ptr_null(lv_template_dup(in, &w2, why, sizeof why));
	ck_assert_msg(!strncmp(why, why_starts, strlen(why_starts)), "%s: %s", in, why);
}

START_TEST(placeholders)
{
	expands("", "");
	expands("plain", "plain");
	expands("{index}", "2");
	expands("--port={index+8000}", "--port=8002");
	expands("{index+0}", "2");
	expands("{index+1000000}", "1000002");
	expands("{pool}/{name}/{index}", "web/web:2/2");
	expands("{{index}", "{index}");
	expands("{{{index}", "{2");
	expands("a}b}}", "a}b}"); /* a lone } is literal, }} is one */
	expands("{{print $1}}", "{print $1}");
	expands("}}}", "}}");
	expands("${{HOME}", "${HOME}");
	expands("{{", "{");
}
END_TEST

START_TEST(mistakes)
{
	refused("{foo}", "unknown placeholder {foo}: known are {index}, {index+N}, {pool}, {name}");
	refused("{}", "unknown placeholder {}");
	refused("{Index}", "unknown placeholder {Index}");
	refused("{index+}", "bad placeholder {index+}: write {index+N}");
	refused("{index-1}", "bad placeholder {index-1}");
	refused("{index+x}", "bad placeholder {index+x}");
	refused("{index+-1}", "bad placeholder {index+-1}");
	refused("{index+1000001}", "bad placeholder {index+1000001}");
	refused("{index+ 1}", "bad placeholder {index+ 1}");
	refused("{index", "unclosed placeholder \"{index\"");
	refused("ok {", "unclosed placeholder \"{\"");
	refused("${HOME}", "unknown placeholder {HOME}");
}
END_TEST

/* Like snprintf: the full length back, the output cut and terminated. */
START_TEST(bounded_output)
{
	char out[5], why[64];

	ck_assert_int_eq(lv_template_expand("{name}-{index+100}", &w2, out, sizeof out, why,
	                                    sizeof why), 9);
	ck_assert_str_eq(out, "web:");
	ck_assert_int_eq(lv_template_expand("{pool}", &w2, out, 1, why, sizeof why), 3);
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(escape_round_trips)
{
	char why[64], *esc = lv_template_escape("/srv/{odd}/{{x"), *back;

	ck_assert_str_eq(esc, "/srv/{{odd}}/{{{{x");
	back = lv_template_dup(esc, &w2, why, sizeof why);
	ck_assert_str_eq(back, "/srv/{odd}/{{x");
	free(esc);
	free(back);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("template");
	TCase *tc = tcase_create("expand");

	tcase_add_test(tc, placeholders);
	tcase_add_test(tc, mistakes);
	tcase_add_test(tc, bounded_output);
	tcase_add_test(tc, escape_round_trips);
	suite_add_tcase(su, tc);
	return lv_check_run(su);
}
