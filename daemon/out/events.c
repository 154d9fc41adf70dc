/* events: names, numbering and the shape of stream events, handed to the sinks. Delivery
 * (filters, queue limits, overflow) belongs to each sink: the control socket's subscribers. */
#include "daemon/out/events.h"
#include "daemon/out/status.h"

#include <string.h>
#include <time.h>


static const char *const names[EV_COUNT] = {
	[EV_WORKER_STARTING] = "worker.starting", [EV_WORKER_RUNNING] = "worker.running",
	[EV_WORKER_EXITED] = "worker.exited", [EV_WORKER_BACKOFF] = "worker.backoff",
	[EV_WORKER_FAILED] = "worker.failed", [EV_WORKER_HUNG] = "worker.hung",
	[EV_WORKER_STOPPED] = "worker.stopped", [EV_POOL_ADDED] = "pool.added",
	[EV_POOL_REMOVED] = "pool.removed", [EV_POOL_SCALED] = "pool.scaled",
	[EV_POOL_ROLLING] = "pool.rolling", [EV_POOL_ROLLED] = "pool.rolled",
	[EV_POOL_ROLL_FAILED] = "pool.roll_failed",
	[EV_DAEMON_RELOADED] = "daemon.reloaded", [EV_DAEMON_STOPPING] = "daemon.stopping",
	[EV_WORKER_PROBE] = "worker.probe",
};

const char *events_name(enum lv_event ev)
{
	return (unsigned)ev < EV_COUNT ? names[ev] : "unknown";
}

int events_from_name(const char *name)
{
	for (int i = 0; i < EV_COUNT; i++)
		if (!strcmp(names[i], name))
			return i;
	return -1;
}

static json_t *envelope(struct supervisor *sup, enum lv_event ev)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return json_pack("{s:I, s:I, s:s}", "seq", (json_int_t)++sup->event_seq, "time",
	                 (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, "event",
	                 events_name(ev));
}

static void deliver(struct supervisor *sup, enum lv_event ev, json_t *params, const char *pool,
                    const char *worker)
{
	lv_sinks_event(&sup->sinks, (int)ev, params, pool, worker);
	json_decref(params);
}

void events_worker(struct supervisor *sup, enum lv_event ev, const struct worker *w,
                   json_t *extra)
{
	json_t *params = envelope(sup, ev);

	json_object_set_new(params, "pool", json_string(w->pool->cfg.name));
	json_object_set_new(params, "worker", json_string(w->name));
	if (w->proc.pid > 0)
		json_object_set_new(params, "pid", json_integer(w->proc.pid));
	json_object_set_new(params, "restarts", json_integer(w->restarts));
	if (extra)
		json_object_update(params, extra);
	json_decref(extra);
	deliver(sup, ev, params, w->pool->cfg.name, w->name);
}

/* The event each state's arrival emits (-1: none). A waiting worker is "starting"; one whose
 * process is being made is announced once that process exists, with its pid. */
static const int state_events[WS_COUNT] = {
	[WS_STOPPED] = EV_WORKER_STOPPED, [WS_WAITING] = EV_WORKER_STARTING, [WS_SPAWNING] = -1,
	[WS_STARTING] = EV_WORKER_STARTING, [WS_RUNNING] = EV_WORKER_RUNNING,
	[WS_STOPPING] = -1, [WS_BACKOFF] = EV_WORKER_BACKOFF, [WS_FAILED] = EV_WORKER_FAILED,
};

void events_worker_state(struct supervisor *sup, const struct worker *w, enum worker_state from)
{
	int ev = state_events[w->state];

	if (ev < 0 || (fsm_on_wire(from) == fsm_on_wire(w->state) && from != WS_SPAWNING))
		return; /* no news on the wire */
	events_worker(sup, (enum lv_event)ev, w,
	              w->state == WS_FAILED && w->last_error
	                  ? json_pack("{s:s}", "error", w->last_error) : NULL);
}

void events_worker_exited(struct supervisor *sup, const struct worker *w, int status,
                          const char *error)
{
	json_t *m = json_pack("{s:o, s:s}", "exit", status_exit_json(status), "reason",
	                      status_reason_name(w->end_reason));
	json_t *text = error ? json_string(error) : NULL;

	if (text)
		json_object_set_new(m, "error", text);
	events_worker(sup, EV_WORKER_EXITED, w, m);
}

void events_emit(struct supervisor *sup, enum lv_event ev, const char *pool, json_t *extra)
{
	json_t *params = envelope(sup, ev);

	if (pool)
		json_object_set_new(params, "pool", json_string(pool));
	if (extra)
		json_object_update(params, extra);
	json_decref(extra);
	deliver(sup, ev, params, pool, NULL);
}

void events_pool_roll(struct supervisor *sup, const struct pool *p)
{
	const struct pool_roll *r = &p->roll;
	json_t *m = json_pack("{s:i, s:i}", "done", (int)r->done, "total", (int)r->total);

	if (r->active) {
		events_emit(sup, EV_POOL_ROLLING, p->cfg.name, m);
	} else if (!r->error) {
		events_emit(sup, EV_POOL_ROLLED, p->cfg.name, m);
	} else {
		json_object_set_new(m, "worker", json_string(r->culprit));
		json_object_set_new(m, "error", json_string(r->error));
		events_emit(sup, EV_POOL_ROLL_FAILED, p->cfg.name, m);
	}
}
