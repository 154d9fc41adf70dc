/* loop: one job instance on one event loop, in its own thread: the ctx jobs see, its
 * channel to the supervisor, heartbeats with lag, inspect replies and graceful stop. */
#ifndef LV_WORKER_LOOP_H
#define LV_WORKER_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>

#include "loopvisor/job.h"
#include "worker/spawn.h"

#define LV_COUNTERS_MAX 64

struct lv_ctx {
	const struct lv_spawn *spawn;
	const struct lv_job *job;
	unsigned loop;
	int stop_fd;                  /* eventfd: another thread asks this loop to stop */
	int signal_fd;                /* loop 0: the process's stop signals, else -1 */
	event_callback_fn on_signal;
	pthread_t thread;

	/* everything below belongs to the loop's own thread */
	struct event_base *base;
	struct bufferevent *channel;
	struct event *heartbeat, *stop_ev, *signal_ev;
	uint64_t due_us;              /* when the heartbeat timer should fire */
	int64_t lag_us, lag_max_us;
	json_t *counters;
	void *data;
	char fail[512];
	bool stopping, ready_sent;
	int wake_fd;                  /* LV_JOB_OWN_LOOP: lv_wake_fd's epoll instance */
	int exit_code;                /* what the job's run returned (0 otherwise) */
};

/* Runs one loop to completion in the calling thread (builds its base there). */
void lv_loop_run(struct lv_ctx *ctx);
/* Asks a loop to stop gracefully; callable from any thread. */
void lv_loop_request_stop(struct lv_ctx *ctx);

/* Sends one channel message (stolen) from the loop's thread. */
void lv_loop_send(struct lv_ctx *ctx, json_t *msg);
/* Tells the supervisor this loop is ready (once). */
void lv_loop_send_ready(struct lv_ctx *ctx);

#endif
