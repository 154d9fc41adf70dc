/* test_notify: who can speak on the notify socket of "ready": "notify" workers. A worker
 * cannot speak for another one from a process it slipped into the victim's process group. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"

static struct lvd d;
static char victim_file[64];

static void teardown(void)
{
	lvd_stop(&d);
	if (victim_file[0])
		unlink(victim_file);
	victim_file[0] = '\0';
}

START_TEST(a_worker_cannot_speak_for_another_from_its_process_group)
{
	json_t *w;
	FILE *f;
	int fd;

	snprintf(victim_file, sizeof victim_file, "/tmp/lvvictim.XXXXXX");
	ck_assert_int_ge(fd = mkstemp(victim_file), 0);
	close(fd);
	lvd_start(&d, "{\"pools\":["
	              "{\"name\":\"victim\",\"exec\":[\"sleep\",\"1000\"],\"ready\":\"notify\","
	              "\"start_timeout_ms\":60000,\"autostart\":false},"
	              "{\"name\":\"forger\",\"exec\":[\"%s\",\"forge\",\"%s\"],\"ready\":\"notify\","
	              "\"autostart\":false}]}",
	              lvd_build_path("tests/notify_helper"), victim_file);
	json_decref(lvd_call(&d, "start", "{\"target\":\"victim\",\"wait\":false}"));
	ck_assert_ptr_nonnull(f = fopen(victim_file, "w"));
	fprintf(f, "%d\n", (int)lvd_worker_pid(&d, "victim:0"));
	fclose(f);
	/* the forger is running once its child has sent READY=1, STATUS= and WATCHDOG=1 from
	 * the victim's group (or tried to): that datagram was read before the forger's own */
	json_decref(lvd_call(&d, "start", "{\"target\":\"forger\"}"));
	w = lvd_worker(&d, "victim:0");
	ck_assert_str_eq(JSTR(w, "state"), "starting");
	ck_assert(json_is_null(json_object_get(json_object_get(w, "notify"), "status")));
	ck_assert(!json_is_integer(json_object_get(json_object_get(w, "loop"), "heartbeat_age_ms")));
	json_decref(w);
	lvd_expect_no_change(&d, "victim", "\"running\"", 300);
	/* each worker leads its own session, which no process of another one can join */
	ck_assert_int_eq(getsid(lvd_worker_pid(&d, "forger:0")), lvd_worker_pid(&d, "forger:0"));
	ck_assert_int_eq(getsid(lvd_worker_pid(&d, "victim:0")), lvd_worker_pid(&d, "victim:0"));
}
END_TEST

int main(void)
{
	Suite *su = suite_create("notify");
	TCase *tc = tcase_create("notify");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, a_worker_cannot_speak_for_another_from_its_process_group);
	suite_add_tcase(su, tc);
	return lvd_run_suite(su);
}
