/* ticker: the demo job. Logs a line every params.interval_ms (default 1000) from a timer
 * on the worker's own loop; stops at once when asked. */
#include <loopvisor/job.h>

#include <stdlib.h>

struct ticker {
	struct event *timer;
	unsigned long ticks;
};

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	lv_ctx *ctx = arg;
	struct ticker *t = lv_data(ctx);

	(void)fd;
	(void)what;
	lv_log(ctx, LV_LOG_INFO, "tick %lu", ++t->ticks);
}

static int ticker_start(lv_ctx *ctx)
{
	json_t *iv = json_object_get(lv_params(ctx), "interval_ms");
	json_int_t ms = iv ? json_integer_value(iv) : 1000;
	struct ticker *t;
	struct timeval tv;

	if (iv && (!json_is_integer(iv) || ms < 1 || ms > 86400000)) {
		lv_fail(ctx, "params.interval_ms: must be an integer between 1 and 86400000");
		return -1;
	}
	if (!(t = calloc(1, sizeof *t))) {
		lv_fail(ctx, "out of memory");
		return -1;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	t->timer = event_new(lv_base(ctx), -1, EV_PERSIST, on_tick, ctx);
	if (!t->timer || event_add(t->timer, &tv) < 0) {
		lv_fail(ctx, "cannot arm the timer");
		free(t);
		return -1;
	}
	lv_set_data(ctx, t);
	return 0;
}

static void ticker_stop(lv_ctx *ctx, lv_done_fn done)
{
	struct ticker *t = lv_data(ctx);

	lv_log(ctx, LV_LOG_INFO, "stopping after %lu ticks", t->ticks);
	event_free(t->timer);
	free(t);
	done(ctx);
}

LV_JOB_DEFINE("ticker", ticker_start, ticker_stop);
