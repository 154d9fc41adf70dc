/* reap: collects exited children after SIGCHLD (signals coalesce, so until none is left),
 * and takes the exits the zygote reaped for us, handing each to its worker through the pid
 * table, never scanning all workers. */
#include "daemon/supervisor.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

#include "daemon/log.h"
#include "daemon/zygote.h"

void supervisor_child_exited(struct supervisor *sup, pid_t pid, int status)
{
	struct worker *w = lv_pidmap_get(&sup->pids, pid);
	struct pool *pool;

	if (!w) {
		if (!zygote_lost(sup, pid))
			log_debug("reaped pid %d, not a worker", (int)pid);
		return;
	}
	lv_pidmap_del(&sup->pids, pid);
	worker_exited(w, status);
	pool = w->pool;
	pool_drop_stopped(pool, w);
	pool_forget_if_gone(pool);
	if (sup->shutting_down)
		supervisor_check_done(sup);
}

void supervisor_reap(struct supervisor *sup)
{
	for (;;) {
		siginfo_t si = { 0 };
		int status;
		pid_t pid;

		/* Peek first: while the zombie exists its pid, and so its process group id,
		 * cannot be reused, so killing the group's leftovers is race-free. */
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
			if (errno == EINTR)
				continue;
			break; /* ECHILD */
		}
		if (si.si_pid == 0)
			break;
		pid = si.si_pid;
		if (lv_pidmap_get(&sup->pids, pid))
			kill(-pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		supervisor_child_exited(sup, pid, status);
	}
}
