/* worker_spawn: what a worker's process is made from (its pool's config as a struct
 * lv_spawn) and what the core does with the pipes and channels the process layer hands
 * back; asking a process to stop, and closing what a finished one leaves. */
#include "daemon/core/supervisor.h"

#include <errno.h>
#include <stdio.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "daemon/lib/log.h"
#include "daemon/proc/loop_channel.h"
#include "daemon/proc/notify_socket.h"
#include "daemon/proc/output.h"
#include "daemon/proc/spawn.h"

void worker_spawn_identity(const struct worker *w, const struct worker_env *env,
                           struct lv_spawn *sp)
{
	const struct lv_pool_config *cfg = &w->pool->cfg;

	memset(sp, 0, sizeof *sp);
	sp->kind = LV_KIND_EXEC;
	sp->pool = cfg->name;
	sp->index = w->index;
	sp->worker = w->name;
	sp->supervisor = getpid();
	sp->nofile_soft = w->pool->sup->nofile_soft;
	sp->argv = env->argv;
	sp->env = env->env;
	sp->cwd = env->cwd;
	sp->set_ids = cfg->user || cfg->group;
	sp->uid = cfg->user ? cfg->uid : getuid();
	sp->gid = cfg->gid;
	sp->user = cfg->user;
	sp->stdout_fd = sp->stderr_fd = -1;
	sp->limits = cfg;
}

static void fill_spawn(struct worker *w, struct lv_spawn *sp)
{
	const struct lv_pool_config *cfg = &w->pool->cfg;

	worker_spawn_identity(w, &w->env, sp);
	sp->kind = cfg->kind;
	sp->module_path = w->pool->module_path;
	sp->params = cfg->params;
	sp->loops = w->n_loops;
	sp->heartbeat_ms = cfg->heartbeat_ms;
	sp->listen_fds = w->pool->listen_fds;
	sp->listen_names = cfg->listen;
	sp->n_listen = (unsigned)cfg->n_listen;
	sp->output_null = cfg->output == LV_OUTPUT_NULL;
}

/* Finds NAME.so on the job path, or takes a path as is; 0 or -1 with err. */
static int resolve_module(struct pool *p, char *err, size_t errlen)
{
	const char *module = p->cfg.module;
	char path[4096];

	if (p->module_path)
		return 0;
	if (strchr(module, '/')) {
		/* no look as root: a path from a caller who is not root would tell it what exists
		 * where it may not look; the worker's dlopen, as its user, says what is wrong */
		p->module_path = strdup(module);
		return p->module_path ? 0 : -1;
	}
	for (char **dir = p->sup->job_path; dir && *dir; dir++) {
		snprintf(path, sizeof path, "%s/%s.so", *dir, module);
		if (access(path, R_OK) == 0) {
			p->module_path = strdup(path);
			return p->module_path ? 0 : -1;
		}
	}
	snprintf(err, errlen, "module %s: no %s.so in the job path", module, module);
	return -1;
}

int worker_describe(struct worker *w, struct lv_spawn *sp, char *err, size_t errlen)
{
	const struct lv_pool_config *cfg = &w->pool->cfg;
	struct supervisor *sup = w->pool->sup;

	if (cfg->kind == LV_KIND_MODULE && resolve_module(w->pool, err, errlen) < 0)
		return -1;
	/* per start: placeholders for this worker, env_file files as they are now */
	if (worker_env_build(&w->env, cfg, w->index, w->name, err, errlen) < 0)
		return -1;
	fill_spawn(w, sp);
	/* a notify worker gets the socket of its own uid, which no other user can reach */
	w->notify.uid = cfg->user ? cfg->uid : getuid();
	w->notify.enabled = cfg->kind == LV_KIND_EXEC && cfg->ready_notify;
	if (w->notify.enabled &&
	    !(sp->notify_socket = notify_socket_for(sup->notify, w->notify.uid, err, errlen)))
		return -1;
	return 0;
}

void worker_spawn(struct worker *w)
{
	const struct lv_pool_config *cfg = &w->pool->cfg;
	struct spawn_opts opts = { .capture = cfg->output == LV_OUTPUT_CAPTURE,
	                           .watch_exec = cfg->kind == LV_KIND_EXEC };

	proc_spawn(&w->pool->sup->procs, &w->proc, &opts);
}

void worker_take_io(struct worker *w, const struct spawn_io *io)
{
	w->started_ms = lv_now_ms();
	if (w->spawns++ > 0) {
		w->restarts++;
		w->pool->stats.restarts[w->end_reason]++;
	}
	w->start_timed_out = false;
	if (io->out >= 0)
		output_attach(&w->output, io->out, io->err);
	for (unsigned i = 0; i < io->n_channels; i++) {
		if (i >= w->n_loops) /* its pool's loops changed while it was made */
			close(io->channels[i]);
		else if (loop_channel_open(&w->loops[i].ch, io->channels[i]) < 0)
			log_err("%s: cannot watch the channel of loop %u", w->name, i);
	}
}

void worker_ask_stop(struct worker *w)
{
	int rc;

	if (w->pool->cfg.kind == LV_KIND_MODULE && w->loops[0].ch.bev) {
		for (unsigned i = 0; i < w->n_loops; i++)
			loop_channel_send(&w->loops[i].ch, LV_MSG_STOP, NULL);
		return;
	}
	rc = procs_kill(&w->pool->sup->procs, &w->proc, w->pool->cfg.stop_signal, false);
	if (rc < 0 && rc != -ESRCH) /* ESRCH: it exited, and the daemon is about to hear of it */
		log_warn("%s: kill %d: %s", w->name, (int)w->proc.pid, strerror(-rc));
}

void worker_close_process(struct worker *w)
{
	for (unsigned i = 0; i < w->n_loops; i++)
		loop_channel_close(&w->loops[i].ch);
	proc_close_error(&w->proc);
}

void worker_close_error(struct worker *w)
{
	proc_close_error(&w->proc);
}

/* At a worker's exit. An exec worker whose pipe is at EOF and empty had exec'd: if its exit
 * overtook that news, it ran all the same (true: it is ready, unless it owes READY=1). */
bool worker_drain_error(struct worker *w)
{
	return proc_drain_error(&w->proc) && !w->pool->cfg.ready_notify;
}
