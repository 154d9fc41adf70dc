/* probes: runs a worker's probes and turns their results into its state machine's inputs
 * and its readiness (see probes.h). One timer per probe; an attempt never overlaps the one
 * before; a pool's workers are spread over the period so that 1,000 of them do not probe in
 * the same millisecond. http and tcp attempts run on the loop (proc/probe_net.c); a log
 * probe is a verdict the captured lines made since the process started. */
#include "daemon/core/probes.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/template.h"
#include "daemon/core/supervisor.h"
#include "daemon/lib/log.h"
#include "daemon/proc/probe_net.h"

static const struct lv_probe_config *config_of(const struct probe_state *ps)
{
	return &ps->w->pool->cfg.probes[ps->role];
}

static bool configured(const struct worker *w, enum lv_probe_role role)
{
	return w->pool->cfg.probes[role].kind != LV_PROBE_NONE;
}

static void unwatch_log(struct worker_probes *wp)
{
	for (unsigned r = 0; r < LV_PROBE_ROLES; r++) {
		if (wp->log_re_ok[r])
			regfree(&wp->log_re[r]);
		wp->log_re_ok[r] = wp->log_seen[r] = false;
	}
}

static void on_due(evutil_socket_t fd, short what, void *arg);

int probes_init(struct worker *w)
{
	if (!(w->probes = calloc(1, sizeof *w->probes)))
		return -1;
	/* a failure below leaves timers NULL: probes_free copes */
	for (unsigned r = 0; r < LV_PROBE_ROLES; r++) {
		struct probe_state *ps = &w->probes->p[r];

		ps->w = w;
		ps->role = (enum lv_probe_role)r;
		ps->last = -1;
		if (!(ps->timer = evtimer_new(w->pool->sup->base, on_due, ps)))
			return -1;
	}
	return 0;
}

static void stop_probe(struct probe_state *ps)
{
	if (ps->timer)
		evtimer_del(ps->timer);
	probe_net_cancel(ps->net);
	ps->net = NULL;
	probe_keep_close(&ps->keep);
	probe_exec_stop(&ps->exec);
	ps->in_flight = false;
	if (ps->re_ok)
		regfree(&ps->re);
	ps->re_ok = false;
	free(ps->target);
	ps->target = NULL;
}

void probes_free(struct worker *w)
{
	if (!w->probes)
		return;
	for (unsigned r = 0; r < LV_PROBE_ROLES; r++) {
		stop_probe(&w->probes->p[r]);
		probe_exec_forget(&w->probes->p[r].exec);
		if (w->probes->p[r].timer)
			event_free(w->probes->p[r].timer);
	}
	unwatch_log(w->probes);
	free(w->probes);
	w->probes = NULL;
}

/* Attempts fall on a 20 ms grid of the monotonic clock, as the workers' heartbeats do
 * (worker/loop.c): 1,000 workers probed each second wake the daemon 50 times a second, each
 * time for 20 of them, not 1,000 times for one. */
#define PROBE_GRID_MS 20

/* The next attempt in about ms: on the grid, never sooner than ms. */
static void arm(struct probe_state *ps, uint64_t ms)
{
	uint64_t now = lv_now_ms(), due = (now + ms + PROBE_GRID_MS - 1) / PROBE_GRID_MS *
	                                  PROBE_GRID_MS;
	struct timeval tv = { .tv_sec = (time_t)((due - now) / 1000),
	                      .tv_usec = (suseconds_t)((due - now) % 1000) * 1000 };

	evtimer_add(ps->timer, &tv);
}

/* The first attempt: initial_delay_ms after the process started, plus this worker's share
 * of the period, so that the pool's workers probe one after the other. */
static void schedule_first(struct probe_state *ps)
{
	const struct lv_probe_config *cfg = config_of(ps);
	const struct pool *p = ps->w->pool;
	uint64_t now = lv_now_ms(), at = ps->w->started_ms + cfg->initial_delay_ms;
	uint64_t share = p->n_slots ? (uint64_t)cfg->period_ms * (ps->w->index % p->n_slots) /
	                              p->n_slots : 0;

	ps->successes = ps->failures = 0;
	arm(ps, (at > now ? at - now : 0) + share);
}

/* The readiness flag follows the state and the readiness probe; "after", rolls, waiters
 * and /readyz are judged again when it changes. True if it did. */
static bool update_ready(struct worker *w)
{
	struct core_change c = { .kind = CC_WORKER_READY, .worker = w, .pool = w->pool };
	bool ready = w->state == WS_RUNNING && probes_ready(w);

	if (ready == w->ready)
		return false;
	w->ready = ready;
	if (ready) {
		w->pool->ready++;
		w->ready_seq = ++w->pool->sup->run_seq;
	} else {
		w->pool->ready--;
	}
	core_changed(w->pool->sup, &c);
	return true;
}

/* Tells the outlet (worker.probe) of every failure, and of a success that differs from the
 * result before or made the worker ready: steady successes stay quiet. */
static void tell(struct probe_state *ps, bool ok, int before, bool ready_changed)
{
	struct core_change c = { .kind = CC_WORKER_PROBE, .worker = ps->w, .pool = ps->w->pool,
	                         .probe = lv_probe_role_name(ps->role), .probe_ok = ok,
	                         .error = ps->why };

	if (ok && before == 1 && !ready_changed)
		return;
	core_changed(ps->w->pool->sup, &c);
}

static void failed_past_threshold(struct probe_state *ps)
{
	struct worker *w = ps->w;
	char detail[256];

	snprintf(detail, sizeof detail, "%s probe failed %u times: %s", lv_probe_role_name(ps->role),
	         ps->failures, ps->why);
	log_warn("%s: %s", w->name, detail);
	w->pool->sup->probe_hooks.failed(w, detail);
}

/* An attempt's verdict: the counts and flags first, then the event (which carries the
 * readiness they give), then what the state machine must do about it. */
static void probe_result(struct probe_state *ps, bool ok, const char *why)
{
	const struct lv_probe_config *cfg = config_of(ps);
	struct worker *w = ps->w;
	int before = ps->last;
	uint64_t took = lv_now_us() - ps->attempt_us;
	bool past_threshold, ready_changed = false;

	ps->in_flight = false;
	ps->net = NULL;
	ps->last = ok;
	snprintf(ps->why, sizeof ps->why, "%s", why);
	w->pool->stats.probe_results[ps->role][ok]++;
	lv_histo_observe(&w->pool->stats.probe_duration[ps->role], took);
	ps->successes = ok ? ps->successes + 1 : 0;
	ps->failures = ok ? 0 : ps->failures + 1;
	past_threshold = !ok && ps->failures >= cfg->failure_threshold;
	if (ps->role == LV_PROBE_STARTUP && ok) {
		ps->passed = true;
		evtimer_del(ps->timer); /* it is done with */
	} else if (ps->role == LV_PROBE_READINESS) {
		if (ok && ps->successes >= cfg->success_threshold)
			ps->passed = true;
		else if (past_threshold)
			ps->passed = false;
		ready_changed = update_ready(w);
	}
	tell(ps, ok, before, ready_changed);
	if (ps->role == LV_PROBE_STARTUP && ok && w->probes->ready_owed) {
		w->probes->ready_owed = false;
		w->pool->sup->probe_hooks.ready(w);
	} else if (ps->role != LV_PROBE_READINESS && past_threshold) {
		failed_past_threshold(ps);
	}
}

static void on_attempt_done(void *arg, bool ok, const char *why)
{
	struct probe_state *ps = arg;

	probe_result(ps, ok, why);
}

/* Each log probe that has not seen its line yet looks at this one (a copy with its NUL:
 * captured lines have none). */
void probes_line(void *arg, const char *text, size_t len)
{
	struct worker *w = arg;
	struct worker_probes *wp = w->probes;
	char *line = NULL;

	if (!wp || w->proc.pid <= 0)
		return;
	for (unsigned r = 0; r < LV_PROBE_ROLES; r++) {
		if (!wp->log_re_ok[r] || wp->log_seen[r])
			continue;
		if (!line && !(line = strndup(text, len)))
			return;
		wp->log_seen[r] = regexec(&wp->log_re[r], line, 0, NULL, 0) == 0;
	}
	free(line);
}

/* One attempt, and the next one a period after it began. */
static void attempt(struct probe_state *ps)
{
	const struct lv_probe_config *cfg = config_of(ps);
	struct worker *w = ps->w;
	char why[160];

	arm(ps, cfg->period_ms);
	if (ps->in_flight || ps->exec.live)
		return; /* the one before is still on its way: attempts never overlap */
	ps->attempt_us = lv_now_us();
	ps->in_flight = true;
	switch (cfg->kind) {
	case LV_PROBE_LOG:
		probe_result(ps, w->probes->log_seen[ps->role],
		             w->probes->log_seen[ps->role] ? "the line was printed"
		                                           : "no such line yet");
		return;
	case LV_PROBE_HTTP:
	case LV_PROBE_TCP:
		if (!ps->target) { /* its template could not be expanded when it started */
			snprintf(why, sizeof why, "%s", ps->why);
			probe_result(ps, false, why);
		} else if (!(ps->net = probe_net_start(w->pool->sup->base, cfg, ps->target,
		                                     ps->re_ok ? &ps->re : NULL, &ps->keep,
		                                     on_attempt_done, ps, why, sizeof why))) {
			probe_result(ps, false, why);
		}
		return;
	case LV_PROBE_EXEC:
		if (probe_exec_start(&ps->exec, w, ps->role, on_attempt_done, ps, why, sizeof why) < 0)
			probe_result(ps, false, why);
		return;
	case LV_PROBE_NONE:
		ps->in_flight = false;
		return;
	}
}

static void on_due(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	attempt(arg);
}

/* A new process: its log probes' regexes (validated with the config), compiled once. */
static void watch_log(struct worker *w)
{
	struct worker_probes *wp = w->probes;

	unwatch_log(wp);
	for (unsigned r = 0; r < LV_PROBE_ROLES; r++) {
		const struct lv_probe_config *cfg = &w->pool->cfg.probes[r];

		wp->log_re_ok[r] = cfg->kind == LV_PROBE_LOG &&
		                   regcomp(&wp->log_re[r], cfg->target, REG_EXTENDED | REG_NOSUB) == 0;
	}
}

static void start_probe(struct worker *w, enum lv_probe_role role)
{
	struct probe_state *ps = &w->probes->p[role];
	const struct lv_probe_config *cfg = config_of(ps);
	const char *re = cfg->kind == LV_PROBE_HTTP ? cfg->body : NULL;

	struct lv_template_vars vars = { .pool = w->pool->cfg.name, .name = w->name,
	                                 .index = w->index };

	stop_probe(ps);
	ps->passed = false;
	ps->last = -1;
	ps->why[0] = '\0';
	/* expanded once per process, not per attempt (a failure says why at each attempt) */
	if (cfg->kind == LV_PROBE_HTTP || cfg->kind == LV_PROBE_TCP)
		ps->target = lv_template_dup(cfg->target, &vars, ps->why, sizeof ps->why);
	/* validated with the config: compiled once per process, not per line or answer */
	ps->re_ok = re && regcomp(&ps->re, re, REG_EXTENDED | REG_NOSUB) == 0;
	if (configured(w, role))
		schedule_first(ps);
}

void probes_state_changed(struct worker *w, enum worker_state from)
{
	struct worker_probes *wp = w->probes;

	if (!wp) { /* made for the first process of a pool with probes */
		bool any = false;

		for (unsigned r = 0; r < LV_PROBE_ROLES; r++)
			any |= configured(w, (enum lv_probe_role)r);
		if (!any || probes_init(w) < 0) {
			probes_free(w);
			if (any)
				log_err("%s: out of memory for its probes", w->name);
			update_ready(w);
			return;
		}
		wp = w->probes;
	}
	if (w->state == WS_STARTING && from != WS_STARTING) { /* a new process */
		wp->ready_owed = false;
		for (unsigned r = 0; r < LV_PROBE_ROLES; r++)
			stop_probe(&wp->p[r]);
		watch_log(w);
		start_probe(w, LV_PROBE_STARTUP);
		wp->p[LV_PROBE_STARTUP].passed = !configured(w, LV_PROBE_STARTUP);
	} else if (w->state == WS_RUNNING && from != WS_RUNNING) {
		stop_probe(&wp->p[LV_PROBE_STARTUP]);
		start_probe(w, LV_PROBE_LIVENESS);
		start_probe(w, LV_PROBE_READINESS);
	} else if (w->state != WS_RUNNING && w->state != WS_STARTING) {
		for (unsigned r = 0; r < LV_PROBE_ROLES; r++)
			stop_probe(&wp->p[r]);
		unwatch_log(wp);
	}
	update_ready(w);
}

bool probes_let_ready(struct worker *w)
{
	if (!w->probes || w->probes->p[LV_PROBE_STARTUP].passed ||
	    !configured(w, LV_PROBE_STARTUP))
		return true;
	w->probes->ready_owed = true;
	return false;
}

bool probes_ready(const struct worker *w)
{
	return !w->probes || !configured(w, LV_PROBE_READINESS) ||
	       w->probes->p[LV_PROBE_READINESS].passed;
}
