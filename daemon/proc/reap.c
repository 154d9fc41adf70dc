/* reap: collects exited children after SIGCHLD (signals coalesce, so until none is left),
 * handing each to its process through the pid table, never scanning all of them. Exits of
 * workers a zygote forked come from the zygote instead (zygote.c). */
#include "daemon/proc/procs.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

#include "daemon/lib/log.h"
#include "daemon/proc/zygote.h"

void procs_reap(struct procs *ps)
{
	for (;;) {
		siginfo_t si = { 0 };
		struct process *p;
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
		if ((p = procs_by_pid(ps, pid))) {
			/* what a notify worker said before it exited counts first: read it while the
			 * zombie holds the pid (no one else can have sent from it) and its session
			 * lives */
			ps->hooks.last_words(ps->hooks.ctx, p);
			kill(-pid, SIGKILL);
		}
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if ((p = procs_by_pid(ps, pid)))
			procs_exited(ps, p, status);
		else if (!zygote_lost(ps, pid))
			log_debug("reaped pid %d, not a worker", (int)pid);
	}
}
