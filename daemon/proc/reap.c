/* reap: collects exited children after SIGCHLD (signals coalesce, so until none is left),
 * and takes the exits the zygotes report, handing each to its worker through the pid
 * table, never scanning all workers. */
#include "daemon/core/supervisor.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

#include "daemon/lib/log.h"
#include "daemon/proc/notify_socket.h"
#include "daemon/proc/zygote.h"

struct worker *supervisor_worker_by_pid(struct supervisor *sup, pid_t pid)
{
	struct worker *w = lv_pidmap_get(&sup->pids, pid);

	/* A zygote reports an exit before it reaps, so the pid can only have gone to another
	 * process if the report is on its socket: take it, and look again. */
	if (w && w->zygote) {
		zygote_settle(sup, w->zygote);
		w = lv_pidmap_get(&sup->pids, pid);
	}
	return w;
}

void supervisor_worker_exited(struct supervisor *sup, struct worker *w, int status)
{
	struct pool *pool;

	worker_exited(w, status);
	pool = w->pool;
	pool_drop_stopped(pool, w);
	pool_forget_if_gone(pool);
	if (sup->shutting_down)
		supervisor_check_done(sup);
}

void supervisor_child_exited(struct supervisor *sup, pid_t pid, int status)
{
	struct worker *w = supervisor_worker_by_pid(sup, pid);

	if (!w) {
		if (!zygote_lost(sup, pid))
			log_debug("reaped pid %d, not a worker", (int)pid);
		return;
	}
	lv_pidmap_del(&sup->pids, pid);
	supervisor_worker_exited(sup, w, status);
}

void supervisor_reap(struct supervisor *sup)
{
	for (;;) {
		siginfo_t si = { 0 };
		struct worker *w;
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
		if ((w = supervisor_worker_by_pid(sup, pid))) {
			/* what a notify worker said before it exited counts first: read it while the
			 * zombie holds the pid (no one else can have sent from it) and its session
			 * lives */
			notify_flush(sup->notify, w);
			kill(-pid, SIGKILL);
		}
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		supervisor_child_exited(sup, pid, status);
	}
}
