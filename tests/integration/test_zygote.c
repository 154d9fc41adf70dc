/* test_zygote: the daemon never waits for a zygote. A spawn is sent (or waits in order for
 * room on the socket) and the loop goes on; a zygote that stops answering is given up. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "testutil.h"

static struct lvd d;
static pid_t stopped_zygote;

static void teardown(void)
{
	if (stopped_zygote > 0)
		kill(stopped_zygote, SIGCONT); /* the daemon kills it, or it dies with the daemon */
	stopped_zygote = 0;
	lvd_stop(&d);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A stopped zygote (SIGSTOP, or one stuck in the kernel) reads no request. Before, the
 * daemon waited up to 10 s for its answer with the whole loop blocked. Now the spawn is
 * asked and the loop goes on answering; once the worker's start timeout is over the zygote
 * is killed and the worker is forked by the daemon itself. */
START_TEST(a_stopped_zygote_blocks_nothing)
{
	double t0, slowest = 0;
	pid_t zygote;
	json_t *w;

	lvd_start(&d, "{\"pools\":[{\"name\":\"k\",\"exec\":[\"sleep\",\"1000\"]},"
	              "{\"name\":\"s\",\"exec\":[\"sleep\",\"1000\"],\"autostart\":false,"
	              "\"start_timeout_ms\":1500}]}");
	json_decref(lvd_wait(&d, "k", "running", 0));
	zygote = (pid_t)proc_status_value(lvd_worker_pid(&d, "k:0"), "PPid:");
	ck_assert_int_ne(zygote, d.pid);
	ck_assert_int_eq(kill(zygote, SIGSTOP), 0);
	stopped_zygote = zygote;

	t0 = now_ms(); /* a start that does not wait answers at once: 100 ms for the pid at most */
	json_decref(lvd_call(&d, "start", "{\"target\":\"s\",\"wait\":false}"));
	t0 = now_ms() - t0;
	printf("start without waiting, its zygote stopped: answered in %.1f ms\n", t0);
	ck_assert_msg(t0 < test_ms(1000), "the start took %.0f ms", t0);
	/* the daemon answers at once the whole time its spawn waits for the zygote */
	for (int i = 0; i < 10; i++) {
		t0 = now_ms();
		json_decref(lvd_call(&d, "ping", NULL));
		if (now_ms() - t0 > slowest)
			slowest = now_ms() - t0;
		w = lvd_worker(&d, "s:0");
		ck_assert_str_eq(JSTR(w, "state"), "starting");
		json_decref(w);
		usleep(50 * 1000); /* pacing the pings over half a second, not waiting for a state */
	}
	printf("slowest ping while a spawn waited on a stopped zygote: %.1f ms\n", slowest);
	ck_assert_msg(slowest < test_ms(200), "a ping took %.0f ms", slowest);

	/* the start timeout gives the zygote up; the daemon forks the worker itself */
	json_decref(lvd_wait(&d, "s:0", "running", 0));
	ck_assert_int_eq(proc_status_value(lvd_worker_pid(&d, "s:0"), "PPid:"), d.pid);
	ck_assert_msg(kill(zygote, 0) < 0, "the stopped zygote %d is still there", (int)zygote);
	stopped_zygote = 0;
}
END_TEST

/* A burst of spawns fills a zygote's socket faster than it forks: the requests wait in the
 * daemon, in order, until the socket has room, and every worker still comes from a zygote.
 * (Before, a full socket sent the rest to the daemon's own fork: 472 of 3000 here.) */
START_TEST(a_burst_of_spawns_waits_for_the_zygote_not_the_loop)
{
	int forked_by_daemon = 0;
	json_t *st, *ws;

	lvd_start(&d, "{\"pools\":[{\"name\":\"b\",\"exec\":[\"sleep\",\"1000\"],"
	              "\"workers\":2000,\"output\":\"null\",\"autostart\":false}]}");
	json_decref(lvd_call(&d, "start", "{\"target\":\"b\",\"timeout_ms\":%d}", test_ms(60000)));
	st = lvd_call(&d, "status", "{\"target\":\"b\"}");
	ws = json_object_get(st, "workers");
	ck_assert_uint_eq(json_array_size(ws), 2000);
	for (size_t i = 0; i < json_array_size(ws); i++)
		forked_by_daemon += proc_status_value((pid_t)JINT(json_array_get(ws, i), "pid"),
		                                      "PPid:") == d.pid;
	json_decref(st);
	printf("workers the daemon forked itself in a burst of 2000: %d\n", forked_by_daemon);
	ck_assert_int_eq(forked_by_daemon, 0);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("zygote");
	TCase *tc = tcase_create("requests");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, a_stopped_zygote_blocks_nothing);
	tcase_add_test(tc, a_burst_of_spawns_waits_for_the_zygote_not_the_loop);
	suite_add_tcase(su, tc);
	return lvd_run_suite(su);
}
