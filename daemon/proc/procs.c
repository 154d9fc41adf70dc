/* procs: the pid table of the workers' processes and the one safe way to signal them
 * (see procs.h). */
#include "daemon/proc/procs.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/lib/log.h"
#include "daemon/proc/cgroup.h"
#include "daemon/proc/zygote.h"

struct process *procs_by_pid(struct procs *ps, pid_t pid)
{
	struct process *p = lv_pidmap_get(&ps->pids, pid);

	/* A zygote reports an exit before it reaps, so the pid can only have gone to another
	 * process if the report is on its socket: take it, and look again. */
	if (p && p->zygote) {
		zygote_settle(ps, p->zygote);
		p = lv_pidmap_get(&ps->pids, pid);
	}
	return p;
}

void procs_adopt(struct procs *ps, struct process *p, pid_t pid, unsigned zygote)
{
	struct process *stale = procs_by_pid(ps, pid);

	if (stale && stale != p) { /* cannot be: a zygote reports an exit before it reaps */
		log_err("%s: pid %d still belongs to %s", p->name, (int)pid, stale->name);
		stale->reaped = true;
	}
	p->pid = pid; /* it makes itself a session and group of its own (lv_worker_main) */
	p->zygote = zygote;
	p->reaped = false;
	ps->live++;
	if (lv_pidmap_put(&ps->pids, pid, p) < 0)
		log_err("%s: out of memory for the pid table", p->name);
}

void process_close_io(struct process *p)
{
	if (p->io.out >= 0)
		close(p->io.out);
	if (p->io.err >= 0)
		close(p->io.err);
	for (unsigned i = 0; i < p->io.n_channels; i++)
		close(p->io.channels[i]);
	p->io.out = p->io.err = -1;
	p->io.n_channels = 0;
}

/* p's pid no longer leads to it, and a spawn on its way is dropped. */
static void unlink_process(struct procs *ps, struct process *p)
{
	if (p->spawning) {
		if (p->queued)
			TAILQ_REMOVE(&ps->queue, p, link);
		p->queued = p->spawning = false;
		zygote_forget(ps, p);
		process_close_io(p);
	}
	if (p->pid > 0 && lv_pidmap_get(&ps->pids, p->pid) == p)
		lv_pidmap_del(&ps->pids, p->pid);
}

void procs_forget(struct procs *ps, struct process *p)
{
	unlink_process(ps, p);
	cgleaf_close(p->cg);
	p->cg = NULL;
}

/* The leaf a kill emptied is not used again: a child cloned into a cgroup that was killed
 * once is killed at birth by kernels that compare the kill count of the cgroup it is born
 * in with its parent's (seen on 6.18). The next spawn makes a fresh one. */
static void count_oom_kills(struct process *p)
{
	int64_t n = p->cg ? cgleaf_oom_kills(p->cg) : 0;

	p->oom_kills = n > 0 ? (unsigned)n : 0;
}

static void on_drained(void *arg)
{
	struct process *p = arg;

	count_oom_kills(p);
	cgleaf_close(p->cg);
	p->cg = NULL;
	p->ps->hooks.exited(p->ps->hooks.ctx, p, p->drain_status);
}

void procs_exited(struct procs *ps, struct process *p, int status)
{
	unlink_process(ps, p);
	ps->live--;
	p->ps = ps;
	p->drain_status = status;
	switch (p->cg ? cgleaf_drain(p->cg, on_drained, p) : 0) {
	case 1:
		return; /* reported once the kernel says the leaf is empty */
	case 2:
		on_drained(p); /* killed, and empty already */
		return;
	}
	count_oom_kills(p);
	ps->hooks.exited(ps->hooks.ctx, p, status);
}

/* Is pid a child of the daemon that it has not reaped? Then nobody else can have its pid or
 * its group id; the daemon reaps only in its loop, so it stays so until the loop runs. */
static bool unreaped_child(pid_t pid)
{
	siginfo_t si = { 0 };

	return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0;
}

int procs_kill(struct procs *ps, struct process *p, int sig, bool group)
{
	int rc;

	if (p->pid <= 0 && p->spawning) { /* sent once it has a pid; SIGKILL is never undone */
		if (p->pending_sig != SIGKILL || sig == SIGKILL) {
			p->pending_group = (p->pending_sig == SIGKILL && p->pending_group) || group;
			p->pending_sig = sig;
		}
		return 0;
	}
	if (p->pid <= 0 || p->reaped)
		return -ESRCH;
	/* its zygote reaps it, so its zygote signals it */
	if ((rc = zygote_signal(ps, p->zygote, p->pid, sig, group)) <= 0)
		return rc;
	if (!unreaped_child(p->pid))
		return -ESRCH;
	if (kill(group ? -p->pid : p->pid, sig) == 0)
		return 0;
	/* No group yet: a worker that has not called setsid() has no child either (what it
	 * may fork later dies with its group when it is reaped). */
	if (group && errno == ESRCH && kill(p->pid, sig) == 0)
		return 0;
	return -errno;
}
