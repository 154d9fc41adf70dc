/* testjob: a job module for the integration tests that misbehaves on command through its
 * params: fail its start, ignore graceful stops, crash or exit after a delay. */
#include <loopvisor/job.h>

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

static void on_crash(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	raise(SIGSEGV);
}

static int testjob_start(lv_ctx *ctx)
{
	const json_t *p = lv_params(ctx);
	const char *fail = json_string_value(json_object_get(p, "fail_start"));
	json_int_t crash_ms = json_integer_value(json_object_get(p, "crash_after_ms"));

	if (fail) {
		lv_fail(ctx, "%s", fail);
		return -1;
	}
	if (crash_ms > 0) {
		struct timeval tv = { .tv_sec = crash_ms / 1000, .tv_usec = (crash_ms % 1000) * 1000 };
		struct event *ev = evtimer_new(lv_base(ctx), on_crash, NULL);
		evtimer_add(ev, &tv);
	}
	lv_log(ctx, LV_LOG_INFO, "testjob started");
	return 0;
}

static void testjob_stop(lv_ctx *ctx, lv_done_fn done)
{
	if (json_is_true(json_object_get(lv_params(ctx), "ignore_stop")))
		return; /* never calls done: the stop timeout must kill us */
	done(ctx);
}

LV_JOB_DEFINE("testjob", testjob_start, testjob_stop);
