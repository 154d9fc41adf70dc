/* loop: runs one job instance on an event_base built in its own thread: the channel to
 * the supervisor, heartbeats that measure the loop's lag, inspect, and graceful stop. */
#include "worker/loop.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "ipc/channel.h"
#include "ipc/frame.h"

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void lv_loop_send(struct lv_ctx *ctx, json_t *msg)
{
	if (ctx->channel)
		lv_frame_put_json(bufferevent_get_output(ctx->channel), msg);
	json_decref(msg);
}

static void stop_done(lv_ctx *ctx)
{
	event_base_loopbreak(ctx->base);
}

static void begin_stop(struct lv_ctx *ctx)
{
	if (ctx->stopping)
		return;
	ctx->stopping = true;
	if (ctx->job->stop)
		ctx->job->stop(ctx, stop_done);
	else
		stop_done(ctx);
}

void lv_loop_request_stop(struct lv_ctx *ctx)
{
	uint64_t one = 1;

	if (write(ctx->stop_fd, &one, sizeof one) < 0)
		return; /* the counter is saturated: a stop is already pending */
}

static void on_stop_fd(evutil_socket_t fd, short what, void *arg)
{
	uint64_t n;

	(void)what;
	if (read(fd, &n, sizeof n) == (ssize_t)sizeof n)
		begin_stop(arg);
}

/* Heartbeats fall on a grid of the monotonic clock that every worker shares, so that the
 * supervisor wakes once for a batch of them instead of once per heartbeat: at most 50
 * wakeups a second however many workers beat. A coarser grid would batch more, but with
 * 10000 workers it makes bursts of hundreds of processes waking at the same instant. */
#define HEARTBEAT_GRID_US 20000u

/* The next heartbeat's time into ctx->due_us; how long until then (µs). */
static uint64_t next_due(struct lv_ctx *ctx)
{
	uint64_t now = now_us(), period = (uint64_t)ctx->spawn->heartbeat_ms * 1000u;
	uint64_t grid = period / 2 < HEARTBEAT_GRID_US ? period / 2 : HEARTBEAT_GRID_US;
	uint64_t due = (now + period) / grid * grid;

	if (due <= now)
		due += grid;
	ctx->due_us = due;
	return due - now;
}

static void arm_heartbeat(struct lv_ctx *ctx)
{
	uint64_t wait = next_due(ctx);
	struct timeval tv;

	tv.tv_sec = (time_t)(wait / 1000000u);
	tv.tv_usec = (suseconds_t)(wait % 1000000u);
	evtimer_add(ctx->heartbeat, &tv);
}

static json_t *loop_stats(const struct lv_ctx *ctx)
{
	return json_pack("{s:i, s:I, s:I, s:i}", "loop", (int)ctx->loop, "lag_us",
	                 (json_int_t)ctx->lag_us, "lag_max_us", (json_int_t)ctx->lag_max_us,
	                 "events", event_base_get_num_events(ctx->base, EVENT_BASE_COUNT_ADDED));
}

/* In the fixed form the supervisor reads without a parser (ipc/channel.h) */
static void send_heartbeat(struct lv_ctx *ctx)
{
	struct lv_heartbeat hb = { .loop = ctx->loop, .lag_us = ctx->lag_us,
	                           .lag_max_us = ctx->lag_max_us, .counters = "{}",
	                           .counters_len = 2 };
	char *counters = NULL, line[512], *big = NULL;
	size_t len;

	if (!ctx->channel)
		return;
	hb.events = event_base_get_num_events(ctx->base, EVENT_BASE_COUNT_ADDED);
	if (json_object_size(ctx->counters) > 0 &&
	    (counters = json_dumps(ctx->counters, JSON_COMPACT)) != NULL) {
		hb.counters = counters;
		hb.counters_len = strlen(counters);
	}
	if (!(len = lv_heartbeat_format(line, sizeof line, &hb)) && (big = malloc(hb.counters_len + 256)))
		len = lv_heartbeat_format(big, hb.counters_len + 256, &hb);
	if (len)
		evbuffer_add(bufferevent_get_output(ctx->channel), big ? big : line, len);
	free(big);
	free(counters);
}

/* How late the heartbeat came is how long the loop was busy with something else. */
static void beat(struct lv_ctx *ctx)
{
	uint64_t now = now_us();

	ctx->lag_us = now > ctx->due_us ? (int64_t)(now - ctx->due_us) : 0;
	if (ctx->lag_us > ctx->lag_max_us)
		ctx->lag_max_us = ctx->lag_us;
	send_heartbeat(ctx);
}

static void on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	beat(arg);
	arm_heartbeat(arg);
}

static void answer_inspect(struct lv_ctx *ctx, json_t *request)
{
	json_t *reply = loop_stats(ctx), *job = NULL;
	char base[32];

	snprintf(base, sizeof base, "%p", (void *)ctx->base);
	json_object_set(reply, "id", json_object_get(request, "id"));
	json_object_set(reply, "counters", ctx->counters);
	json_object_set_new(reply, "thread", json_integer((json_int_t)syscall(SYS_gettid)));
	json_object_set_new(reply, "base", json_string(base));
	if (ctx->job->inspect)
		job = ctx->job->inspect(ctx);
	json_object_set_new(reply, "job", json_is_object(job) ? job : json_object());
	if (job && !json_is_object(job))
		json_decref(job);
	lv_loop_send(ctx, lv_msg_new(LV_MSG_INSPECTED, reply));
}

static void handle_message(void *arg, enum lv_msg_type type, json_t *msg)
{
	struct lv_ctx *ctx = arg;

	if (type == LV_MSG_STOP)
		begin_stop(ctx);
	else if (type == LV_MSG_INSPECT)
		answer_inspect(ctx, msg);
}

static void on_channel_read(struct bufferevent *bev, void *arg)
{
	lv_channel_read(bufferevent_get_input(bev), handle_message, NULL, arg);
}

static void on_channel_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)arg;
	/* The supervisor is gone: nobody is left to report to or to stop us gracefully. */
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		_exit(0);
}

static void open_channel(struct lv_ctx *ctx)
{
	int fd = ctx->spawn->channel_fds[ctx->loop];

	evutil_make_socket_nonblocking(fd);
	ctx->channel = bufferevent_socket_new(ctx->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!ctx->channel)
		lv_worker_die(ctx->spawn, "bufferevent_socket_new failed");
	bufferevent_setcb(ctx->channel, on_channel_read, NULL, on_channel_event, ctx);
	bufferevent_enable(ctx->channel, EV_READ);
}

static void add_watch(struct lv_ctx *ctx, struct event **ev, int fd, event_callback_fn cb,
                      void *arg)
{
	*ev = event_new(ctx->base, fd, EV_READ | EV_PERSIST, cb, arg);
	if (!*ev || event_add(*ev, NULL) < 0)
		lv_worker_die(ctx->spawn, "cannot watch fd %d", fd);
}

void lv_loop_send_ready(struct lv_ctx *ctx)
{
	if (ctx->ready_sent)
		return;
	ctx->ready_sent = true;
	lv_loop_send(ctx, lv_msg_new(LV_MSG_READY, NULL));
}

/* LV_JOB_OWN_LOOP (job.h): the job's loop drives this one's events without blocking. */
static bool own_loop(const struct lv_ctx *ctx)
{
	return ctx->job->abi_version >= 2 && (ctx->job->flags & LV_JOB_OWN_LOOP) && ctx->job->run;
}

/* One epoll instance over what this loop's base waits on (the channel, the stop eventfd,
 * loop 0's signal eventfd): readable when a pass of the base has work. */
static int make_wake_fd(struct lv_ctx *ctx)
{
	int fds[] = { bufferevent_getfd(ctx->channel), ctx->stop_fd, ctx->signal_fd };
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0)
		lv_worker_die(ctx->spawn, "epoll_create1: %s", strerror(errno));
	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = fds[i] };

		if (fds[i] >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0)
			lv_worker_die(ctx->spawn, "epoll_ctl: %s", strerror(errno));
	}
	return ep;
}

int lv_wake_fd(lv_ctx *ctx)
{
	return ctx->wake_fd;
}

int lv_pump(lv_ctx *ctx)
{
	event_base_loop(ctx->base, EVLOOP_NONBLOCK);
	return ctx->stopping;
}

void lv_beat(lv_ctx *ctx)
{
	beat(ctx);
	next_due(ctx);
	event_base_loop(ctx->base, EVLOOP_NONBLOCK); /* sends it */
}

unsigned long long lv_beat_due(lv_ctx *ctx)
{
	return ctx->due_us;
}

void lv_loop_run(struct lv_ctx *ctx)
{
	struct event_config *cfg = event_config_new();

	event_config_set_flag(cfg, EVENT_BASE_FLAG_IGNORE_ENV);
	ctx->base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (!ctx->base || !(ctx->counters = json_object()) ||
	    !(ctx->heartbeat = evtimer_new(ctx->base, on_heartbeat, ctx)))
		lv_worker_die(ctx->spawn, "cannot create the event loop");
	open_channel(ctx);
	add_watch(ctx, &ctx->stop_ev, ctx->stop_fd, on_stop_fd, ctx);
	if (ctx->signal_fd >= 0)
		add_watch(ctx, &ctx->signal_ev, ctx->signal_fd, ctx->on_signal, NULL);

	if (ctx->job->start(ctx) < 0)
		lv_worker_die(ctx->spawn, "start failed: %s", ctx->fail[0] ? ctx->fail : "no reason given");
	if (!(ctx->job->flags & LV_JOB_READY_LATER))
		lv_loop_send_ready(ctx);
	if (own_loop(ctx)) {
		ctx->wake_fd = make_wake_fd(ctx);
		next_due(ctx);
		ctx->exit_code = ctx->job->run(ctx);
		close(ctx->wake_fd);
	} else {
		arm_heartbeat(ctx);
		event_base_dispatch(ctx->base);
	}
	/* Flush what the job said last (its final log lines) before the process exits; the
	 * bufferevent keeps its output's start frozen for itself, so take it over. */
	{
		struct evbuffer *out = bufferevent_get_output(ctx->channel);
		evutil_socket_t fd = bufferevent_getfd(ctx->channel);

		bufferevent_disable(ctx->channel, EV_READ | EV_WRITE);
		evbuffer_unfreeze(out, 1);
		/* blocking: the supervisor reads channels all the time, and the channel is ours */
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		while (evbuffer_get_length(out) > 0 && evbuffer_write(out, fd) > 0)
			;
	}
}
