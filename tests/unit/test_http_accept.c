/* test_http_accept: which Accept headers ask for a media type by name, and which do not
 * (q=0, a longer type, a wildcard, junk). */
#include <check.h>

#include "check_run.h"
#include "ipc/http_accept.h"

#define OM "application/openmetrics-text"

START_TEST(asked_for)
{
	static const char *const yes[] = {
		OM, " " OM " ", OM ";version=1.0.0", "text/plain;q=0.5, " OM ";version=1.0.0;q=0.75",
		"APPLICATION/OpenMetrics-Text", OM " ; q=0.001", "text/plain,\t" OM, OM ";q=1",
	};

	for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
		ck_assert_msg(lv_http_accepts(yes[i], OM), "%s", yes[i]);
}
END_TEST

START_TEST(not_asked_for)
{
	static const char *const no[] = {
		"", "text/plain", "*/*", "application/*", OM ";q=0", OM ";q=0.000", OM "x",
		"x" OM, OM " x", OM ";q=", OM ";q=abc", OM ";q=2", ",,,", ";", OM ";q=-1",
		"text/plain;x=" OM,
	};

	ck_assert(!lv_http_accepts(NULL, OM));
	for (size_t i = 0; i < sizeof no / sizeof *no; i++)
		ck_assert_msg(!lv_http_accepts(no[i], OM), "%s", no[i]);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("http_accept");
	TCase *tc = tcase_create("accept");

	tcase_add_test(tc, asked_for);
	tcase_add_test(tc, not_asked_for);
	suite_add_tcase(su, tc);
	return lv_check_run(su);
}
