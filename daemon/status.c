/* status: the JSON shape of pools and workers that status, wait and start/stop replies
 * share, exactly as docs/protocol.md documents it. */
#include "daemon/supervisor.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "config/signame.h"

json_t *exit_status_json(int status)
{
	if (WIFSIGNALED(status)) {
		const char *name = lv_signal_name(WTERMSIG(status));
		return name ? json_pack("{s:s}", "signal", name)
		            : json_pack("{s:i}", "signal", WTERMSIG(status));
	}
	return json_pack("{s:i}", "code", WEXITSTATUS(status));
}

/* Worker-supplied text may not be UTF-8: such bytes become '?' rather than a lost reply. */
static json_t *text_json(const char *text)
{
	json_t *s;
	char *copy;

	if (!text)
		return json_null();
	if ((s = json_string(text)) != NULL || !(copy = strdup(text)))
		return s ? s : json_null();
	for (char *c = copy; *c; c++)
		if ((unsigned char)*c >= 0x80)
			*c = '?';
	s = json_string(copy);
	free(copy);
	return s ? s : json_null();
}

static json_t *loop_json(const struct worker_loop *l, uint64_t now)
{
	return json_pack("{s:I, s:I, s:o}", "lag_us", (json_int_t)l->lag_us, "lag_max_us",
	                 (json_int_t)l->lag_max_us, "heartbeat_age_ms",
	                 l->last_beat_ms ? json_integer((json_int_t)(now - l->last_beat_ms))
	                                 : json_null());
}

/* Loop health: one object, or one per loop when the pool runs several. */
static json_t *loops_json(const struct worker *w, uint64_t now)
{
	json_t *arr;

	if (w->pid <= 0 || (w->pool->cfg.kind == LV_KIND_EXEC && !w->loops[0].last_beat_ms))
		return json_null();
	if (w->n_loops == 1)
		return loop_json(&w->loops[0], now);
	arr = json_array();
	for (unsigned i = 0; i < w->n_loops; i++)
		json_array_append_new(arr, loop_json(&w->loops[i], now));
	return arr;
}

/* The job's counters, summed over its loops. */
static json_t *counters_json(const struct worker *w)
{
	json_t *sum = json_object(), *v;
	const char *key;

	for (unsigned i = 0; i < w->n_loops; i++) {
		json_object_foreach(w->loops[i].counters, key, v) {
			json_t *have = json_object_get(sum, key);
			if (have)
				json_integer_set(have, json_integer_value(have) + json_integer_value(v));
			else
				json_object_set_new(sum, key, json_integer(json_integer_value(v)));
		}
	}
	return sum;
}

json_t *worker_to_json(const struct worker *w)
{
	uint64_t now = lv_now_ms();
	uint64_t uptime = w->pid > 0 ? now - w->started_ms : 0;
	json_t *o = json_pack("{s:s, s:s, s:i, s:s, s:o, s:i, s:I, s:o, s:o, s:o, s:o}",
	                 "name", w->name,
	                 "pool", w->pool->cfg.name,
	                 "index", (int)w->index,
	                 "state", worker_state_name(w->state),
	                 "pid", w->pid > 0 ? json_integer(w->pid) : json_null(),
	                 "restarts", (int)w->restarts,
	                 "uptime_ms", (json_int_t)uptime,
	                 "last_exit", w->has_exited ? exit_status_json(w->last_status) : json_null(),
	                 "last_error", text_json(w->last_error),
	                 "loop", loops_json(w, now),
	                 "counters", counters_json(w));

	if (w->pool->cfg.ready_notify)
		json_object_set_new(o, "notify", json_pack("{s:o, s:b}", "status",
		                    text_json(w->notify_status), "stopping", w->notify_stopping));
	return o;
}

json_t *pool_to_json(const struct pool *p)
{
	return json_pack("{s:s, s:s, s:i, s:i}",
	                 "name", p->cfg.name,
	                 "kind", p->cfg.kind == LV_KIND_EXEC ? "exec" : "module",
	                 "workers", (int)p->cfg.workers,
	                 "running", (int)p->running);
}
