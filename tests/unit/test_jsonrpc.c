/* test_jsonrpc: the JSON-RPC 2.0 session: every error code, batches, notifications,
 * parked calls answered in request order, and the shared params validator. */
#include <check.h>

#include "check_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/jsonrpc.h"
#include "ipc/utf8.h"

static char out[65536];
static size_t out_len;
static struct lv_rpc_call *parked;
static int cancelled;

static void sink(void *io, const char *data, size_t len)
{
	(void)io;
	ck_assert_uint_lt(out_len + len, sizeof out);
	memcpy(out + out_len, data, len);
	out_len += len;
	out[out_len] = '\0';
}

static void h_echo(struct lv_rpc_call *call, json_t *params, void *app)
{
	(void)app;
	lv_rpc_reply(call, json_incref(params));
}

static void h_park(struct lv_rpc_call *call, json_t *params, void *app)
{
	(void)params;
	(void)app;
	parked = call;
	lv_rpc_park(call, NULL, NULL);
}

static void h_cancel_count(void *arg)
{
	(void)arg;
	cancelled++;
}

static void h_park_counted(struct lv_rpc_call *call, json_t *params, void *app)
{
	(void)params;
	(void)app;
	parked = call;
	lv_rpc_park(call, h_cancel_count, NULL);
}

/* fails with the target in its message, as the daemon's handlers do ("... waiting for %s") */
static void h_failf(struct lv_rpc_call *call, json_t *params, void *app)
{
	(void)app;
	lv_rpc_failf(call, -32001, NULL, "no such pool or worker: %s",
	             json_string_value(json_object_get(params, "target")));
}

static const struct lv_rpc_param p_echo[] = {
	{ "target", LV_RPC_STRING, true }, { "n", LV_RPC_INT, false }, { NULL, 0, false } };

static const struct lv_rpc_method methods[] = {
	{ "echo", p_echo, h_echo, LV_ROLE_READ },
	{ "park", NULL, h_park, LV_ROLE_READ },
	{ "park2", NULL, h_park_counted, LV_ROLE_ADMIN },
	{ "failf", p_echo, h_failf, LV_ROLE_READ },
	{ NULL, NULL, NULL, 0 },
};

static struct lv_rpc_session *s;

static void setup(void)
{
	out_len = 0;
	out[0] = '\0';
	parked = NULL;
	cancelled = 0;
	s = lv_rpc_session_new(methods, NULL, sink, NULL);
}

static void teardown(void)
{
	lv_rpc_session_free(s);
}

static void feed(const char *line)
{
	lv_rpc_session_handle(s, line, strlen(line));
}

/* Returns the output so far as one parsed value and clears it. */
static json_t *take(void)
{
	json_t *v;

	ck_assert_msg(out_len > 0 && out[out_len - 1] == '\n', "no complete line: %s", out);
	ck_assert_ptr_null(memchr(out, '\n', out_len - 1));
	v = json_loadb(out, out_len - 1, 0, NULL);
	ck_assert_ptr_nonnull(v);
	out_len = 0;
	out[0] = '\0';
	return v;
}

static void assert_error(json_t *resp, int code, json_t *id)
{
	ck_assert_str_eq(json_string_value(json_object_get(resp, "jsonrpc")), "2.0");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(resp, "error"), "code")),
	                 code);
	ck_assert(json_equal(json_object_get(resp, "id"), id));
	ck_assert_ptr_null(json_object_get(resp, "result"));
}

START_TEST(result_echoes_id)
{
	json_t *r;

	feed("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"target\":\"x\"},\"id\":\"abc\"}");
	r = take();
	ck_assert_str_eq(json_string_value(json_object_get(r, "id")), "abc");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r, "result"), "target")),
	                 "x");
	json_decref(r);
}
END_TEST

START_TEST(parse_error_has_null_id)
{
	json_t *r;

	feed("{\"jsonrpc\":\"2.0\",");
	r = take();
	assert_error(r, -32700, json_null());
	json_decref(r);
	feed("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"method\":\"x\",\"id\":1}");
	r = take();
	assert_error(r, -32700, json_null());
	json_decref(r);
}
END_TEST

START_TEST(invalid_requests)
{
	json_t *r, *one = json_integer(7);

	feed("1");
	r = take();
	assert_error(r, -32600, json_null());
	json_decref(r);
	feed("{\"jsonrpc\":\"1.0\",\"method\":\"echo\",\"id\":7}");
	r = take();
	assert_error(r, -32600, one);
	json_decref(r);
	feed("{\"jsonrpc\":\"2.0\",\"method\":5,\"id\":7}");
	r = take();
	assert_error(r, -32600, one);
	json_decref(r);
	feed("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":{}}");
	r = take();
	assert_error(r, -32600, json_null());
	json_decref(r);
	feed("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"extra\":1,\"id\":7}");
	r = take();
	assert_error(r, -32600, one);
	json_decref(r);
	json_decref(one);
}
END_TEST

START_TEST(method_not_found)
{
	json_t *r, *id = json_integer(3);

	feed("{\"jsonrpc\":\"2.0\",\"method\":\"nope\",\"id\":3}");
	r = take();
	assert_error(r, -32601, id);
	json_decref(r);
	json_decref(id);
}
END_TEST

START_TEST(invalid_params_name_the_field)
{
	json_t *r, *id = json_integer(1);
	const char *msg;

	feed("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"target\":1},\"id\":1}");
	r = take();
	assert_error(r, -32602, id);
	msg = json_string_value(json_object_get(json_object_get(r, "error"), "message"));
	ck_assert_str_eq(msg, "params.target: must be a string");
	json_decref(r);
	feed("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{},\"id\":1}");
	r = take();
	msg = json_string_value(json_object_get(json_object_get(r, "error"), "message"));
	ck_assert_str_eq(msg, "params.target: required");
	json_decref(r);
	feed("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"target\":\"a\",\"zz\":1},\"id\":1}");
	r = take();
	msg = json_string_value(json_object_get(json_object_get(r, "error"), "message"));
	ck_assert_str_eq(msg, "params.zz: unknown parameter");
	json_decref(r);
	feed("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[1],\"id\":1}");
	r = take();
	assert_error(r, -32602, id);
	json_decref(r);
	json_decref(id);
}
END_TEST

/* What common clients send: [] for no params, a blank line from a terminal; params that
 * are neither object nor array break the request itself (-32600, JSON-RPC 2.0 4.2). */
START_TEST(common_client_habits)
{
	json_t *r, *id = json_integer(3);

	feed("{\"jsonrpc\":\"2.0\",\"method\":\"park\",\"params\":[],\"id\":3}");
	ck_assert_uint_eq(out_len, 0); /* taken as no params: the handler parked it */
	ck_assert_ptr_nonnull(parked);
	lv_rpc_reply(parked, json_true());
	r = take();
	ck_assert(json_equal(json_object_get(r, "id"), id));
	ck_assert(json_is_true(json_object_get(r, "result")));
	json_decref(r);
	feed("");
	feed("  \t\r");
	ck_assert_uint_eq(out_len, 0);
	ck_assert_uint_eq(lv_rpc_session_pending(s), 0);
	feed("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":\"x\",\"id\":3}");
	r = take();
	assert_error(r, -32600, id);
	json_decref(r);
	feed("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[],\"id\":3}");
	r = take(); /* [] is no params: echo's target is then missing */
	assert_error(r, -32602, id);
	json_decref(r);
	json_decref(id);
}
END_TEST

START_TEST(notifications_get_no_reply)
{
	feed("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"target\":\"x\"}}");
	feed("{\"jsonrpc\":\"2.0\",\"method\":\"nope\"}");
	ck_assert_uint_eq(out_len, 0);
	ck_assert_uint_eq(lv_rpc_session_pending(s), 0);
}
END_TEST

START_TEST(batch_mixed)
{
	json_t *r;

	feed("[{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"target\":\"a\"},\"id\":1},"
	     "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"target\":\"n\"}},"
	     "1,"
	     "{\"jsonrpc\":\"2.0\",\"method\":\"nope\",\"id\":2}]");
	r = take();
	ck_assert(json_is_array(r));
	ck_assert_uint_eq(json_array_size(r), 3);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(r, 0), "id")), 1);
	assert_error(json_array_get(r, 1), -32600, json_null());
	ck_assert_int_eq(json_integer_value(json_object_get(
		json_object_get(json_array_get(r, 2), "error"), "code")), -32601);
	json_decref(r);
}
END_TEST

START_TEST(batch_edge_cases)
{
	json_t *r;

	feed("[]");
	r = take();
	ck_assert(json_is_object(r));
	assert_error(r, -32600, json_null());
	json_decref(r);
	feed("[{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"target\":\"a\"}}]");
	ck_assert_uint_eq(out_len, 0);
}
END_TEST

/* docs/protocol.md: a batch has at most 256 members. 256 are each answered, in order;
 * 257 get one -32600 "batch too large" and none of them is run. */
static char *batch_of(int n)
{
	static const char member[] = "{\"jsonrpc\":\"2.0\",\"method\":\"echo\","
	                             "\"params\":{\"target\":\"t\",\"n\":%d},\"id\":%d}";
	char *text = malloc((size_t)n * (sizeof member + 16) + 3), *p = text;

	ck_assert_ptr_nonnull(text);
	*p++ = '[';
	for (int i = 0; i < n; i++) {
		p += sprintf(p, member, i, i);
		if (i + 1 < n)
			*p++ = ',';
	}
	*p++ = ']';
	*p = '\0';
	return text;
}

START_TEST(a_batch_has_at_most_256_members)
{
	char *text = batch_of(256);
	json_t *r, *m;
	size_t i;

	feed(text);
	free(text);
	r = take();
	ck_assert(json_is_array(r));
	ck_assert_uint_eq(json_array_size(r), 256);
	json_array_foreach(r, i, m) {
		ck_assert_int_eq(json_integer_value(json_object_get(m, "id")), (json_int_t)i);
		ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(m, "result"), "n")),
		                 (json_int_t)i);
	}
	json_decref(r);

	text = batch_of(257);
	feed(text);
	free(text);
	r = take();
	ck_assert(json_is_object(r));
	assert_error(r, -32600, json_null());
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r, "error"), "message")),
	                 "batch too large");
	json_decref(r);
	ck_assert_uint_eq(lv_rpc_session_pending(s), 0);
}
END_TEST

START_TEST(parked_call_keeps_order)
{
	json_t *r;

	feed("{\"jsonrpc\":\"2.0\",\"method\":\"park\",\"id\":1}");
	feed("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"target\":\"b\"},\"id\":2}");
	ck_assert_uint_eq(out_len, 0);
	ck_assert_uint_eq(lv_rpc_session_pending(s), 2);
	ck_assert_ptr_nonnull(parked);
	lv_rpc_reply(parked, json_string("late"));
	ck_assert_uint_eq(lv_rpc_session_pending(s), 0);
	/* two lines, in request order */
	{
		char *nl = memchr(out, '\n', out_len);
		ck_assert_ptr_nonnull(nl);
		r = json_loadb(out, (size_t)(nl - out), 0, NULL);
		ck_assert_int_eq(json_integer_value(json_object_get(r, "id")), 1);
		ck_assert_str_eq(json_string_value(json_object_get(r, "result")), "late");
		json_decref(r);
		r = json_loads(nl + 1, 0, NULL);
		ck_assert_int_eq(json_integer_value(json_object_get(r, "id")), 2);
		json_decref(r);
	}
}
END_TEST

START_TEST(closing_cancels_parked)
{
	feed("{\"jsonrpc\":\"2.0\",\"method\":\"park2\",\"id\":1}");
	ck_assert_int_eq(cancelled, 0);
	lv_rpc_session_free(s);
	s = NULL;
	ck_assert_int_eq(cancelled, 1);
}
END_TEST

START_TEST(notify_and_bare_error)
{
	json_t *r;

	lv_rpc_session_notify(s, "event", json_pack("{s:i}", "seq", 1));
	r = take();
	ck_assert_str_eq(json_string_value(json_object_get(r, "method")), "event");
	ck_assert_ptr_null(json_object_get(r, "id"));
	json_decref(r);
	lv_rpc_session_send_error(s, -32600, "request too large");
	r = take();
	assert_error(r, -32600, json_null());
	json_decref(r);
}
END_TEST

static int denials;

static void count_denial(void *io, const char *method)
{
	(void)io;
	ck_assert_str_eq(method, "park2");
	denials++;
}

START_TEST(roles_gate_methods)
{
	json_t *r, *id = json_integer(1);

	denials = 0;
	lv_rpc_session_set_role(s, LV_ROLE_READ, count_denial);
	feed("{\"jsonrpc\":\"2.0\",\"method\":\"park2\",\"id\":1}");
	r = take();
	assert_error(r, -32003, id);
	json_decref(r);
	ck_assert_int_eq(denials, 1);
	feed("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"target\":\"x\"},\"id\":1}");
	r = take();
	ck_assert_ptr_nonnull(json_object_get(r, "result"));
	json_decref(r);
	lv_rpc_session_set_role(s, LV_ROLE_NONE, NULL);
	feed("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"target\":\"x\"},\"id\":1}");
	r = take();
	assert_error(r, -32003, id);
	json_decref(r);
	json_decref(id);
}
END_TEST

/* "é" (2 bytes) n times, NUL-terminated, malloc'd */
static char *multibyte(size_t n)
{
	char *text = malloc(2 * n + 1);

	for (size_t i = 0; i < n; i++)
		memcpy(text + 2 * i, "\xc3\xa9", 2);
	text[2 * n] = '\0';
	return text;
}

static const char *message_of(json_t *resp)
{
	return json_string_value(json_object_get(json_object_get(resp, "error"), "message"));
}

/* A message cut by a fixed-size buffer in the middle of a character used to make jansson
 * refuse the whole reply: the request was never answered. */
START_TEST(messages_cut_inside_a_character_still_answer)
{
	char *name = multibyte(400), *line;
	const char *msg;
	json_t *r, *id = json_integer(1);

	/* 24 + 800 bytes into a 512-byte buffer: byte 511 falls inside an "é" */
	ck_assert_int_ge(asprintf(&line, "{\"jsonrpc\":\"2.0\",\"method\":\"failf\","
	                          "\"params\":{\"target\":\"%s\"},\"id\":1}", name), 0);
	feed(line);
	free(line);
	r = take();
	assert_error(r, -32001, id);
	msg = message_of(r);
	ck_assert_ptr_nonnull(msg);
	ck_assert_uint_eq(strlen(msg), 511 - 1); /* the half character is dropped, not sent */
	ck_assert_int_eq(strncmp(msg, "no such pool or worker: \xc3\xa9", 26), 0);
	json_decref(r);
	/* the params validator's 256-byte buffer: an unknown key of 2-byte characters, cut */
	ck_assert_int_ge(asprintf(&line, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\","
	                          "\"params\":{\"target\":\"x\",\"%s\":1},\"id\":1}", name), 0);
	feed(line);
	free(line);
	r = take();
	assert_error(r, -32602, id);
	msg = message_of(r);
	ck_assert_ptr_nonnull(msg);
	ck_assert_int_eq(strncmp(msg, "params.\xc3\xa9", 9), 0);
	ck_assert(lv_utf8_valid(msg));
	json_decref(r);
	json_decref(id);
	free(name);
}
END_TEST

/* Every member of a batch that has an id gets exactly one response, in order, whatever
 * went wrong with it; notifications none. */
START_TEST(every_batch_member_with_an_id_is_answered)
{
	char *name = multibyte(400), *line;
	json_t *r;
	/* member: the id it carries (-1: a notification, 0: its id cannot be read -> null) */
	const int ids[] = { 1, 2, 3, -1, 5, 0, 7, 0, 9 };
	size_t k = 0;

	ck_assert_int_ge(asprintf(&line, "["
		"{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"target\":\"a\"},\"id\":1},"
		"{\"jsonrpc\":\"2.0\",\"method\":\"failf\",\"params\":{\"target\":\"%s\"},\"id\":2},"
		"{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"target\":\"a\",\"%s\":1},\"id\":3},"
		"{\"jsonrpc\":\"2.0\",\"method\":\"failf\",\"params\":{\"target\":\"%s\"}},"
		"{\"jsonrpc\":\"2.0\",\"method\":\"nope\",\"id\":5},"
		"\"%s\","
		"{\"jsonrpc\":\"2.0\",\"method\":\"park2\",\"id\":7},"
		"{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":[8]},"
		"{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"%s\":\"x\"},\"id\":9}]",
		name, name, name, name, name), 0);
	lv_rpc_session_set_role(s, LV_ROLE_READ, NULL); /* park2 is denied: answered at once */
	feed(line);
	free(line);
	r = take();
	ck_assert(json_is_array(r));
	for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		json_t *m = json_array_get(r, k);

		if (ids[i] < 0)
			continue;
		ck_assert_msg(m != NULL, "member %zu has no response", i);
		if (ids[i] == 0)
			ck_assert(json_is_null(json_object_get(m, "id")));
		else
			ck_assert_int_eq(json_integer_value(json_object_get(m, "id")), ids[i]);
		ck_assert(json_object_get(m, "result") || message_of(m));
		k++;
	}
	ck_assert_uint_eq(json_array_size(r), k);
	ck_assert_uint_eq(lv_rpc_session_pending(s), 0);
	json_decref(r);
	free(name);
}
END_TEST

START_TEST(utf8_fix_cuts_on_characters)
{
	char cut[] = "ab\xc3\xa9\xe2\x82", bad[] = "a\xff" "b\xc3(c", ok[] = "\xf0\x9f\x98\x80z";

	ck_assert_str_eq(lv_utf8_fix(cut), "ab\xc3\xa9");
	ck_assert_str_eq(lv_utf8_fix(bad), "a?b?(c");
	ck_assert_str_eq(lv_utf8_fix(ok), "\xf0\x9f\x98\x80z");
	ck_assert(lv_utf8_valid(cut) && lv_utf8_valid(bad) && lv_utf8_valid(ok));
	ck_assert(!lv_utf8_valid("\xed\xa0\x80")); /* a surrogate, as jansson judges it */
}
END_TEST

static Suite *suite(void)
{
	Suite *su = suite_create("jsonrpc");
	TCase *tc = tcase_create("session");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, result_echoes_id);
	tcase_add_test(tc, parse_error_has_null_id);
	tcase_add_test(tc, invalid_requests);
	tcase_add_test(tc, method_not_found);
	tcase_add_test(tc, invalid_params_name_the_field);
	tcase_add_test(tc, notifications_get_no_reply);
	tcase_add_test(tc, common_client_habits);
	tcase_add_test(tc, batch_mixed);
	tcase_add_test(tc, batch_edge_cases);
	tcase_add_test(tc, a_batch_has_at_most_256_members);
	tcase_add_test(tc, parked_call_keeps_order);
	tcase_add_test(tc, closing_cancels_parked);
	tcase_add_test(tc, notify_and_bare_error);
	tcase_add_test(tc, roles_gate_methods);
	tcase_add_test(tc, messages_cut_inside_a_character_still_answer);
	tcase_add_test(tc, every_batch_member_with_an_id_is_answered);
	tcase_add_test(tc, utf8_fix_cuts_on_characters);
	suite_add_tcase(su, tc);
	return su;
}

int main(void)
{
	return lv_check_run(suite());
}
