/* spawn: the parent's half of starting a process (see spawn.h). It knows processes,
 * pipes and channels, never the worker or the pool they are for. */
#include "daemon/proc/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/lib/log.h"
#include "daemon/proc/zygote.h"

void proc_close_error(struct process *p)
{
	if (p->exec_watch) {
		event_free(p->exec_watch);
		p->exec_watch = NULL;
	}
	if (p->error_fd >= 0) {
		close(p->error_fd);
		p->error_fd = -1;
	}
}

/* Reads a start error the child wrote (exec failure, bad cwd, module load error). The
 * child writes it in one write(2) of less than PIPE_BUF bytes, so one read gets it all.
 * Returns the number of bytes read, 0 at EOF, -1 if nothing is there yet. */
static ssize_t read_error(struct process *p)
{
	char buf[1024];
	ssize_t n;

	do
		n = read(p->error_fd, buf, sizeof buf);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		p->ps->hooks.start_error(p->ps->hooks.ctx, p, buf, (size_t)n);
	return n;
}

bool proc_drain_error(struct process *p)
{
	bool watched = p->exec_watch != NULL;

	return p->error_fd >= 0 && read_error(p) == 0 && watched;
}

static void on_exec_pipe(evutil_socket_t fd, short what, void *arg)
{
	struct process *p = arg;
	ssize_t n = read_error(p);

	(void)fd;
	(void)what;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	proc_close_error(p);
	/* EOF: CLOEXEC closed the pipe, the program runs. Otherwise the child reported an
	 * error and exits: the reaper takes it from here. */
	if (n == 0)
		p->ps->hooks.exec_done(p->ps->hooks.ctx, p);
}

static void close_fds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* One socketpair per loop: mine[i] stays here, theirs[i] goes to the child. */
static int make_channels(unsigned n, int *mine, int *theirs)
{
	for (unsigned i = 0; i < n; i++) {
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
			close_fds(mine, i);
			close_fds(theirs, i);
			return -1;
		}
		mine[i] = sv[0];
		theirs[i] = sv[1];
	}
	return 0;
}

/* The daemon forks the worker itself (without a zygote): O(descriptors) per fork. */
static pid_t fork_worker(const struct lv_spawn *sp, int *err)
{
	sigset_t all, old;
	pid_t pid;

	/* No signal may run a handler in the child before it has reset them all. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	fflush(NULL);
	pid = fork();
	if (pid == 0)
		lv_worker_main(sp);
	*err = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	return pid;
}

/* The parent's side of the new process: the pid table, and the exec pipe's watch. */
static void adopt(struct procs *ps, struct process *p, pid_t pid, unsigned zygote, int errpipe,
                  bool watch_exec)
{
	procs_adopt(ps, p, pid, zygote);
	p->ps = ps;
	p->error_fd = errpipe;
	evutil_make_socket_nonblocking(errpipe);
	if (!watch_exec)
		return;
	p->exec_watch = event_new(ps->base, errpipe, EV_READ | EV_PERSIST, on_exec_pipe, p);
	if (!p->exec_watch || event_add(p->exec_watch, NULL) < 0)
		log_err("%s: cannot watch the exec pipe", p->name);
}

int proc_spawn(struct procs *ps, struct process *p, struct lv_spawn *sp, bool capture,
               unsigned n_channels, bool watch_exec, struct spawn_io *io, char *err,
               size_t errlen)
{
	int errpipe[2] = { -1, -1 }, out[2] = { -1, -1 }, err2[2] = { -1, -1 };
	int theirs[LV_LOOPS_MAX];
	unsigned zygote = 0;
	pid_t pid;
	int saved;

	io->out = io->err = -1;
	io->n_channels = 0;
	if (pipe2(errpipe, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "cannot create the error pipe: %s", strerror(errno));
		return -1;
	}
	if (capture && (pipe2(out, O_CLOEXEC) < 0 || pipe2(err2, O_CLOEXEC) < 0)) {
		snprintf(err, errlen, "cannot create the log pipes: %s", strerror(errno));
		close_fds(errpipe, 2);
		close_fds(out, 2);
		return -1;
	}
	if (make_channels(n_channels, io->channels, theirs) < 0) {
		snprintf(err, errlen, "cannot create the channels: %s", strerror(errno));
		close_fds(errpipe, 2);
		close_fds(out, 2);
		close_fds(err2, 2);
		return -1;
	}
	sp->error_fd = errpipe[1];
	sp->stdout_fd = out[1];
	sp->stderr_fd = err2[1];
	sp->channel_fds = theirs;

	pid = zygote_spawn(ps, sp, &zygote);
	saved = errno;
	if (pid < 0 && saved == EPIPE) /* no zygote can: the daemon forks */
		pid = fork_worker(sp, &saved);

	close(errpipe[1]);
	close_fds(&out[1], 1);
	close_fds(&err2[1], 1);
	close_fds(theirs, n_channels);
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(saved));
		close(errpipe[0]);
		close_fds(out, 1);
		close_fds(err2, 1);
		close_fds(io->channels, n_channels);
		return -1;
	}
	io->out = out[0];
	io->err = err2[0];
	io->n_channels = n_channels;
	adopt(ps, p, pid, zygote, errpipe[0], watch_exec);
	return 0;
}
