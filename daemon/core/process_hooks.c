/* process_hooks: what the core does when the process layer reports (proc/procs.h, the
 * notify socket, the loop channels): an exit goes to its worker, then its pool, then a
 * shutdown that may be over; the last words of a notify worker are read before. */
#include "daemon/core/process_hooks.h"

#include "daemon/core/shutdown.h"
#include "daemon/core/state_file.h"
#include "daemon/core/supervisor.h"
#include "daemon/lib/log.h"
#include "daemon/proc/notify_socket.h"

static void on_exited(void *ctx, struct process *p, int status)
{
	struct supervisor *sup = ctx;
	struct worker *w = p->owner;
	struct pool *pool;

	if (p->probe) {
		probe_exec_exited(p->owner, status);
		return;
	}
	pool = w->pool;
	worker_exited(w, status);
	pool_drop_stopped(pool, w);
	if (pool_forget_if_gone(pool))
		state_save(sup); /* gone, or added back as a reload wanted */
	if (sup->shutting_down)
		shutdown_step(sup);
}

static void on_last_words(void *ctx, struct process *p)
{
	struct supervisor *sup = ctx;

	if (!p->probe)
		notify_flush(sup->notify, p);
}

/* Said in the log each time, not only once the start limit gives up on it. */
static void on_start_error(void *ctx, struct process *p, const char *text, size_t len)
{
	struct worker *w = p->owner;

	(void)ctx;
	if (p->probe) { /* it exits 127 next: the probe fails with its exit */
		log_warn("%s: probe cannot start: %.*s", p->name, (int)len, text);
		return;
	}
	worker_set_exit_error(w, "%.*s", (int)len, text);
	log_warn("%s: cannot start: %s", w->name, w->exit_error);
}

/* A notify worker still owes READY=1; any other exec worker runs once it exec'd. */
static void on_exec_done(void *ctx, struct process *p)
{
	struct worker *w = p->owner;

	(void)ctx;
	if (!p->probe && !w->pool->cfg.ready_notify)
		worker_ready(w);
}

static int on_describe(void *ctx, struct process *p, struct lv_spawn *sp, char *err,
                       size_t errlen)
{
	(void)ctx;
	if (p->probe)
		return probe_exec_describe(p->owner, sp, err, errlen);
	return worker_describe(p->owner, sp, err, errlen);
}

static void on_spawned(void *ctx, struct process *p, const struct spawn_io *io)
{
	(void)ctx;
	if (p->probe)
		probe_exec_spawned(p->owner);
	else
		worker_spawned(p->owner, io);
}

static void on_spawn_failed(void *ctx, struct process *p, const char *why)
{
	(void)ctx;
	if (p->probe)
		probe_exec_spawn_failed(p->owner, why);
	else
		worker_spawn_failed(p->owner, why);
}

static void on_notify_ready(void *ctx, void *owner)
{
	(void)ctx;
	worker_ready(owner);
}

static void on_notify_watchdog(void *ctx, void *owner)
{
	struct worker *w = owner;

	(void)ctx;
	worker_heartbeat(&w->loops[0]);
}

struct notify_hooks core_notify_hooks(struct supervisor *sup)
{
	return (struct notify_hooks){ .ready = on_notify_ready, .watchdog = on_notify_watchdog,
	                              .ctx = sup };
}

static void on_loop_ready(void *ctx, void *owner, unsigned loop)
{
	struct worker *w = owner;

	(void)ctx;
	worker_loop_ready(&w->loops[loop]);
}

static void on_loop_beat(void *ctx, void *owner, unsigned loop)
{
	struct worker *w = owner;
	int64_t lag = w->loops[loop].ch.lag_us;

	(void)ctx;
	lv_histo_observe(&w->pool->stats.lag, lag > 0 ? (uint64_t)lag : 0); /* for /metrics */
	worker_heartbeat(&w->loops[loop]);
}

static void on_memory_over(void *ctx, struct process *p, const char *detail)
{
	(void)ctx;
	if (!p->probe)
		worker_memory_over(p->owner, detail);
}

static void on_misbehaved(void *ctx, void *owner, const char *why)
{
	(void)ctx;
	worker_evict(owner, "%s", why);
}

void core_process_hooks_install(struct supervisor *sup)
{
	sup->probe_hooks = (struct probe_hooks){ .failed = worker_probe_failed,
	                                         .ready = worker_ready };
	sup->channels.hooks.ready = on_loop_ready;
	sup->channels.hooks.beat = on_loop_beat;
	sup->channels.hooks.misbehaved = on_misbehaved;
	sup->channels.hooks.ctx = sup;
	sup->procs.hooks = (struct proc_hooks){
		.exited = on_exited, .last_words = on_last_words, .start_error = on_start_error,
		.exec_done = on_exec_done, .describe = on_describe, .spawned = on_spawned,
		.spawn_failed = on_spawn_failed, .memory_over = on_memory_over, .ctx = sup,
	};
}
