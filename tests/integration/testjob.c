/* testjob: a job module for the integration tests that misbehaves on command through its
 * params: fail its start, get ready late or never, block or busy its loop (or one loop of
 * several), survive SIGABRT, write to a closed pipe, crash, leak, ignore graceful stops,
 * drain slowly, flood its channel with big messages, start children every way a job can,
 * or count its loops. */
#include <loopvisor/job.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct testjob {
	lv_ctx *ctx;
	struct event *tick, *later;
	long long ticks;
	lv_done_fn done;
};

static long long param(lv_ctx *ctx, const char *key)
{
	return json_integer_value(json_object_get(lv_params(ctx), key));
}

/* Keeps the loop busy (not sleeping: a busy loop is what a hung job looks like). */
static void spin_ms(long long ms)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	do
		clock_gettime(CLOCK_MONOTONIC, &now);
	while ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 < ms);
}

/* Writes all of buf to a non-blocking descriptor, waiting as long as it takes. */
static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		ssize_t n = write(fd, buf, len);

		if (n > 0) {
			buf += n, len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return;
		poll(&p, 1, -1);
	}
}

/* Heartbeats in the form read without a parser, each with a new big_msg_kb counters
 * object (so each is parsed), straight into its channel: few messages, many bytes. The
 * library's own messages went out at the start; the pool sets heartbeat_ms high so that
 * none is written meanwhile, in the middle of one of these. */
static void send_big_messages(lv_ctx *ctx, long long ticks)
{
	static char *line;
	size_t kb = (size_t)param(ctx, "big_msg_kb"), len;
	int head;

	if (!line && !(line = malloc(kb * 1024 + 256)))
		return;
	for (long long i = 0; i < param(ctx, "big_msgs_per_tick"); i++) {
		head = snprintf(line, 256, "{\"t\":\"hb\",\"loop\":0,\"lag_us\":1,\"lag_max_us\":1,"
		                "\"events\":1,\"counters\":{\"n\":%lld,\"pad\":\"", ticks * 1000 + i);
		memset(line + head, 'x', kb * 1024 - (size_t)head);
		len = kb * 1024;
		memcpy(line + len, "\"}}\n", 4);
		write_all(3, line, len + 4);
	}
}

/* Padding for log lines: up to 4 KiB of text */
static const char *pad(void)
{
	static char p[4097];

	if (!p[0])
		memset(p, 'p', sizeof p - 1);
	return p;
}

static void arm(struct event *ev, long long ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	evtimer_add(ev, &tv);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct testjob *t = arg;
	lv_ctx *ctx = t->ctx;
	long long leak = param(ctx, "leak_kb_per_tick"), busy = param(ctx, "busy_ms");

	(void)fd;
	(void)what;
	t->ticks++;
	lv_counter_add(ctx, "ticks", 1);
	if (leak > 0)
		memset(malloc((size_t)leak * 1024), 1, (size_t)leak * 1024);
	if (busy > 0)
		spin_ms(busy);
	for (long long i = 0; i < param(ctx, "log_flood"); i++) /* lines of log_pad bytes or so */
		lv_log(ctx, LV_LOG_INFO, "flood %lld %.*s", i, (int)param(ctx, "log_pad"), pad());
	if (param(ctx, "big_msg_kb") > 0 && t->ticks > 2)
		send_big_messages(ctx, t->ticks);
	if (json_is_true(json_object_get(lv_params(ctx), "garbage")))
		for (int i = 0; i < 200; i++) /* straight into its channel, bypassing the API */
			if (write(3, "not a message\n", 14) < 0)
				break;
	if (json_is_true(json_object_get(lv_params(ctx), "bad_counters"))) {
		/* heartbeats in the form read without a parser, whose counters are not JSON */
		static const char hb[] = "{\"t\":\"hb\",\"loop\":0,\"lag_us\":1,\"lag_max_us\":1,"
		                         "\"events\":1,\"counters\":{\"a\":}}\n";

		for (int i = 0; i < 200; i++)
			if (write(3, hb, sizeof hb - 1) < 0)
				break;
	}
	if (param(ctx, "block_after_ticks") > 0 && t->ticks == param(ctx, "block_after_ticks") &&
	    (!json_object_get(lv_params(ctx), "block_loop") ||
	     (long long)lv_loop(ctx) == param(ctx, "block_loop")))
		for (;;)
			pause(); /* the loop never comes back */
	if (param(ctx, "crash_after_ticks") > 0 && t->ticks == param(ctx, "crash_after_ticks"))
		raise(SIGSEGV);
	arm(t->tick, param(ctx, "tick_ms") > 0 ? param(ctx, "tick_ms") : 50);
}

static void on_later(evutil_socket_t fd, short what, void *arg)
{
	struct testjob *t = arg;

	(void)fd;
	(void)what;
	if (t->done) /* the slow drain is over */
		t->done(t->ctx);
	else
		lv_ready(t->ctx);
}

/* Returns once the child closed the CLOEXEC pipe, by exec or by hand: it is past exec, or
 * past fork's atfork hooks. */
static void await_child(int fds[2])
{
	char c;

	close(fds[1]);
	while (read(fds[0], &c, 1) < 0)
		;
	close(fds[0]);
}

/* "spawn_children": sleep 60 by fork+exec, by posix_spawn and by popen, and a plain fork
 * that pauses: each must start with default dispositions and nothing blocked. */
static void spawn_children(lv_ctx *ctx)
{
	char *const argv[] = { "sleep", "60", NULL };
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return;
	if ((pid = fork()) == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	await_child(fds);
	if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ) != 0)
		lv_log(ctx, LV_LOG_ERR, "posix_spawn failed");
	if (!popen("exec sleep 60", "r"))
		lv_log(ctx, LV_LOG_ERR, "popen failed");
	if (pipe2(fds, O_CLOEXEC) < 0)
		return;
	if ((pid = fork()) == 0) {
		close(fds[0]);
		close(fds[1]);
		for (;;)
			pause();
	}
	await_child(fds);
}

static void on_abort(int sig)
{
	(void)sig;
}

/* A write whose reader is gone: EPIPE for the job, not a SIGPIPE that kills the worker. */
static void write_to_closed_pipe(lv_ctx *ctx)
{
	int p[2];
	ssize_t n;

	if (pipe(p) < 0)
		return;
	close(p[0]);
	n = write(p[1], "x", 1);
	lv_log(ctx, LV_LOG_INFO, "write to a closed pipe: %s", n < 0 ? strerror(errno) : "written");
	close(p[1]);
}

static int testjob_start(lv_ctx *ctx)
{
	const char *fail = json_string_value(json_object_get(lv_params(ctx), "fail_start"));
	json_t *ready_after = json_object_get(lv_params(ctx), "ready_after_ms");
	struct testjob *t;

	if (fail) {
		lv_fail(ctx, "%s", fail);
		return -1;
	}
	if (json_is_true(json_object_get(lv_params(ctx), "survive_abort")))
		signal(SIGABRT, on_abort); /* a hung loop that SIGABRT does not end */
	if (json_is_true(json_object_get(lv_params(ctx), "write_to_closed_pipe")))
		write_to_closed_pipe(ctx);
	if (!(t = calloc(1, sizeof *t)))
		return -1;
	t->ctx = ctx;
	t->tick = evtimer_new(lv_base(ctx), on_tick, t);
	t->later = evtimer_new(lv_base(ctx), on_later, t);
	lv_set_data(ctx, t);
	if (json_is_true(json_object_get(lv_params(ctx), "spawn_children")))
		spawn_children(ctx);
	if (json_is_true(json_object_get(lv_params(ctx), "count_loops")))
		lv_counter_add(ctx, "loops", 1); /* 1 per loop: the daemon's sum is the loop count */
	arm(t->tick, 0);
	if (!ready_after)
		lv_ready(ctx);
	else if (json_integer_value(ready_after) >= 0) /* negative: never ready */
		arm(t->later, json_integer_value(ready_after));
	lv_log(ctx, LV_LOG_INFO, "testjob started on loop %u of %u", lv_loop(ctx), lv_loops(ctx));
	if (param(ctx, "log_long") > 0) { /* one lv_log line of that many 'q' */
		char *q = calloc(1, (size_t)param(ctx, "log_long") + 1);

		if (q)
			lv_log(ctx, LV_LOG_INFO, "%s", (char *)memset(q, 'q', (size_t)param(ctx, "log_long")));
		free(q);
	}
	return 0;
}

static void testjob_stop(lv_ctx *ctx, lv_done_fn done)
{
	struct testjob *t = lv_data(ctx);

	if (json_is_true(json_object_get(lv_params(ctx), "ignore_stop")))
		return; /* never calls done: the stop timeout must kill us */
	lv_log(ctx, LV_LOG_INFO, "stopping after %lld ticks", t->ticks);
	event_del(t->tick);
	if (param(ctx, "drain_ms") > 0) {
		t->done = done;
		arm(t->later, param(ctx, "drain_ms"));
		return;
	}
	done(ctx);
}

static json_t *testjob_inspect(lv_ctx *ctx)
{
	struct testjob *t = lv_data(ctx);

	if (json_is_true(json_object_get(lv_params(ctx), "block_on_inspect")))
		for (;;)
			pause(); /* the question itself hangs the loop: it can never answer */
	return json_pack("{s:I}", "ticks", (json_int_t)t->ticks);
}

__attribute__((visibility("default"))) const struct lv_job loopvisor_job = {
	.abi_version = LV_JOB_ABI_VERSION,
	.name = "testjob",
	.flags = LV_JOB_READY_LATER,
	.start = testjob_start,
	.stop = testjob_stop,
	.inspect = testjob_inspect,
};
