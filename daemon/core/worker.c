/* worker: carries out the state machine's steps (core/fsm.c) for one worker: gathers the
 * facts an input needs, then does what the step says: timers, signals, spawns, state. */
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
#include "daemon/lib/log.h"
#include "daemon/proc/output.h"
#include "ipc/utf8.h"

/* Every change of state leaves the core here, through the outlet, and only here. */
static void set_state(struct worker *w, enum worker_state s)
{
	struct core_change c = { .kind = CC_WORKER_STATE, .worker = w, .pool = w->pool,
	                         .from = w->state };

	if (w->state == s)
		return;
	if (w->state == WS_RUNNING)
		w->pool->running--;
	if (s == WS_RUNNING) {
		w->pool->running++;
		w->ran_seq = ++w->pool->sup->run_seq; /* seen by waiters however late they look */
		if (w->proc.pid > 0) /* from its process made to running (ready) */
			lv_histo_observe(&w->pool->stats.spawn, (lv_now_ms() - w->started_ms) * 1000);
	}
	log_info("%s: %s -> %s", w->name, fsm_state_name(w->state), fsm_state_name(s));
	w->state = s;
	core_changed(w->pool->sup, &c);
	probes_state_changed(w, c.from);
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
		w->loops[i].ch = (struct loop_channel){ .all = &p->sup->channels, .owner = w, .index = i,
		                                        .name = w->name, .output = &w->output };
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
		loop_channel_close(&w->loops[i].ch);
		loop_channel_forget(&w->loops[i].ch);
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
		loop_channel_forget(&l->ch);
		l->ready = false;
		l->last_beat_ms = 0;
	}
	free(w->exit_error);
	notify_peer_reset(&w->notify);
	w->exit_error = NULL;
	w->hung = false;
	w->ready_early = false;
}

struct worker *worker_new(struct pool *pool, unsigned index)
{
	struct worker *w = calloc(1, sizeof *w);

	if (!w)
		return NULL;
	w->pool = pool;
	w->index = index;
	snprintf(w->name, sizeof w->name, "%s:%u", pool->cfg.name, index);
	w->proc = (struct process){ .name = w->name, .owner = w, .error_fd = -1,
	                            .notify = &w->notify };
	w->output = (struct output){ .all = &pool->sup->outputs, .name = w->name,
	                             .pool = pool->cfg.name, .pid = &w->proc.pid, .file = &pool->log,
	                             .lines = pool->stats.log_lines,
	                             .dropped = &pool->stats.log_dropped,
	                             .watch = probes_line, .watch_arg = w };
	if (lv_start_limit_init(&w->start_limit, pool->cfg.start_limit_burst,
	                        pool->cfg.start_limit_interval_ms) < 0 ||
	    !(w->timer = evtimer_new(pool->sup->base, on_timer, w)) || init_loops(w) < 0) {
		worker_free(w);
		return NULL;
	}
	return w;
}

/* Nothing may point at a freed worker: what waits for it (parked inspect requests) hears
 * of it now, and a pid still in the table no longer leads to it. Timers, channels and log
 * pipes are the worker's own and go with it below; waiters and followers hold names. */
static void settle_references(struct worker *w)
{
	struct supervisor *sup = w->pool->sup;
	struct core_change c = { .kind = CC_WORKER_GONE, .worker = w, .pool = w->pool };

	core_changed(sup, &c);
	procs_forget(&sup->procs, &w->proc);
}

void worker_free(struct worker *w)
{
	if (!w)
		return;
	settle_references(w);
	probes_free(w);
	worker_close_process(w);
	if (w->timer)
		event_free(w->timer);
	free_loops(w);
	output_free(&w->output);
	lv_start_limit_free(&w->start_limit);
	free(w->last_error);
	free(w->exit_error);
	notify_peer_reset(&w->notify);
	worker_env_free(&w->env);
	free(w);
}


static void arm_timer(struct worker *w, unsigned ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	w->deadline_ms = lv_now_ms() + ms;
	evtimer_add(w->timer, &tv);
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

/* What an input may lead to, and the facts that decide it. */
struct input {
	enum fsm_input in;
	int status;                  /* FI_EXITED */
	uint64_t uptime_ms;          /* FI_EXITED */
	const char *detail;          /* FI_HUNG, FI_FAULT: what the error says */
	char why[LV_ERRBUF];         /* filled: why it waits for other pools */
	bool no_memory;              /* filled: the worker could not follow its pool's config */
};

static bool may_start(enum fsm_input in)
{
	return in == FI_START || in == FI_RESTART || in == FI_DEPS_READY || in == FI_EXITED ||
	       in == FI_TIMER;
}

static void gather(struct worker *w, struct input *in, struct fsm_facts *f)
{
	const struct pool *p = w->pool;
	const struct supervisor *sup = p->sup;

	*f = (struct fsm_facts){
		.want_running = w->want_running, .quick_failures = w->quick_failures,
		.has_process = w->proc.pid > 0 || w->proc.spawning, .hung = w->hung,
		.stop_requested = w->stop_requested, .fault = w->fault,
		.shutting_down = sup->shutting_down, .removing = w->removing, .deps_ready = true,
		.restart = p->cfg.restart, .exit_status = in->status,
		.stable_run = in->uptime_ms >= LV_STABLE_RUN_MS,
		.start_timeout_ms = p->cfg.start_timeout_ms, .stop_timeout_ms = p->cfg.stop_timeout_ms,
	};
	if (!may_start(in->in))
		return;
	f->deps_ready = deps_ready(w->pool->sup, w->pool, in->why, sizeof in->why);
	in->no_memory = follow_config(w) < 0; /* a reload may have changed its start limit */
	f->start_limit_hit = lv_start_limit_hit(&w->start_limit, lv_now_ms());
}

/* "exit 3", "killed by SEGV": how the last process ended. */
static void describe_exit(int status, char *buf, size_t len)
{
	const char *sig = WIFSIGNALED(status) ? lv_signal_name(WTERMSIG(status)) : NULL;

	if (!WIFSIGNALED(status))
		snprintf(buf, len, "exit %d", WEXITSTATUS(status));
	else if (sig)
		snprintf(buf, len, "killed by %s", sig);
	else
		snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
}

/* "start limit hit after 5 starts in 10 s; last: exit 3": what ended the loop stays told. */
static void say_start_limit(struct worker *w)
{
	unsigned ms = w->start_limit.interval_ms;
	char *last = w->last_error, exit_text[64] = "", span[32];

	if (!last && w->has_exited)
		describe_exit(w->last_status, exit_text, sizeof exit_text);
	if (ms % 1000 == 0)
		snprintf(span, sizeof span, "%u s", ms / 1000);
	else
		snprintf(span, sizeof span, "%u ms", ms);
	w->last_error = NULL;
	worker_set_error(w, "start limit hit after %u starts in %s%s%s", w->start_limit.burst, span,
	                 last || exit_text[0] ? "; last: " : "", last ? last : exit_text);
	free(last);
	log_warn("%s: %s", w->name, w->last_error);
}

/* Error texts and the log lines that go with what the step does. */
static void say_why(struct worker *w, const struct fsm_step *s, const struct input *in)
{
	if ((s->actions & FA_ERR_DEPS) && w->state != WS_WAITING)
		log_info("%s: %s", w->name, in->why);
	if (s->actions & FA_ERR_DEPS)
		worker_set_error(w, "%s", in->why);
	if (s->actions & FA_ERR_START_LIMIT)
		say_start_limit(w);
	if (s->actions & FA_ERR_START_TIMEOUT)
		w->start_timed_out = true;
	if (s->actions & FA_ERR_START_TIMEOUT)
		worker_set_exit_error(w, "start timeout: not ready within %u ms",
		                      w->pool->cfg.start_timeout_ms);
	if (s->actions & (FA_ERR_HUNG | FA_ERR_FAULT))
		worker_set_exit_error(w, "%s", in->detail);
	if (!(s->actions & FA_KILL))
		return;
	if (w->hung && !(s->actions & FA_ERR_HUNG))
		log_warn("%s: still there after SIGABRT, killing its process group", w->name);
	else if (w->state == WS_STOPPING)
		log_warn("%s: did not stop within %u ms, killing its process group", w->name,
		         w->pool->cfg.stop_timeout_ms);
	else if (s->actions & FA_ERR_START_TIMEOUT)
		log_warn("%s: %s, killing its process group", w->name, w->exit_error);
}

/* A new process: the start counts toward the limit, per-process facts start clean. */
static int spawn(struct worker *w, const struct input *in)
{
	if (in->no_memory) {
		worker_set_error(w, "out of memory");
		return -1;
	}
	lv_start_limit_record(&w->start_limit, lv_now_ms());
	reset_process_state(w);
	worker_spawn(w);
	return 0;
}

static void feed(struct worker *w, struct input *in);

static void carry_out(struct worker *w, const struct fsm_step *s, struct input *in)
{
	w->want_running = s->want_running;
	w->quick_failures = s->quick_failures;
	w->stop_requested = s->stop_requested;
	w->hung = s->hung;
	w->fault = s->fault;
	if (s->actions & FA_FORGET_FAILURES)
		lv_start_limit_reset(&w->start_limit);
	if (s->actions & FA_CLEAR_TIMER)
		evtimer_del(w->timer);
	for (unsigned i = 0; (s->actions & FA_DISARM_HANG) && i < w->n_loops; i++)
		evtimer_del(w->loops[i].hang_timer);
	say_why(w, s, in);
	if (s->actions & FA_ASK_STOP)
		worker_ask_stop(w);
	if (s->actions & FA_KILL)
		worker_kill(w, SIGKILL, true);
	if (s->actions & FA_ABORT)
		worker_kill(w, SIGABRT, false);
	if ((s->actions & FA_SPAWN) && spawn(w, in) < 0) {
		in->in = FI_SPAWN_FAILED;
		feed(w, in);
		return;
	}
	if (s->actions & FA_ARM_HANG) {
		w->ready_ms = lv_now_ms();
		/* from now on a module loop that never beats is as hung as one that stopped */
		if (w->pool->cfg.kind == LV_KIND_MODULE) {
			for (unsigned i = 0; i < w->n_loops; i++)
				arm_hang_timer(&w->loops[i]);
			worker_close_error(w); /* its start errors are behind it: free the pipe */
		}
	}
	set_state(w, s->next);
	if ((s->actions & FA_ARM_TIMER) && w->state == s->next)
		arm_timer(w, s->delay_ms);
}

static void feed(struct worker *w, struct input *in)
{
	struct fsm_facts f;
	struct fsm_step s;

	gather(w, in, &f);
	s = fsm_step(w->state, in->in, &f);
	carry_out(w, &s, in);
}

static void feed_input(struct worker *w, enum fsm_input in)
{
	struct input i = { .in = in };

	feed(w, &i);
}

void worker_start(struct worker *w) { feed_input(w, FI_START); }
void worker_stop(struct worker *w) { feed_input(w, FI_STOP); }
void worker_restart(struct worker *w) { feed_input(w, FI_RESTART); }
void worker_resume(struct worker *w) { feed_input(w, FI_DEPS_READY); }
/* A notify worker's READY=1 may be read before the news of its pid is handed on (both come
 * as the loop reads them): it counts once its process is known. */
void worker_ready(struct worker *w)
{
	if (w->state == WS_SPAWNING && w->proc.pid > 0)
		w->ready_early = true;
	else if (probes_let_ready(w)) /* else owed until its startup probe passes */
		feed_input(w, FI_READY);
}

/* A fault found in its process: a failed probe, memory past memory_restart. */
static void fault(struct worker *w, enum lv_restart_reason why, const char *detail)
{
	struct input in = { .in = FI_FAULT, .detail = detail };

	if (!w->fault) /* the first fault is the one it stops for */
		w->fault_reason = why;
	feed(w, &in);
}

void worker_probe_failed(struct worker *w, const char *detail)
{
	fault(w, LV_RR_PROBE, detail);
}

void worker_memory_over(struct worker *w, const char *detail)
{
	fault(w, LV_RR_MEMORY, detail);
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
	feed_input(w, FI_TIMER);
}

/* A loop's heartbeats stopped: abort the worker (a core shows where it hung), then kill. */
static void on_hang(evutil_socket_t fd, short what, void *arg)
{
	struct worker_loop *l = arg;
	struct worker *w = l->w;
	uint64_t age = lv_now_ms() - (l->last_beat_ms ? l->last_beat_ms : w->ready_ms);
	char detail[128];
	struct input in = { .in = FI_HUNG, .detail = detail };
	struct core_change c = { .kind = CC_WORKER_HUNG, .worker = w, .pool = w->pool };

	bool was_hung = w->hung;

	(void)fd;
	(void)what;
	snprintf(detail, sizeof detail, "hung: no heartbeat for %llu ms", (unsigned long long)age);
	feed(w, &in);
	if (was_hung || !w->hung)
		return; /* not aborted now: it was already, or it is not running */
	w->pool->stats.hangs++;
	log_err("%s: loop %u %s; sending SIGABRT", w->name, l->index, w->exit_error);
	c.error = w->exit_error;
	core_changed(w->pool->sup, &c);
}

bool worker_should_run(const struct worker *w)
{
	return !w->held && (w->want_running || w->state == WS_FAILED);
}

int worker_kill(struct worker *w, int sig, bool group)
{
	return procs_kill(&w->pool->sup->procs, &w->proc, sig, group);
}

void worker_evict(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	if (w->proc.pid <= 0 || w->exit_error)
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

void worker_loop_ready(struct worker_loop *l)
{
	struct worker *w = l->w;

	l->ready = true;
	for (unsigned i = 0; i < w->n_loops; i++)
		if (!w->loops[i].ready)
			return;
	worker_ready(w);
}

static void log_exit(const struct worker *w, int status, uint64_t uptime)
{
	if (WIFSIGNALED(status)) {
		const char *sig = lv_signal_name(WTERMSIG(status));
		log_info("%s: pid %d killed by signal %s after %llu ms", w->name, (int)w->proc.pid,
		         sig ? sig : "?", (unsigned long long)uptime);
	} else {
		log_info("%s: pid %d exited with code %d after %llu ms", w->name, (int)w->proc.pid,
		         WEXITSTATUS(status), (unsigned long long)uptime);
	}
}

void worker_spawned(struct worker *w, const struct spawn_io *io)
{
	bool ready = w->ready_early;

	w->ready_early = false;
	worker_env_free(&w->env); /* sent: up to env_file's 1 MiB need not stay per worker */
	worker_take_io(w, io);
	feed_input(w, FI_SPAWNED);
	if (ready)
		feed_input(w, FI_READY);
}

void worker_spawn_failed(struct worker *w, const char *why)
{
	worker_env_free(&w->env);
	worker_set_error(w, "%s", why);
	log_err("%s: cannot start: %s", w->name, w->last_error);
	feed_input(w, FI_SPAWN_FAILED);
}

/* Why this process ended, as the restart that may follow counts it. */
static enum lv_restart_reason end_reason(const struct worker *w, int status)
{
	const struct pool *p = w->pool;

	if (w->proc.oom_kills && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		return LV_RR_OOM; /* whatever it was doing, the OOM killer ended it */
	if (w->hung)
		return LV_RR_HANG;
	if (w->fault)
		return w->fault_reason;
	if (w->start_timed_out)
		return LV_RR_START_TIMEOUT;
	if (w->stop_requested && w->want_running) /* a restart asked for */
		return p->roll.active && p->roll.reload && p->roll.index == w->index ? LV_RR_RELOAD
		                                                                     : LV_RR_COMMAND;
	return WIFSIGNALED(status) ? LV_RR_SIGNAL : LV_RR_EXIT;
}

void worker_exited(struct worker *w, int status)
{
	struct supervisor *sup = w->pool->sup;
	struct input in = { .in = FI_EXITED, .status = status,
	                    .uptime_ms = lv_now_ms() - w->started_ms };
	struct core_change c = { .kind = CC_WORKER_EXITED, .worker = w, .pool = w->pool,
	                         .status = status };

	log_exit(w, status, in.uptime_ms);
	w->end_reason = end_reason(w, status);
	w->oom_kills += w->proc.oom_kills;
	if (w->end_reason == LV_RR_OOM && !w->exit_error)
		worker_set_exit_error(w, "killed by the OOM killer (%u processes of its cgroup)",
		                      w->proc.oom_kills);
	output_drain(&w->output); /* its last words come before the news of its death */
	if (worker_drain_error(w))
		worker_ready(w);
	c.error = w->exit_error;
	core_changed(sup, &c);
	worker_close_process(w);
	/* last_error tells why this process ended badly, or nothing if it did not */
	free(w->last_error);
	w->last_error = w->exit_error;
	w->exit_error = NULL;
	w->proc.pid = 0;
	w->last_status = status;
	w->has_exited = true;
	feed(w, &in);
}
