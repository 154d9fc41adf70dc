/* probe_exec: an exec probe's process (see probe_exec.h). */
#include "daemon/core/probe_exec.h"

#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include "config/signame.h"
#include "daemon/core/supervisor.h"
#include "daemon/proc/spawn.h"

static void verdict(struct probe_proc *pp, bool ok, const char *why)
{
	if (!pp->wanted)
		return; /* dropped: its worker stopped */
	pp->wanted = false;
	pp->done(pp->arg, ok, why);
}

static void on_kill_timer(evutil_socket_t fd, short what, void *arg)
{
	struct probe_proc *pp = arg;

	(void)fd;
	(void)what;
	if (!pp->live)
		return;
	pp->timed_out = true;
	procs_kill(&pp->w->pool->sup->procs, &pp->proc, SIGKILL, true);
}

int probe_exec_start(struct probe_proc *pp, struct worker *w, enum lv_probe_role role,
                     probe_exec_done_fn done, void *arg, char *why, size_t whylen)
{
	struct supervisor *sup = w->pool->sup;
	struct spawn_opts opts = { .capture = false, .watch_exec = false };

	if (!pp->kill_timer && !(pp->kill_timer = evtimer_new(sup->base, on_kill_timer, pp))) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	pp->proc = (struct process){ .name = w->name, .owner = pp, .probe = true,
	                             .error_fd = -1 };
	pp->w = w;
	pp->role = role;
	pp->done = done;
	pp->arg = arg;
	pp->live = pp->wanted = true;
	pp->timed_out = false;
	proc_spawn(&sup->procs, &pp->proc, &opts);
	return 0;
}

int probe_exec_describe(struct probe_proc *pp, struct lv_spawn *sp, char *err, size_t errlen)
{
	struct worker *w = pp->w;
	const struct lv_pool_config *pool = &w->pool->cfg;
	struct lv_pool_config cfg = *pool;

	/* the pool's env, env_file and cwd for this worker, with the probe's argv */
	cfg.argv = pool->probes[pp->role].argv;
	cfg.kind = LV_KIND_EXEC;
	if (worker_env_build(&pp->env, &cfg, w->index, w->name, err, errlen) < 0)
		return -1;
	worker_spawn_identity(w, &pp->env, sp); /* as the pool's user, group and limits */
	sp->output_null = true;
	return 0;
}

/* Its timeout counts from now: the queue and the fork are not the probe's time. */
void probe_exec_spawned(struct probe_proc *pp)
{
	unsigned ms = pp->w->pool->cfg.probes[pp->role].timeout_ms;
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	worker_env_free(&pp->env);
	evtimer_add(pp->kill_timer, &tv);
}

void probe_exec_spawn_failed(struct probe_proc *pp, const char *why)
{
	worker_env_free(&pp->env);
	pp->live = false;
	verdict(pp, false, why);
}

void probe_exec_exited(struct probe_proc *pp, int status)
{
	const char *sig = WIFSIGNALED(status) ? lv_signal_name(WTERMSIG(status)) : NULL;
	char why[96];

	evtimer_del(pp->kill_timer);
	pp->live = false;
	pp->proc.pid = 0;
	if (pp->timed_out)
		snprintf(why, sizeof why, "timed out after %u ms",
		         pp->w->pool->cfg.probes[pp->role].timeout_ms);
	else if (WIFEXITED(status))
		snprintf(why, sizeof why, "exit %d", WEXITSTATUS(status));
	else if (sig)
		snprintf(why, sizeof why, "killed by %s", sig);
	else
		snprintf(why, sizeof why, "killed by signal %d", WTERMSIG(status));
	verdict(pp, WIFEXITED(status) && WEXITSTATUS(status) == 0 && !pp->timed_out, why);
}

void probe_exec_stop(struct probe_proc *pp)
{
	pp->wanted = false;
	if (pp->kill_timer)
		evtimer_del(pp->kill_timer);
	if (pp->live)
		procs_kill(&pp->w->pool->sup->procs, &pp->proc, SIGKILL, true);
}

void probe_exec_forget(struct probe_proc *pp)
{
	if (pp->live)
		procs_forget(&pp->w->pool->sup->procs, &pp->proc);
	pp->live = false;
	worker_env_free(&pp->env);
	if (pp->kill_timer)
		event_free(pp->kill_timer);
	pp->kill_timer = NULL;
}
