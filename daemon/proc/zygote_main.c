/* zygote_main: the zygote process, a fresh exec of loopvisord (see zygote.h). It waits on
 * its socket for requests and on SIGCHLD for its workers' exits, forks each worker and
 * answers with its pid, signals them for the daemon, and reports each exit and reaps it
 * (zygote_wire.h). */
#include "daemon/proc/zygote.h"

#include <errno.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/proc/zygote_wire.h"
#include "worker/proctitle.h"

static void send_msg(int sock, int kind, pid_t pid, int status)
{
	struct zygote_msg m = { kind, pid, status };

	if (send(sock, &m, sizeof m, MSG_NOSIGNAL) != sizeof m)
		_exit(1); /* the daemon is gone */
}

/* The wait status waitpid would give, from what waitid says of the zombie. */
static int wait_status(const siginfo_t *si)
{
	if (si->si_code == CLD_EXITED)
		return W_EXITCODE(si->si_status & 0xff, 0);
	return W_EXITCODE(0, si->si_status & 0x7f) | (si->si_code == CLD_DUMPED ? WCOREFLAG : 0);
}

/* Reaps every worker that has exited; like the daemon's own reaper, it kills what is
 * left of the worker's process group while the zombie still holds the group id. The
 * exit is reported *before* the reap: until then the pid cannot be reused, so the daemon
 * can never hear of a new process with that pid before it hears that the old one died,
 * even if this zygote is killed between the two (its zombies then go to the daemon). */
static void reap_workers(int sock)
{
	for (;;) {
		siginfo_t si = { 0 };

		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
			return;
		kill(-si.si_pid, SIGKILL);
		send_msg(sock, ZYGOTE_EXITED, si.si_pid, wait_status(&si));
		while (waitpid(si.si_pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
}

/* A signal the daemon asks for: sent only to a child not reaped yet, whose pid (and group
 * id, which the zombie still holds) therefore names that child and its group and nobody
 * else. A worker reaped already gets nothing: its EXITED is on its way to the daemon. */
static void signal_request(const struct zygote_signal *rq)
{
	siginfo_t si = { 0 };

	if (rq->pid <= 0 || rq->sig < 0 || rq->sig >= NSIG)
		return;
	if (waitid(P_PID, (id_t)rq->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return; /* ECHILD: not ours, or reaped */
	/* a worker that has not called setsid() yet has no group, and no child either */
	if (kill(rq->group ? -rq->pid : rq->pid, rq->sig) < 0 && rq->group && errno == ESRCH)
		kill(rq->pid, rq->sig);
}

/* An exec worker is born in its cgroup leaf (clone3 with CLONE_INTO_CGROUP, kernel 5.7):
 * no migration afterwards, which costs the kernel a lock of every thread group. A module
 * worker is forked and joins its leaf itself (lv_worker_main): it goes on running glibc
 * without exec, and only fork() leaves glibc's view of the new thread right (its tid, its
 * locks). So does any worker when the kernel refuses clone3 here. */
static pid_t fork_worker(struct lv_spawn *sp)
{
	if (sp->cgroup_fd >= 0 && sp->kind == LV_KIND_EXEC) {
		struct clone_args args = { .flags = CLONE_INTO_CGROUP, .exit_signal = SIGCHLD,
		                           .cgroup = (uint64_t)sp->cgroup_fd };
		long pid = syscall(SYS_clone3, &args, sizeof args);

		if (pid >= 0) {
			sp->cgroup_placed = pid == 0;
			return (pid_t)pid;
		}
		if (errno != ENOSYS && errno != EPERM && errno != EINVAL && errno != EOPNOTSUPP)
			return -1;
	}
	return fork();
}

/* One request: a spawn (answered with SPAWNED) or a signal (not answered). */
static void handle_request(int sock, char *buf, size_t size)
{
	struct wire_spawn ws;
	union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int) * ZYGOTE_MAX_FDS)]; } ctl;
	struct iovec iov = { buf, size - 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl,
	                      .msg_controllen = sizeof ctl };
	ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	pid_t pid = -EINVAL;
	struct zygote_signal rq;

	if (n < 0 && errno == EINTR)
		return;
	if (n <= 0)
		_exit(0); /* the daemon closed its end: it is done */
	memset(&ws, 0, sizeof ws);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));

			if (k > ZYGOTE_MAX_FDS - ws.n_fds)
				_exit(1); /* cannot be: the control buffer holds no more */
			memcpy(ws.fds + ws.n_fds, CMSG_DATA(c), sizeof(int) * (size_t)k);
			ws.n_fds += k;
		}
	if ((size_t)n == sizeof rq) {
		memcpy(&rq, buf, sizeof rq);
		if (rq.kind == ZYGOTE_SIGNAL) {
			zygote_wire_free(&ws); /* closes whatever came with it */
			signal_request(&rq);
			return;
		}
	}
	buf[n] = '\0';
	if ((ws.doc = json_loadb(buf, (size_t)n, 0, NULL)) && zygote_wire_parse(&ws) == 0) {
		ws.sp.supervisor = getpid(); /* the worker's parent, for its death check */
		pid = fork_worker(&ws.sp); /* it makes itself a session (and group) of its own */
		if (pid == 0) {
			prctl(PR_SET_NAME, "loopvisord");
			lv_worker_main(&ws.sp);
		}
		if (pid < 0)
			pid = -errno;
	}
	zygote_wire_free(&ws);
	send_msg(sock, ZYGOTE_SPAWNED, pid, 0);
}

_Noreturn void zygote_main(const char *parent, unsigned serial)
{
	int sock = ZYGOTE_FD;
	char *buf = malloc(ZYGOTE_MAX_MSG);
	sigset_t chld;
	int sfd;

	prctl(PR_SET_NAME, "loopvisor-zyg");
	if (getppid() != (pid_t)atoi(parent)) /* the daemon died during the exec */
		_exit(1);
	lv_proctitle_set("loopvisor zygote %u", serial); /* over argv: parent is gone now */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	if (!buf || (sfd = signalfd(-1, &chld, SFD_CLOEXEC)) < 0)
		_exit(1);
	for (;;) {
		struct pollfd pfd[2] = { { .fd = sock, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
		struct signalfd_siginfo si;

		if (poll(pfd, 2, -1) < 0)
			continue;
		if (pfd[1].revents) {
			while (read(sfd, &si, sizeof si) < 0 && errno == EINTR)
				;
			reap_workers(sock);
		}
		if (pfd[0].revents)
			handle_request(sock, buf, ZYGOTE_MAX_MSG);
	}
}
