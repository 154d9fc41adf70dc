/* test_protocol_doc: replays every exchange in docs/protocol.md against the real daemon,
 * so the protocol documentation cannot drift from what loopvisord answers. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define ARROW_OUT "\xe2\x86\x92 " /* "→ " */
#define ARROW_IN "\xe2\x86\x90 "  /* "← " */

static struct lvd d;

static void teardown(void)
{
	lvd_stop(&d);
}

/* What the kernel accounts differs from run to run and from host to host (null where a
 * controller is missing): only the shape of "resources" is compared. */
static void zero_figures(json_t *v)
{
	const char *key;
	json_t *m;

	json_object_foreach(v, key, m) {
		if (json_is_object(m))
			zero_figures(m);
		else
			json_object_set_new(v, key, json_integer(0));
	}
}

/* Values that differ from run to run are compared by type only (a heartbeat may or may
 * not have arrived yet). */
static void normalize(json_t *v)
{
	const char *key;
	json_t *m;
	size_t i;

	if (json_is_array(v)) {
		json_array_foreach(v, i, m)
			normalize(m);
		return;
	}
	json_object_foreach(v, key, m) {
		if ((!strcmp(key, "pid") || !strcmp(key, "uptime_ms") || !strcmp(key, "lag_us") ||
		     !strcmp(key, "lag_max_us") || !strcmp(key, "thread") || !strcmp(key, "events")) &&
		    json_is_integer(m))
			json_integer_set(m, 0);
		else if (!strcmp(key, "heartbeat_age_ms") && (json_is_integer(m) || json_is_null(m)))
			json_object_set_new(v, key, json_integer(0));
		else if (!strcmp(key, "cgroup") && json_is_string(m)) /* the host's, and its pids */
			json_string_set(m, "*");
		else if (!strcmp(key, "resources") && json_is_object(m))
			zero_figures(m);
		else if ((!strcmp(key, "version") || !strcmp(key, "libevent") ||
		          !strcmp(key, "jansson") || !strcmp(key, "base")) && json_is_string(m))
			json_string_set(m, "*");
		else
			normalize(m);
	}
}

static char *doc_config(const char *doc)
{
	const char *mark = strstr(doc, "<!-- replay-config -->"), *start, *end;

	ck_assert_ptr_nonnull(mark);
	start = strstr(mark, "```json\n");
	ck_assert_ptr_nonnull(start);
	start += 8;
	end = strstr(start, "```");
	ck_assert_ptr_nonnull(end);
	return strndup(start, (size_t)(end - start));
}

static void expect_reply(struct lv_client *c, const char *sent, const char *expected_text)
{
	json_error_t err;
	json_t *expected = json_loads(expected_text, 0, &err), *got;
	char *line = lv_client_read_line(c, 30000);

	ck_assert_msg(expected != NULL, "docs/protocol.md: bad JSON in %s: %s", expected_text,
	              err.text);
	ck_assert_msg(line != NULL, "no reply to %s", sent);
	got = json_loads(line, 0, &err);
	ck_assert_msg(got != NULL, "reply is not JSON: %s", line);
	normalize(expected);
	normalize(got);
	ck_assert_msg(json_equal(expected, got), "to %s\nthe doc says %s\nthe daemon said %s",
	              sent, expected_text, line);
	json_decref(expected);
	json_decref(got);
	free(line);
}

START_TEST(every_documented_exchange_is_what_the_daemon_says)
{
	char path[512], *doc, *config, *save = NULL, *sent = NULL;
	struct lv_client *c;
	int exchanges = 0;

	snprintf(path, sizeof path, "%s/docs/protocol.md", getenv("LV_SOURCE_DIR"));
	doc = slurp(path);
	ck_assert_msg(doc != NULL, "cannot read %s", path);
	config = doc_config(doc);
	lvd_start(&d, "%s", config);
	c = lv_client_connect(d.sock);
	ck_assert_ptr_nonnull(c);
	for (char *line = strtok_r(doc, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, ARROW_OUT, strlen(ARROW_OUT))) {
			sent = line + strlen(ARROW_OUT);
			ck_assert_int_eq(lv_client_send_line(c, sent, strlen(sent)), 0);
			exchanges++;
		} else if (!strncmp(line, ARROW_IN, strlen(ARROW_IN))) {
			ck_assert_ptr_nonnull(sent);
			expect_reply(c, sent, line + strlen(ARROW_IN));
		}
	}
	ck_assert_int_ge(exchanges, 20);
	/* the last exchange shut the daemon down */
	ck_assert(lvd_wait_exit(&d, 20000));
	lv_client_close(c);
	free(config);
	free(doc);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("protocol_doc");
	TCase *tc = tcase_create("replay");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, every_documented_exchange_is_what_the_daemon_says);
	suite_add_tcase(su, tc);
	return lvd_run_suite(su);
}
