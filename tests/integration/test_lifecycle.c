/* test_lifecycle: what a request may meet while pools and workers come and go: an inspect
 * whose worker is scaled away or removed under it is answered at once. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static struct lvd d;

static void teardown(void)
{
	lvd_stop(&d);
}

static int scaled(int ms)
{
	const char *m = getenv("CK_TIMEOUT_MULTIPLIER");

	return m && atoi(m) > 1 ? ms * atoi(m) : ms;
}

/* The reply to one raw request line on c, read within ms: its "result" or "error" member
 * (a new reference), or NULL if none came. */
static json_t *reply_within(struct lv_client *c, int ms, bool *is_error)
{
	char *line = lv_client_read_line(c, scaled(ms));
	json_t *msg = line ? json_loads(line, 0, NULL) : NULL, *out;

	free(line);
	*is_error = json_object_get(msg, "error") != NULL;
	out = json_incref(json_object_get(msg, *is_error ? "error" : "result"));
	json_decref(msg);
	return out;
}

static void send_line(struct lv_client *c, const char *line)
{
	ck_assert_int_eq(lv_client_send_line(c, line, strlen(line)), 0);
}

/* Pipelined on one connection: the inspect is parked before the next line is read. */
static void expect_inspect_settled_by(struct lv_client *c, const char *worker, const char *then)
{
	char line[512];
	json_t *r;
	bool err;

	snprintf(line, sizeof line, "{\"jsonrpc\":\"2.0\",\"method\":\"inspect\",\"params\":"
	         "{\"target\":\"%s\",\"timeout_ms\":30000},\"id\":1}", worker);
	send_line(c, line);
	send_line(c, then);
	r = reply_within(c, 10000, &err);
	ck_assert_msg(r != NULL, "the inspect of %s was not answered when it went", worker);
	ck_assert(err);
	ck_assert_int_eq(JINT(r, "code"), -32006);
	ck_assert_str_eq(JSTR(json_object_get(r, "data"), "worker"), worker);
	ck_assert_ptr_nonnull(strstr(JSTR(r, "message"), "before it answered"));
	json_decref(r);
	r = reply_within(c, 10000, &err);
	ck_assert_msg(r != NULL && !err, "no reply to %s", then);
	json_decref(r);
}

START_TEST(an_inspect_is_answered_when_its_worker_goes)
{
	struct lv_client *c;
	json_t *r;

	lvd_start(&d, "{\"job_path\":[\"%s\"],\"pools\":[{\"name\":\"stuck\",\"module\":"
	              "\"lv_testjob\",\"workers\":2,\"hang_timeout_ms\":0,\"stop_timeout_ms\":300,"
	              "\"params\":{\"block_on_inspect\":true}}]}", lvd_build_path("tests"));
	json_decref(lvd_wait(&d, "stuck", "running", 0));
	c = lv_client_connect(d.sock);
	ck_assert_ptr_nonnull(c);
	/* scaled away while its loop hangs in the question: killed after the stop timeout */
	expect_inspect_settled_by(c, "stuck:1", "{\"jsonrpc\":\"2.0\",\"method\":\"scale\","
	                          "\"params\":{\"pool\":\"stuck\",\"workers\":1,\"wait\":false},\"id\":2}");
	/* the whole pool removed */
	expect_inspect_settled_by(c, "stuck:0", "{\"jsonrpc\":\"2.0\",\"method\":\"remove\","
	                          "\"params\":{\"pool\":\"stuck\",\"wait\":false},\"id\":3}");
	lv_client_close(c);
	r = lvd_call(&d, "ping", NULL);
	ck_assert_str_eq(json_string_value(r), "pong");
	json_decref(r);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("lifecycle");
	TCase *tc = tcase_create("lifecycle");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, an_inspect_is_answered_when_its_worker_goes);
	suite_add_tcase(su, tc);
	return lvd_run_suite(su);
}
