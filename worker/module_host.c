/* module_host: runs a job module in a worker: its own event_base, the channel to the
 * supervisor, graceful stop on SIGTERM or a "stop" message, and the ctx API jobs call. */
#include "worker/spawn.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "ipc/channel.h"
#include "ipc/frame.h"
#include "loopvisor/job.h"

struct lv_ctx {
	const struct lv_spawn *spawn;
	const struct lv_job *job;
	struct event_base *base;
	struct bufferevent *channel;
	struct event *sigterm;
	void *data;
	char fail[512];
	int stopping;
};

struct event_base *lv_base(lv_ctx *ctx) { return ctx->base; }
const json_t *lv_params(lv_ctx *ctx) { return ctx->spawn->params; }
const char *lv_pool(lv_ctx *ctx) { return ctx->spawn->pool; }
unsigned lv_index(lv_ctx *ctx) { return ctx->spawn->index; }
void lv_set_data(lv_ctx *ctx, void *data) { ctx->data = data; }
void *lv_data(lv_ctx *ctx) { return ctx->data; }

static const char *level_name(int level)
{
	switch (level) {
	case LV_LOG_ERR: return "error";
	case LV_LOG_WARNING: return "warning";
	case LV_LOG_DEBUG: return "debug";
	default: return "info";
	}
}

void lv_log(lv_ctx *ctx, int level, const char *fmt, ...)
{
	char msg[2048], line[2200];
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	/* One write per line so lines of concurrent workers never interleave. */
	n = snprintf(line, sizeof line, "%s[%d] %s: %s\n", ctx->spawn->worker, (int)getpid(),
	             level_name(level), msg);
	if (n > 0 && write(STDERR_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1) < 0)
		return; /* nowhere left to report to */
}

void lv_fail(lv_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx->fail, sizeof ctx->fail, fmt, ap);
	va_end(ap);
}

static void stop_done(lv_ctx *ctx)
{
	event_base_loopbreak(ctx->base);
}

static void begin_stop(lv_ctx *ctx)
{
	if (ctx->stopping++)
		return;
	if (ctx->job->stop)
		ctx->job->stop(ctx, stop_done);
	else
		stop_done(ctx);
}

static void on_sigterm(evutil_socket_t fd, short what, void *arg)
{
	struct signalfd_siginfo si;

	(void)what;
	while (read(fd, &si, sizeof si) == (ssize_t)sizeof si)
		;
	begin_stop(arg);
}

static void on_channel_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	const char *line;
	size_t len;
	enum lv_frame_result r;

	while ((r = lv_frame_next(in, LV_CHANNEL_MAX_LINE, &line, &len)) == LV_FRAME_LINE) {
		if (lv_msg_parse(line, len, NULL) == LV_MSG_STOP)
			begin_stop(arg);
		lv_frame_consume(in, len);
	}
	if (r == LV_FRAME_TOO_LONG)
		evbuffer_drain(in, evbuffer_get_length(in));
}

static void on_channel_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)arg;
	/* The supervisor is gone: nobody is left to report to or to stop us gracefully. */
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		_exit(0);
}

static const struct lv_job *load_job(const struct lv_spawn *sp)
{
	void *handle = dlopen(sp->module_path, RTLD_NOW | RTLD_LOCAL);
	const struct lv_job *job;

	if (!handle)
		lv_worker_die(sp, "dlopen: %s", dlerror());
	job = dlsym(handle, LV_JOB_SYMBOL);
	if (!job)
		lv_worker_die(sp, "%s: no %s symbol: not a loopvisor job module", sp->module_path,
		              LV_JOB_SYMBOL);
	if (job->abi_version != LV_JOB_ABI_VERSION)
		lv_worker_die(sp, "%s: job ABI version %u, this loopvisord supports %u",
		              sp->module_path, job->abi_version, LV_JOB_ABI_VERSION);
	if (!job->start)
		lv_worker_die(sp, "%s: job has no start callback", sp->module_path);
	return job;
}

/* SIGTERM and SIGINT stay blocked and arrive through a signalfd on the worker's own loop:
 * libevent's evsignal would share global state inherited from the supervisor. */
static struct event *watch_stop_signals(lv_ctx *ctx, sigset_t *stop_set)
{
	int fd;

	sigemptyset(stop_set);
	sigaddset(stop_set, SIGTERM);
	sigaddset(stop_set, SIGINT);
	fd = signalfd(-1, stop_set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		lv_worker_die(ctx->spawn, "signalfd: %s", strerror(errno));
	return event_new(ctx->base, fd, EV_READ | EV_PERSIST, on_sigterm, ctx);
}

static void say_ready(lv_ctx *ctx)
{
	json_t *msg = lv_msg_new(LV_MSG_READY, NULL);

	lv_frame_put_json(bufferevent_get_output(ctx->channel), msg);
	json_decref(msg);
}

_Noreturn void lv_module_run(const struct lv_spawn *sp)
{
	static lv_ctx ctx;
	struct event_config *cfg = event_config_new();
	sigset_t stop_set;

	ctx.spawn = sp;
	signal(SIGPIPE, SIG_IGN);
	event_config_set_flag(cfg, EVENT_BASE_FLAG_IGNORE_ENV);
	ctx.base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (!ctx.base)
		lv_worker_die(sp, "event_base_new failed");
	ctx.sigterm = watch_stop_signals(&ctx, &stop_set);
	event_add(ctx.sigterm, NULL);
	/* Everything but the stop signals can be delivered normally from here on. */
	sigprocmask(SIG_SETMASK, &stop_set, NULL);

	ctx.job = load_job(sp);
	if (ctx.job->start(&ctx) < 0)
		lv_worker_die(sp, "start failed: %s", ctx.fail[0] ? ctx.fail : "no reason given");

	evutil_make_socket_nonblocking(sp->channel_fd);
	ctx.channel = bufferevent_socket_new(ctx.base, sp->channel_fd, BEV_OPT_CLOSE_ON_FREE);
	if (!ctx.channel)
		lv_worker_die(sp, "bufferevent_socket_new failed");
	bufferevent_setcb(ctx.channel, on_channel_read, NULL, on_channel_event, &ctx);
	bufferevent_enable(ctx.channel, EV_READ);
	say_ready(&ctx);

	event_base_dispatch(ctx.base);
	/* The job said it is done; flush nothing else, never return into the parent's frames. */
	_exit(0);
}
