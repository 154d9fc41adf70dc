/* test_jsonw: the JSON text writer that big status replies use agrees with jansson, byte
 * for byte where jansson can say, on escapes, non-UTF-8 text and large buffers. */
#include <check.h>

#include "check_run.h"
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/jsonw.h"

/* s written by jsonw, then parsed back with jansson: the string it decodes to. */
static char *round_trip(const char *s)
{
	struct jsonw w = { 0 };
	char *text, *back;
	json_t *v;

	jsonw_str(&w, s);
	text = jsonw_finish(&w);
	ck_assert_ptr_nonnull(text);
	v = json_loads(text, JSON_DECODE_ANY, NULL);
	ck_assert_msg(v != NULL, "not JSON: %s", text);
	back = strdup(json_is_null(v) ? "(null)" : json_string_value(v));
	json_decref(v);
	free(text);
	return back;
}

START_TEST(strings_survive_escaping)
{
	const char *cases[] = { "", "plain", "quote \" and back\\slash", "tab\tnew\nline\r\b\f",
	                        "\x01\x1f control", "snow \xe2\x98\x83 man", "/slash/" };

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char *back = round_trip(cases[i]);
		ck_assert_str_eq(back, cases[i]);
		free(back);
	}
}
END_TEST

START_TEST(text_that_is_not_utf8_loses_only_its_high_bytes)
{
	const char *cases[][2] = {
		{ "bad \xff byte", "bad ? byte" },
		{ "cut \xe2\x98", "cut ??" },
		{ "overlong \xc0\xaf", "overlong ??" },
		{ "surrogate \xed\xa0\x80", "surrogate ???" },
		{ "mixed \xe2\x98\x83 \xff", "mixed ??? ?" }, /* like status did: all or nothing */
	};

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char *back = round_trip(cases[i][0]);
		ck_assert_str_eq(back, cases[i][1]);
		free(back);
	}
}
END_TEST

START_TEST(documents_match_jansson)
{
	struct jsonw w = { 0 };
	json_t *ref = json_pack("{s:s, s:I, s:n, s:[i, i], s:b}", "name", "w:1", "big",
	                        (json_int_t)-9007199254740993LL, "none", "list", 1, 2, "yes", 1);
	char *mine, *theirs = json_dumps(ref, JSON_COMPACT);

	jsonw_lit(&w, "{\"name\":");
	jsonw_str(&w, "w:1");
	jsonw_lit(&w, ",\"big\":");
	jsonw_int(&w, -9007199254740993LL);
	jsonw_lit(&w, ",\"none\":");
	jsonw_str(&w, NULL);
	jsonw_lit(&w, ",\"list\":[1,2],\"yes\":true}");
	mine = jsonw_finish(&w);
	ck_assert_str_eq(mine, theirs);
	free(mine);
	free(theirs);
	json_decref(ref);
}
END_TEST

START_TEST(grows_past_many_pages)
{
	struct jsonw w = { 0 };
	char *text;
	json_t *v;

	jsonw_lit(&w, "[");
	for (int i = 0; i < 100000; i++) {
		if (i)
			jsonw_lit(&w, ",");
		jsonw_str(&w, "\x01\x02\x03"); /* 18 bytes each once escaped */
	}
	jsonw_lit(&w, "]");
	text = jsonw_finish(&w);
	ck_assert_ptr_nonnull(text);
	ck_assert_uint_eq(strlen(text), 100000 * 21 - 1 + 2);
	v = json_loads(text, 0, NULL);
	ck_assert_uint_eq(json_array_size(v), 100000);
	json_decref(v);
	free(text);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("jsonw");
	TCase *tc = tcase_create("writer");

	tcase_add_test(tc, strings_survive_escaping);
	tcase_add_test(tc, text_that_is_not_utf8_loses_only_its_high_bytes);
	tcase_add_test(tc, documents_match_jansson);
	tcase_add_test(tc, grows_past_many_pages);
	suite_add_tcase(su, tc);
	return lv_check_run(su);
}
