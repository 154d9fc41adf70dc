/* worker: the per-worker state machine: commands (start, stop, restart) and events
 * (spawned, ready, exited, timers) move a worker between the six states. */
#include "daemon/core/supervisor.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "config/signame.h"
#include "daemon/core/deps.h"
#include "daemon/out/events.h"
#include "daemon/control/inspect.h"
#include "daemon/lib/log.h"
#include "daemon/proc/output.h"
#include "daemon/out/systemd.h"
#include "ipc/utf8.h"

static const char *const state_names[WS_COUNT] = {
	[WS_STOPPED] = "stopped", [WS_STARTING] = "starting", [WS_RUNNING] = "running",
	[WS_STOPPING] = "stopping", [WS_BACKOFF] = "backoff", [WS_FAILED] = "failed",
};

const char *worker_state_name(enum worker_state s)
{
	return (unsigned)s < WS_COUNT ? state_names[s] : "unknown";
}

int worker_state_from_name(const char *name)
{
	for (int i = 0; i < WS_COUNT; i++)
		if (strcmp(state_names[i], name) == 0)
			return i;
	return -1;
}

/* The event each state's arrival emits (-1: none). */
static const int state_events[WS_COUNT] = {
	[WS_STOPPED] = EV_WORKER_STOPPED, [WS_STARTING] = EV_WORKER_STARTING,
	[WS_RUNNING] = EV_WORKER_RUNNING, [WS_STOPPING] = -1,
	[WS_BACKOFF] = EV_WORKER_BACKOFF, [WS_FAILED] = EV_WORKER_FAILED,
};

static void set_state(struct worker *w, enum worker_state s)
{
	if (w->state == s)
		return;
	if (w->state == WS_RUNNING)
		w->pool->running--;
	if (s == WS_RUNNING) {
		w->pool->running++;
		w->ran_seq = ++w->pool->sup->run_seq; /* seen by waiters however late they look */
	}
	log_info("%s: %s -> %s", w->name, worker_state_name(w->state), worker_state_name(s));
	w->state = s;
	if (state_events[s] >= 0)
		events_worker(w->pool->sup, (enum lv_event)state_events[s], w,
		              s == WS_FAILED && w->last_error
		                  ? json_pack("{s:s}", "error", w->last_error) : NULL);
	pool_changed(w->pool);
	service_worker_changed(w->pool->sup);
	if (w->pool->rolling)
		pool_roll(w->pool);
}

static void replace_text(char **slot, const char *fmt, va_list ap)
{
	char buf[1024];

	vsnprintf(buf, sizeof buf, fmt, ap);
	free(*slot);
	*slot = strdup(lv_utf8_fix(buf)); /* cut or foreign bytes would make jansson drop it */
}

void worker_set_error(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	replace_text(&w->last_error, fmt, ap);
	va_end(ap);
}

void worker_set_exit_error(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	replace_text(&w->exit_error, fmt, ap);
	va_end(ap);
}

static void on_timer(evutil_socket_t fd, short what, void *arg);
static void on_hang(evutil_socket_t fd, short what, void *arg);

static int init_loops(struct worker *w)
{
	struct pool *p = w->pool;

	w->n_loops = p->cfg.kind == LV_KIND_MODULE ? p->cfg.loops : 1;
	if (!(w->loops = calloc(w->n_loops, sizeof *w->loops)))
		return -1;
	for (unsigned i = 0; i < w->n_loops; i++) {
		w->loops[i].w = w;
		w->loops[i].index = i;
		if (!(w->loops[i].hang_timer = evtimer_new(p->sup->base, on_hang, &w->loops[i])))
			return -1;
	}
	return 0;
}

static void free_loops(struct worker *w)
{
	for (unsigned i = 0; w->loops && i < w->n_loops; i++) {
		if (w->loops[i].hang_timer)
			event_free(w->loops[i].hang_timer);
		json_decref(w->loops[i].counters);
		free(w->loops[i].counters_text);
	}
	free(w->loops);
	w->loops = NULL;
}

/* A reload may have changed the pool's loops or start limit since this worker was made. */
static int follow_config(struct worker *w)
{
	const struct lv_pool_config *cfg = &w->pool->cfg;
	unsigned loops = cfg->kind == LV_KIND_MODULE ? cfg->loops : 1;

	if (w->n_loops != loops) {
		free_loops(w);
		if (init_loops(w) < 0)
			return -1;
	}
	if (w->start_limit.burst != cfg->start_limit_burst ||
	    w->start_limit.interval_ms != cfg->start_limit_interval_ms) {
		lv_start_limit_free(&w->start_limit);
		return lv_start_limit_init(&w->start_limit, cfg->start_limit_burst,
		                           cfg->start_limit_interval_ms);
	}
	return 0;
}

/* A new process starts with a clean slate of per-process facts. */
static void reset_process_state(struct worker *w)
{
	for (unsigned i = 0; i < w->n_loops; i++) {
		struct worker_loop *l = &w->loops[i];

		evtimer_del(l->hang_timer);
		json_decref(l->counters);
		l->counters = NULL;
		free(l->counters_text);
		l->counters_text = NULL;
		l->ready = false;
		l->lag_us = l->lag_max_us = l->events = 0;
		l->last_beat_ms = 0;
	}
	free(w->exit_error);
	free(w->notify_status);
	w->exit_error = w->notify_status = NULL;
	w->hung = w->notify_stopping = false;
}

struct worker *worker_new(struct pool *pool, unsigned index)
{
	struct worker *w = calloc(1, sizeof *w);

	if (!w)
		return NULL;
	w->pool = pool;
	w->index = index;
	w->error_fd = -1;
	snprintf(w->name, sizeof w->name, "%s:%u", pool->cfg.name, index);
	if (lv_start_limit_init(&w->start_limit, pool->cfg.start_limit_burst,
	                        pool->cfg.start_limit_interval_ms) < 0 ||
	    !(w->timer = evtimer_new(pool->sup->base, on_timer, w)) || init_loops(w) < 0) {
		worker_free(w);
		return NULL;
	}
	return w;
}

/* Nothing may point at a freed worker: what waits for it (parked inspect requests) is
 * answered now, and a pid still in the table no longer leads to it. Timers, channels and
 * log pipes are the worker's own and go with it below; waiters and followers hold names. */
static void settle_references(struct worker *w)
{
	struct supervisor *sup = w->pool->sup;

	inspect_worker_gone(sup, w, "was removed");
	if (w->pid > 0 && lv_pidmap_get(&sup->pids, w->pid) == w)
		lv_pidmap_del(&sup->pids, w->pid);
}

void worker_free(struct worker *w)
{
	if (!w)
		return;
	settle_references(w);
	worker_close_process(w);
	if (w->timer)
		event_free(w->timer);
	free_loops(w);
	logs_free_worker(w);
	lv_start_limit_free(&w->start_limit);
	free(w->last_error);
	free(w->exit_error);
	free(w->notify_status);
	free(w);
}

static void arm_timer(struct worker *w, unsigned ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	w->deadline_ms = lv_now_ms() + ms;
	evtimer_add(w->timer, &tv);
}

/* Starts a process now unless the pools it follows are not running yet, or the start
 * limit says the worker has failed too often. */
static void spawn_now(struct worker *w)
{
	uint64_t now = lv_now_ms();
	char why[LV_ERRBUF];

	evtimer_del(w->timer);
	if (w->pool->sup->shutting_down) { /* a backoff or a roll must not outlive the shutdown */
		w->want_running = w->waiting_deps = false;
		set_state(w, WS_STOPPED);
		return;
	}
	if (!deps_ready(w->pool->sup, w->pool, why, sizeof why)) {
		if (!w->waiting_deps)
			log_info("%s: %s", w->name, why);
		w->waiting_deps = true;
		worker_set_error(w, "%s", why);
		set_state(w, WS_STARTING);
		return;
	}
	w->waiting_deps = false;
	if (follow_config(w) < 0) {
		worker_set_error(w, "out of memory");
		w->want_running = false;
		set_state(w, WS_FAILED);
		return;
	}
	if (lv_start_limit_hit(&w->start_limit, now)) {
		char *last = w->last_error;

		w->last_error = NULL;
		worker_set_error(w, "start limit hit: %u starts within %u ms%s%s",
		                 w->start_limit.burst, w->start_limit.interval_ms,
		                 last ? "; last error: " : "", last ? last : "");
		free(last);
		log_warn("%s: %s", w->name, w->last_error);
		w->want_running = false;
		set_state(w, WS_FAILED);
		return;
	}
	lv_start_limit_record(&w->start_limit, now);
	reset_process_state(w);
	if (worker_spawn(w) < 0) {
		log_err("%s: %s", w->name, w->last_error ? w->last_error : "spawn failed");
		if (w->pool->cfg.restart == LV_RESTART_NEVER) {
			w->want_running = false;
			set_state(w, WS_FAILED);
			return;
		}
		w->quick_failures++;
		set_state(w, WS_BACKOFF);
		arm_timer(w, lv_backoff_ms(w->quick_failures));
		return;
	}
	set_state(w, WS_STARTING);
	if (w->state == WS_STARTING) /* a fast worker may be running already */
		arm_timer(w, w->pool->cfg.start_timeout_ms);
}

/* One timer per worker, whose meaning depends on the state it was armed in. */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	uint64_t now = lv_now_ms();

	(void)fd;
	(void)what;
	if (now < w->deadline_ms) {
		/* libevent's clock is CLOCK_MONOTONIC_COARSE (ticks of up to 4 ms) and counts
		 * from the top of the loop pass: early by that much, wait out the rest */
		arm_timer(w, (unsigned)(w->deadline_ms - now));
		return;
	}
	if (w->state == WS_BACKOFF) {
		spawn_now(w);
	} else if (w->pid <= 0) {
		return;
	} else if (w->hung) {
		log_warn("%s: still there after SIGABRT, killing its process group", w->name);
		worker_kill(w, SIGKILL, true);
	} else if (w->state == WS_STOPPING) {
		log_warn("%s: did not stop within %u ms, killing its process group", w->name,
		         w->pool->cfg.stop_timeout_ms);
		worker_kill(w, SIGKILL, true);
	} else if (w->state == WS_STARTING) {
		worker_set_exit_error(w, "start timeout: not ready within %u ms",
		                      w->pool->cfg.start_timeout_ms);
		log_warn("%s: %s, killing its process group", w->name, w->exit_error);
		worker_kill(w, SIGKILL, true);
	}
}

#define HANG_KILL_GRACE_MS 2000

/* A loop's heartbeats stopped: abort the worker (a core shows where it hung), then kill. */
static void on_hang(evutil_socket_t fd, short what, void *arg)
{
	struct worker_loop *l = arg;
	struct worker *w = l->w;
	uint64_t age = lv_now_ms() - (l->last_beat_ms ? l->last_beat_ms : w->ready_ms);

	(void)fd;
	(void)what;
	if (w->pid <= 0 || w->hung || (w->state != WS_RUNNING && w->state != WS_STARTING))
		return;
	w->hung = true;
	worker_set_exit_error(w, "hung: no heartbeat for %llu ms", (unsigned long long)age);
	log_err("%s: loop %u %s; sending SIGABRT", w->name, l->index, w->exit_error);
	events_worker(w->pool->sup, EV_WORKER_HUNG, w, json_pack("{s:s}", "error", w->exit_error));
	worker_kill(w, SIGABRT, false);
	arm_timer(w, HANG_KILL_GRACE_MS);
}

/* Re-armed on every heartbeat of every loop: a libevent "common timeout" (one queue per
 * duration) makes that O(1) instead of a heap insert among 10000 timers. */
static void arm_hang_timer(struct worker_loop *l)
{
	struct pool *p = l->w->pool;
	unsigned ms = p->cfg.hang_timeout_ms;

	if (ms == 0 || l->w->hung || l->w->state == WS_STOPPING)
		return;
	if (p->hang_tv_ms != ms) {
		struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
		const struct timeval *common = event_base_init_common_timeout(p->sup->base, &tv);

		p->hang_tv = common ? *common : tv;
		p->hang_tv_ms = ms;
	}
	evtimer_add(l->hang_timer, &p->hang_tv);
}

void worker_evict(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	if (w->pid <= 0 || w->exit_error)
		return; /* already on its way out */
	va_start(ap, fmt);
	replace_text(&w->exit_error, fmt, ap);
	va_end(ap);
	log_err("%s: %s; killing it", w->name, w->exit_error);
	worker_kill(w, SIGKILL, true);
}

void worker_heartbeat(struct worker_loop *l)
{
	l->last_beat_ms = lv_now_ms();
	arm_hang_timer(l);
}

/* Explicit commands forget the failure history: the operator asked for it. */
static void forget_failures(struct worker *w)
{
	w->quick_failures = 0;
	lv_start_limit_reset(&w->start_limit);
}

void worker_resume(struct worker *w)
{
	if (w->waiting_deps && w->state == WS_STARTING && w->want_running)
		spawn_now(w);
}

void worker_start(struct worker *w)
{
	w->want_running = true;
	switch (w->state) {
	case WS_STOPPED:
	case WS_FAILED:
	case WS_BACKOFF:
		forget_failures(w);
		spawn_now(w);
		break;
	case WS_STARTING:
	case WS_RUNNING:
	case WS_STOPPING: /* respawns when the current process is reaped */
		break;
	}
}

static void request_stop(struct worker *w)
{
	w->stop_requested = true;
	set_state(w, WS_STOPPING);
	for (unsigned i = 0; i < w->n_loops; i++)
		evtimer_del(w->loops[i].hang_timer); /* a draining loop may stall; the stop timeout rules */
	worker_ask_stop(w);
	arm_timer(w, w->pool->cfg.stop_timeout_ms);
}

void worker_stop(struct worker *w)
{
	w->want_running = false;
	if (w->state == WS_STARTING && w->pid <= 0) { /* only waiting for its "after" pools */
		w->waiting_deps = false;
		set_state(w, WS_STOPPED);
		return;
	}
	switch (w->state) {
	case WS_STARTING:
	case WS_RUNNING:
		request_stop(w);
		break;
	case WS_BACKOFF:
	case WS_FAILED:
		evtimer_del(w->timer);
		set_state(w, WS_STOPPED);
		break;
	case WS_STOPPED:
	case WS_STOPPING:
		break;
	}
}

void worker_restart(struct worker *w)
{
	forget_failures(w);
	w->want_running = true;
	if ((w->state == WS_STARTING || w->state == WS_RUNNING) && w->pid > 0)
		request_stop(w);
	else if (w->state == WS_STARTING)
		spawn_now(w); /* waiting for its "after" pools: check again */
	else
		worker_start(w);
}

void worker_ready(struct worker *w)
{
	if (w->state != WS_STARTING)
		return;
	evtimer_del(w->timer); /* the start timeout */
	w->ready_ms = lv_now_ms();
	/* from now on a module loop that never beats is as hung as one that stopped beating */
	if (w->pool->cfg.kind == LV_KIND_MODULE) {
		for (unsigned i = 0; i < w->n_loops; i++)
			arm_hang_timer(&w->loops[i]);
		/* its start errors are behind it: the pipe need not cost a descriptor per worker */
		worker_close_error(w);
	}
	set_state(w, WS_RUNNING);
}

void worker_loop_ready(struct worker_loop *l)
{
	struct worker *w = l->w;

	l->ready = true;
	for (unsigned i = 0; i < w->n_loops; i++)
		if (!w->loops[i].ready)
			return;
	worker_ready(w);
}

static json_t *exit_event_members(int status, const char *error)
{
	json_t *m = json_pack("{s:o}", "exit", exit_status_json(status));
	json_t *text = error ? json_string(error) : NULL;

	if (text)
		json_object_set_new(m, "error", text);
	return m;
}

static void log_exit(const struct worker *w, int status, uint64_t uptime)
{
	if (WIFSIGNALED(status)) {
		const char *sig = lv_signal_name(WTERMSIG(status));
		log_info("%s: pid %d killed by signal %s after %llu ms", w->name, (int)w->pid,
		         sig ? sig : "?", (unsigned long long)uptime);
	} else {
		log_info("%s: pid %d exited with code %d after %llu ms", w->name, (int)w->pid,
		         WEXITSTATUS(status), (unsigned long long)uptime);
	}
}

/* What follows an exit the supervisor did not ask for: policy, backoff, start limit. */
static void after_unexpected_exit(struct worker *w, int status, uint64_t uptime)
{
	if (!lv_should_restart(w->pool->cfg.restart, status)) {
		w->want_running = false;
		set_state(w, lv_exit_is_clean(status) ? WS_STOPPED : WS_FAILED);
		return;
	}
	w->quick_failures = uptime >= LV_STABLE_RUN_MS ? 0 : w->quick_failures + 1;
	if (w->quick_failures == 0) {
		spawn_now(w);
		return;
	}
	set_state(w, WS_BACKOFF);
	arm_timer(w, lv_backoff_ms(w->quick_failures));
}

void worker_exited(struct worker *w, int status)
{
	struct supervisor *sup = w->pool->sup;
	uint64_t uptime = lv_now_ms() - w->started_ms;
	bool asked = w->stop_requested;

	log_exit(w, status, uptime);
	logs_drain(w); /* its last words come before the news of its death */
	worker_drain_error(w);
	events_worker(sup, EV_WORKER_EXITED, w, exit_event_members(status, w->exit_error));
	inspect_worker_gone(sup, w, "exited"); /* the process asked can never answer now */
	worker_close_process(w);
	evtimer_del(w->timer);
	for (unsigned i = 0; i < w->n_loops; i++)
		evtimer_del(w->loops[i].hang_timer);
	/* last_error tells why this process ended badly, or nothing if it did not */
	free(w->last_error);
	w->last_error = w->exit_error;
	w->exit_error = NULL;
	w->pid = 0;
	w->last_status = status;
	w->has_exited = true;
	w->stop_requested = false;
	sup->live--;

	if (sup->shutting_down || w->removing || !w->want_running)
		set_state(w, WS_STOPPED);
	else if (asked)
		spawn_now(w); /* restart: the stop was half of it */
	else
		after_unexpected_exit(w, status, uptime);
}
