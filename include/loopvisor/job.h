/* loopvisor/job.h: the public, versioned API between loopvisord's workers and job modules.
 * A job module is a shared object that exports one descriptor named LV_JOB_SYMBOL. */
#ifndef LOOPVISOR_JOB_H
#define LOOPVISOR_JOB_H

#include <jansson.h>
#include <event2/event.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The descriptor's version. 2 added "run" (LV_JOB_OWN_LOOP); loopvisord still loads
 * version 1 modules, whose descriptors end before it. */
#define LV_JOB_ABI_VERSION 2

/* The name of the descriptor a module exports (see LV_JOB_DEFINE). */
#define LV_JOB_SYMBOL "loopvisor_job"

/* One running instance of a job: handed to every callback, owned by the worker. */
typedef struct lv_ctx lv_ctx;

/* Called by a job when its graceful stop has finished (in-flight work done). */
typedef void (*lv_done_fn)(lv_ctx *ctx);

/* Descriptor flags. */
#define LV_JOB_READY_LATER 0x1u /* running only once the job calls lv_ready(ctx) */
#define LV_JOB_OWN_LOOP    0x2u /* ABI 2: the job runs an event loop of its own in the
                                 * loop's thread (run), not lv_base's (see lv_wake_fd) */

struct lv_job {
	unsigned abi_version;  /* must be LV_JOB_ABI_VERSION */
	const char *name;      /* short name for logs */
	unsigned flags;        /* LV_JOB_* */
	/* Sets the job up on lv_base(ctx). Return 0, or -1 after lv_fail(ctx, ...) to refuse.
	 * With loops > 1 it runs once per loop, each time in that loop's own thread. */
	int (*start)(lv_ctx *ctx);
	/* Asked to stop gracefully: stop accepting work, finish what is in flight, then call
	 * done(ctx) (possibly later, from the loop). NULL means "stop at once". */
	void (*stop)(lv_ctx *ctx, lv_done_fn done);
	/* Optional: a new reference to a JSON object describing the job's state, for the
	 * inspect method. Runs on the loop, so a blocked loop cannot answer. */
	json_t *(*inspect)(lv_ctx *ctx);
	/* ABI 2, with LV_JOB_OWN_LOOP: runs the job's own loop, after start, in the loop's
	 * thread, until the job is done (after a stop, or on its own); returns the exit status
	 * it wants for the process (0: done). Its loop watches lv_wake_fd(ctx), calls
	 * lv_pump(ctx) when it is readable, and lv_beat(ctx) when lv_beat_due(ctx) comes. */
	int (*run)(lv_ctx *ctx);
};

/* The loop this instance runs on: created in the worker after fork, never shared. */
struct event_base *lv_base(lv_ctx *ctx);
/* The pool's "params" object (read-only, never NULL). */
const json_t *lv_params(lv_ctx *ctx);
/* The pool's name and this worker's index in it. */
const char *lv_pool(lv_ctx *ctx);
unsigned lv_index(lv_ctx *ctx);
/* Which loop this instance runs on (0 .. lv_loops(ctx) - 1), and how many there are. */
unsigned lv_loop(lv_ctx *ctx);
unsigned lv_loops(lv_ctx *ctx);
/* Job-private pointer slot. */
void lv_set_data(lv_ctx *ctx, void *data);
void *lv_data(lv_ctx *ctx);

/* Log levels follow syslog: 3 error, 4 warning, 6 info, 7 debug. */
enum { LV_LOG_ERR = 3, LV_LOG_WARNING = 4, LV_LOG_INFO = 6, LV_LOG_DEBUG = 7 };
/* Writes one line tagged with the worker to the supervisor's log. */
void lv_log(lv_ctx *ctx, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Records why start failed; the text becomes the worker's last_error. */
void lv_fail(lv_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* With LV_JOB_READY_LATER: the job is ready to serve (the worker becomes running once
 * every loop said so). The pool's start_timeout_ms bounds the wait. */
void lv_ready(lv_ctx *ctx);

/* Adds delta to a named counter of this loop; status shows the sums over all loops.
 * Names are at most 63 bytes of [A-Za-z0-9_.-]; at most 64 counters per loop. */
void lv_counter_add(lv_ctx *ctx, const char *name, long long delta);

/* The pool's listening sockets ("listen" in the config), bound by the supervisor before
 * any worker started and shared by every worker of the pool. The fds are blocking as
 * passed; a job that uses them with libevent makes them non-blocking. */
unsigned lv_listen_count(lv_ctx *ctx);
int lv_listen_fd(lv_ctx *ctx, unsigned i);
/* The address as configured, e.g. "tcp:127.0.0.1:8080". */
const char *lv_listen_name(lv_ctx *ctx, unsigned i);

/* For LV_JOB_OWN_LOOP jobs (their loop, not lv_base's, is what must stay responsive):
 * lv_wake_fd is readable when the supervisor or a signal has something for this loop;
 * lv_pump then handles it (without blocking) and returns 1 once a graceful stop was asked
 * (stop is called too, if the job has one), else 0. lv_beat sends the heartbeat that was due
 * at lv_beat_due (CLOCK_MONOTONIC, in µs), its lateness as the loop's lag, with the
 * counters; the next one is due at the new lv_beat_due. */
int lv_wake_fd(lv_ctx *ctx);
int lv_pump(lv_ctx *ctx);
void lv_beat(lv_ctx *ctx);
unsigned long long lv_beat_due(lv_ctx *ctx);

/* Declares the module's descriptor: LV_JOB_DEFINE("ticker", start, stop); */
#define LV_JOB_DEFINE(NAME, START, STOP)                                      \
	__attribute__((visibility("default"))) const struct lv_job loopvisor_job = { \
		.abi_version = LV_JOB_ABI_VERSION, .name = (NAME),                   \
		.start = (START), .stop = (STOP) }

#ifdef __cplusplus
}
#endif
#endif
