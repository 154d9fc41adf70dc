/* test_channel: heartbeats in the worker library's fixed form are read without a parser,
 * and agree with what jansson reads from the same line; anything that is not exactly that
 * form goes through the parser instead, as every other message does. */
#include <check.h>

#include "check_run.h"
#include <event2/buffer.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "ipc/channel.h"

START_TEST(a_formatted_heartbeat_scans_back_and_parses_the_same)
{
	struct lv_heartbeat hb = { .loop = 3, .lag_us = 120, .lag_max_us = 999999999999LL,
	                           .events = 7, .counters = "{\"ticks\":42}", .counters_len = 12 };
	struct lv_heartbeat back;
	char line[256];
	size_t len = lv_heartbeat_format(line, sizeof line, &hb);
	json_t *msg = NULL;

	ck_assert_uint_gt(len, 0);
	ck_assert_int_eq(line[len - 1], '\n');
	ck_assert(lv_heartbeat_scan(line, len - 1, &back));
	ck_assert_uint_eq(back.loop, 3);
	ck_assert_int_eq(back.lag_us, 120);
	ck_assert_int_eq(back.lag_max_us, 999999999999LL);
	ck_assert_int_eq(back.events, 7);
	ck_assert_uint_eq(back.counters_len, 12);
	ck_assert(memcmp(back.counters, "{\"ticks\":42}", 12) == 0);
	/* a reader without the scanner gets the same from jansson */
	ck_assert_int_eq(lv_msg_parse(line, len - 1, &msg), LV_MSG_HEARTBEAT);
	ck_assert_int_eq(json_integer_value(json_object_get(msg, "lag_max_us")), 999999999999LL);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(msg, "counters"),
	                                                    "ticks")), 42);
	json_decref(msg);
	/* too small a buffer writes nothing */
	ck_assert_uint_eq(lv_heartbeat_format(line, 20, &hb), 0);
}
END_TEST

START_TEST(anything_else_is_not_scanned)
{
	static const char *const others[] = {
		"{\"loop\":0,\"t\":\"hb\",\"lag_us\":1,\"lag_max_us\":1,\"events\":1,\"counters\":{}}",
		"{\"t\":\"hb\",\"loop\":0,\"lag_us\":-1,\"lag_max_us\":1,\"events\":1,\"counters\":{}}",
		("{\"t\":\"hb\",\"loop\":0,\"lag_us\":1234567890123456789,\"lag_max_us\":1,\"events\":1,"
		 "\"counters\":{}}"),
		"{\"t\":\"hb\",\"loop\":0,\"lag_us\":,\"lag_max_us\":1,\"events\":1,\"counters\":{}}",
		"{\"t\":\"hb\",\"loop\":0,\"lag_us\":1,\"lag_max_us\":1,\"events\":1}",
		"{\"t\":\"hb\",\"loop\":0,\"lag_us\":1,\"lag_max_us\":1,\"events\":1,\"counters\":[]}",
		"{\"t\":\"hb\",\"loop\":0,\"lag_us\":1,\"lag_max_us\":1,\"events\":1,\"counters\":{}",
		"{\"t\":\"hb\",\"loop\":0,\"lag_us\":1,\"lag_max_us\":1,\"events\":1,\"counters\":{}} ",
		"{\"t\":\"hb\",\"loop\":99999,\"lag_us\":1,\"lag_max_us\":1,\"events\":1,\"counters\":{}}",
		"{\"t\":\"hb\",\"loop\":0,\"lag_us\":1",
		"",
	};

	for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
		struct lv_heartbeat hb;

		ck_assert_msg(!lv_heartbeat_scan(others[i], strlen(others[i]), &hb), "scanned: %s",
		              others[i]);
	}
}
END_TEST

struct seen {
	int scanned, parsed_hb, logs;
	char counters[64];
};

static void on_message(void *arg, enum lv_msg_type type, json_t *msg)
{
	struct seen *s = arg;

	(void)msg;
	s->parsed_hb += type == LV_MSG_HEARTBEAT;
	s->logs += type == LV_MSG_LOG;
}

static void on_heartbeat(void *arg, const struct lv_heartbeat *hb)
{
	struct seen *s = arg;

	s->scanned++;
	snprintf(s->counters, sizeof s->counters, "%.*s", (int)hb->counters_len, hb->counters);
}

START_TEST(the_channel_reader_hands_fixed_heartbeats_to_the_scanner)
{
	static const char input[] =
		"{\"t\":\"hb\",\"loop\":0,\"lag_us\":5,\"lag_max_us\":9,\"events\":2,\"counters\":{\"a\":1}}\n"
		"{\"counters\":{},\"t\":\"hb\",\"lag_us\":5}\n"
		"{\"t\":\"log\",\"level\":\"info\",\"msg\":\"hi\"}\n";
	struct evbuffer *in = evbuffer_new();
	struct seen s = { 0 };

	evbuffer_add(in, input, sizeof input - 1);
	ck_assert(lv_channel_read(in, on_message, on_heartbeat, &s));
	ck_assert_int_eq(s.scanned, 1);
	ck_assert_str_eq(s.counters, "{\"a\":1}");
	ck_assert_int_eq(s.parsed_hb, 1);
	ck_assert_int_eq(s.logs, 1);
	ck_assert_uint_eq(evbuffer_get_length(in), 0);
	/* without a scanner every heartbeat is parsed */
	memset(&s, 0, sizeof s);
	evbuffer_add(in, input, sizeof input - 1);
	ck_assert(lv_channel_read(in, on_message, NULL, &s));
	ck_assert_int_eq(s.scanned, 0);
	ck_assert_int_eq(s.parsed_hb, 2);
	evbuffer_free(in);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("channel");
	TCase *tc = tcase_create("heartbeats");

	tcase_add_test(tc, a_formatted_heartbeat_scans_back_and_parses_the_same);
	tcase_add_test(tc, anything_else_is_not_scanned);
	tcase_add_test(tc, the_channel_reader_hands_fixed_heartbeats_to_the_scanner);
	suite_add_tcase(su, tc);
	return lv_check_run(su);
}
