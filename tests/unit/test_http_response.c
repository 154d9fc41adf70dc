/* test_http_response: the http probes' reader of an HTTP/1.x answer (ipc/http_response.c):
 * every way a body may end, interim answers, whether the connection may be kept, the body
 * kept for the regex, and the answers it must refuse rather than guess at. Each answer is
 * read whole and again one byte at a time: the verdict is the same however it arrives. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "ipc/http_response.h"

struct outcome {
	enum lv_http_rc rc;
	size_t used;
	unsigned status;
	bool reusable;
	char body[64];
	char error[96];
};

/* Reads text in pieces of `step` bytes (0: whole), then the close when `eof`. */
static struct outcome read_answer(const char *text, size_t step, bool eof)
{
	struct lv_http_response *r = malloc(sizeof *r);
	struct outcome o = { .rc = LV_HTTP_MORE };
	size_t len = strlen(text), off = 0;

	ck_assert_ptr_nonnull(r);
	lv_http_response_init(r, o.body, sizeof o.body - 1);
	while (off < len && o.rc == LV_HTTP_MORE) {
		size_t n = step && len - off > step ? step : len - off, used;

		o.rc = lv_http_response_feed(r, text + off, n, &used);
		ck_assert_uint_le(used, n);
		if (o.rc == LV_HTTP_MORE)
			ck_assert_uint_eq(used, n);
		off += used;
	}
	if (o.rc == LV_HTTP_MORE && eof)
		o.rc = lv_http_response_eof(r);
	o.used = off;
	o.status = r->status;
	o.reusable = r->reusable;
	memcpy(o.error, r->error, sizeof o.error);
	free(r);
	return o;
}

/* The same outcome whole and byte by byte; that outcome. */
static struct outcome answer(const char *text, bool eof)
{
	struct outcome whole = read_answer(text, 0, eof), bytes = read_answer(text, 1, eof);

	ck_assert_int_eq(whole.rc, bytes.rc);
	if (whole.rc == LV_HTTP_DONE) {
		ck_assert_uint_eq(whole.used, bytes.used);
		ck_assert_uint_eq(whole.status, bytes.status);
		ck_assert_int_eq(whole.reusable, bytes.reusable);
		ck_assert_str_eq(whole.body, bytes.body);
	}
	return whole;
}

static void done_with(const char *text, bool eof, unsigned status, bool reusable,
                      const char *body)
{
	struct outcome o = answer(text, eof);

	ck_assert_msg(o.rc == LV_HTTP_DONE, "%s: %s", text, o.error);
	ck_assert_uint_eq(o.status, status);
	ck_assert_msg(o.reusable == reusable, "%s", text);
	ck_assert_str_eq(o.body, body);
}

static void refused(const char *text, const char *error)
{
	struct outcome o = answer(text, true);

	ck_assert_msg(o.rc == LV_HTTP_ERROR, "%s was read", text);
	ck_assert_msg(strstr(o.error, error), "%s: \"%s\", not \"%s\"", text, o.error, error);
}

START_TEST(bodies_end_as_their_headers_say)
{
	done_with("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false, 200, true, "ok");
	done_with("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false, 200, true, "");
	done_with("HTTP/1.1 200 OK\nContent-Length: 2\n\nok", false, 200, true, "ok"); /* bare LF */
	done_with("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	          "3;name=value\r\nabc\r\n2 \r\nde\r\n0\r\nX-Trailer: t\r\n\r\n",
	          false, 200, true, "abcde");
	done_with("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, CHUNKED\r\n\r\n1\r\nz\r\n0\r\n\r\n",
	          false, 200, true, "z");
	/* no length: the body runs to the close, and the connection goes */
	done_with("HTTP/1.1 200 OK\r\n\r\nall of it", true, 200, false, "all of it");
	done_with("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz", true, 200, false, "zz");
	/* no body whatever the headers say */
	done_with("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", false, 204, true, "");
	done_with("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", false, 304,
	          true, "");
	/* the reason phrase is optional; the status code is what counts */
	done_with("HTTP/1.1 503\r\nContent-Length: 4\r\n\r\nbusy", false, 503, true, "busy");
}
END_TEST

START_TEST(the_body_is_cut_where_the_regex_stops_looking)
{
	char text[512];
	struct outcome o;

	strcpy(text, "HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n");
	memset(text + strlen(text), 'b', 200);
	text[strlen("HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n") + 200] = '\0';
	o = answer(text, false);
	ck_assert_int_eq(o.rc, LV_HTTP_DONE);
	ck_assert_uint_eq(o.used, strlen(text)); /* read to its end, kept only in part */
	ck_assert_uint_eq(strlen(o.body), sizeof o.body - 1);
	ck_assert(o.reusable);
}
END_TEST

START_TEST(interim_answers_are_skipped)
{
	done_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
	          "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", false, 200, true, "x");
	refused("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", "101");
	char text[1024] = "";
	for (int i = 0; i < 9; i++)
		strcat(text, "HTTP/1.1 100 Continue\r\n\r\n");
	strcat(text, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	refused(text, "interim");
}
END_TEST

START_TEST(whether_the_connection_is_kept)
{
	done_with("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false,
	          200, false, "");
	done_with("HTTP/1.1 200 OK\r\nConnection: Keep-Alive, CLOSE\r\nContent-Length: 0\r\n\r\n",
	          false, 200, false, "");
	done_with("HTTP/1.1 200 OK\r\nConnection: closed\r\nContent-Length: 0\r\n\r\n", false, 200,
	          true, ""); /* a token, not a prefix */
	done_with("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false, 200, false, "");
	done_with("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", false,
	          200, true, "");
	/* both a length and a coding: the coding wins, and so odd a peer is not kept */
	done_with("HTTP/1.1 200 OK\r\nContent-Length: 9\r\nTransfer-Encoding: chunked\r\n\r\n"
	          "1\r\nz\r\n0\r\n\r\n", false, 200, false, "z");
	/* the same length twice is one length */
	done_with("HTTP/1.1 200 OK\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\nz", false, 200,
	          true, "z");
}
END_TEST

START_TEST(what_follows_the_answer_is_not_read)
{
	const char *text = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nzHTTP/1.1 500 x\r\n\r\n";
	struct outcome o = answer(text, false);

	ck_assert_int_eq(o.rc, LV_HTTP_DONE);
	ck_assert_uint_eq(o.used, strlen("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz"));
	ck_assert_uint_eq(o.status, 200);
}
END_TEST

START_TEST(ambiguous_answers_are_refused)
{
	refused("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nzz", "two");
	refused("HTTP/1.1 200 OK\r\nContent-Length: 1a\r\n\r\nz", "Content-Length");
	refused("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "Content-Length");
	refused("HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\nz", "Content-Length");
	refused("HTTP/1.1 200 OK\r\nContent-Length: 9999999999999999999\r\n\r\n", "Content-Length");
	refused("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", "Content-Length");
	refused("HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n", "folded");
	refused("HTTP/1.1 200 OK\r\nBad Name: a\r\n\r\n", "header name");
	refused("HTTP/1.1 200 OK\r\n: a\r\n\r\n", "without a name");
	refused("HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "without a name");
	refused("HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", "stray CR");
	refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n",
	        "after chunked");
	refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk size");
	refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", "chunk size");
	refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\n",
	        "too big");
	refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nzz\r\n", "longer");
}
END_TEST

START_TEST(what_is_not_an_http_answer_is_refused)
{
	static const char *const bad[] = {
		"HTTP/2 200 OK\r\n\r\n", "HTTP/1.2 200 OK\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 600 X\r\n\r\n", "HTTP/1.1 099 X\r\n\r\n", "ICY 200 OK\r\n\r\n",
		"HTTP/1.1 200OK\r\n\r\n", "http/1.1 200 OK\r\n\r\n", "\r\n",
		"SSH-2.0-OpenSSH_9.2\r\n",
	};

	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		refused(bad[i], "status line");
}
END_TEST

START_TEST(sizes_are_bounded)
{
	size_t big = LV_HTTP_LINE_MAX + 100;
	char *text = malloc(big + 64);

	ck_assert_ptr_nonnull(text);
	strcpy(text, "HTTP/1.1 200 OK\r\nX: ");
	memset(text + strlen(text), 'a', big);
	strcpy(text + strlen("HTTP/1.1 200 OK\r\nX: ") + big, "\r\n\r\n");
	refused(text, "longer than");
	strcpy(text, "HTTP/1.1 200 OK\r\n");
	for (int i = 0; i <= LV_HTTP_HEADERS_MAX; i++)
		strcat(text, "X: y\r\n");
	strcat(text, "\r\n");
	refused(text, "header lines");
	free(text);
}
END_TEST

START_TEST(a_close_ends_only_a_body_that_runs_to_it)
{
	refused("", "with no answer");
	refused("HTTP/1.1 200 OK\r\nContent-Le", "before the answer was complete");
	refused("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc", "before the answer");
	refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabc", "before");
	ck_assert_int_eq(answer("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc", false).rc,
	                 LV_HTTP_MORE);
}
END_TEST

START_TEST(an_error_stays)
{
	struct lv_http_response *r = malloc(sizeof *r);
	size_t used;

	ck_assert_ptr_nonnull(r);
	lv_http_response_init(r, NULL, 0);
	ck_assert_int_eq(lv_http_response_feed(r, "HTTP/9 200\r\n", 12, &used), LV_HTTP_ERROR);
	ck_assert_int_eq(lv_http_response_feed(r, "HTTP/1.1 200 OK\r\n\r\n", 19, &used),
	                 LV_HTTP_ERROR);
	ck_assert_int_eq(lv_http_response_eof(r), LV_HTTP_ERROR);
	/* and init starts afresh, as for the next attempt on a kept connection */
	lv_http_response_init(r, NULL, 0);
	ck_assert_int_eq(lv_http_response_feed(r, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 38,
	                                       &used), LV_HTTP_DONE);
	ck_assert_uint_eq(r->status, 200);
	free(r);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("http_response");
	TCase *tc = tcase_create("response");

	tcase_add_test(tc, bodies_end_as_their_headers_say);
	tcase_add_test(tc, the_body_is_cut_where_the_regex_stops_looking);
	tcase_add_test(tc, interim_answers_are_skipped);
	tcase_add_test(tc, whether_the_connection_is_kept);
	tcase_add_test(tc, what_follows_the_answer_is_not_read);
	tcase_add_test(tc, ambiguous_answers_are_refused);
	tcase_add_test(tc, what_is_not_an_http_answer_is_refused);
	tcase_add_test(tc, sizes_are_bounded);
	tcase_add_test(tc, a_close_ends_only_a_body_that_runs_to_it);
	tcase_add_test(tc, an_error_stays);
	suite_add_tcase(su, tc);
	return lv_check_run(su);
}
