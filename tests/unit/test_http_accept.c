/* test_http_accept: which Accept headers ask for a media type by name, and which do not
 * (q=0, a longer type, a wildcard, junk); which paths name an endpoint, and the query
 * parameters of /api/tail and /api/inspect (ipc/http_query.c). */
#include <check.h>

#include "check_run.h"
#include "ipc/http_accept.h"
#include "ipc/http_query.h"

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

START_TEST(paths_name_endpoints_exactly)
{
	ck_assert_int_eq(lv_http_route("/"), LV_ROUTE_UI);
	ck_assert_int_eq(lv_http_route("/ui"), LV_ROUTE_UI);
	ck_assert_int_eq(lv_http_route("/metrics"), LV_ROUTE_METRICS);
	ck_assert_int_eq(lv_http_route("/api/inspect"), LV_ROUTE_INSPECT);
	ck_assert_int_eq(lv_http_route("/events"), LV_ROUTE_EVENTS);
	ck_assert_int_eq(lv_http_route("/metrics/"), LV_ROUTE_NONE);
	ck_assert_int_eq(lv_http_route("/METRICS"), LV_ROUTE_NONE);
	ck_assert_int_eq(lv_http_route(""), LV_ROUTE_NONE);
	ck_assert_int_eq(lv_http_route(NULL), LV_ROUTE_NONE);
}
END_TEST

START_TEST(query_parameters)
{
	char name[16];
	unsigned long n = 50;

	ck_assert_int_eq(lv_http_query_params("target=web%3A2&lines=0", "target", name,
	                                      sizeof name, "lines", 0, 1000, &n), 0);
	ck_assert_str_eq(name, "web:2"); /* decoded */
	ck_assert_uint_eq(n, 0);
	n = 50;
	ck_assert_int_eq(lv_http_query_params("target=web", "target", name, sizeof name,
	                                      "lines", 0, 1000, &n), 0);
	ck_assert_uint_eq(n, 50); /* absent: the default stays */
	static const char *const bad[] = {
		"", "lines=5", "target=web&lines=1001", "target=web&lines=-1", "target=web&lines=+5",
		"target=web&lines=%205", "target=web&lines=05", "target=web&lines=", "target=web&lines=5x",
		"target=a-name-longer-than-sixteen", "target=web&lines=99999999999999999999",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ck_assert_msg(lv_http_query_params(bad[i], "target", name, sizeof name, "lines", 0,
		                                   1000, &n) == -1, "%s", bad[i]);
	ck_assert_int_eq(lv_http_query_params(NULL, "target", name, sizeof name, "lines", 0,
	                                      1000, &n), -1);
	ck_assert_int_eq(lv_http_query_params("worker=w:0&timeout_ms=0", "worker", name,
	                                      sizeof name, "timeout_ms", 1, 60000, &n), -1);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("http_accept");
	TCase *tc = tcase_create("accept");

	tcase_add_test(tc, asked_for);
	tcase_add_test(tc, not_asked_for);
	tcase_add_test(tc, paths_name_endpoints_exactly);
	tcase_add_test(tc, query_parameters);
	suite_add_tcase(su, tc);
	return lv_check_run(su);
}
