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
#include "daemon/proc/cgroup.h"
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

/* The child's ends of one spawn's pipes and channels; the daemon's are in p->io. */
struct child_ends {
	int error, out, err;
	int cgroup;                  /* the worker's cgroup leaf, or -1 */
	int channels[LV_LOOPS_MAX];
	unsigned n_channels;
};

static void close_child_ends(struct child_ends *c)
{
	close_fds(&c->error, 1);
	close_fds(&c->cgroup, 1);
	close_fds(&c->out, 1);
	close_fds(&c->err, 1);
	close_fds(c->channels, c->n_channels);
}

/* Makes p's pipes and channels, the daemon's ends in p (io, error_fd) and the child's in c
 * and sp: 0, or -1 with err. */
static int make_ends(struct process *p, struct lv_spawn *sp, struct child_ends *c, char *err,
                     size_t errlen)
{
	int errpipe[2] = { -1, -1 }, out[2] = { -1, -1 }, err2[2] = { -1, -1 };
	unsigned n_channels = sp->kind == LV_KIND_MODULE ? sp->loops : 0;

	if (n_channels > LV_LOOPS_MAX) {
		snprintf(err, errlen, "%u loops: at most %d", n_channels, LV_LOOPS_MAX);
		return -1;
	}
	if (pipe2(errpipe, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "cannot create the error pipe: %s", strerror(errno));
		return -1;
	}
	if (p->opts.capture && (pipe2(out, O_CLOEXEC) < 0 || pipe2(err2, O_CLOEXEC) < 0)) {
		snprintf(err, errlen, "cannot create the log pipes: %s", strerror(errno));
		close_fds(errpipe, 2);
		close_fds(out, 2);
		return -1;
	}
	if (make_channels(n_channels, p->io.channels, c->channels) < 0) {
		snprintf(err, errlen, "cannot create the channels: %s", strerror(errno));
		close_fds(errpipe, 2);
		close_fds(out, 2);
		close_fds(err2, 2);
		return -1;
	}
	p->error_fd = errpipe[0];
	p->io.out = out[0];
	p->io.err = err2[0];
	p->io.n_channels = c->n_channels = n_channels;
	c->error = sp->error_fd = errpipe[1];
	c->out = sp->stdout_fd = out[1];
	c->err = sp->stderr_fd = err2[1];
	sp->channel_fds = c->channels;
	return 0;
}

static void dequeue(struct procs *ps, struct process *p)
{
	if (p->queued)
		TAILQ_REMOVE(&ps->queue, p, link);
	p->queued = false;
}

/* p is no longer spawning: the signal asked for meanwhile goes to its process now. */
static void end_spawning(struct procs *ps, struct process *p)
{
	int sig = p->pending_sig;

	p->spawning = false;
	p->pending_sig = 0;
	if (sig && p->pid > 0 && procs_kill(ps, p, sig, p->pending_group) < 0)
		log_warn("%s: cannot send the signal asked for while it started", p->name);
}

static void fail(struct procs *ps, struct process *p, const char *why)
{
	dequeue(ps, p);
	process_close_io(p);
	proc_close_error(p);
	p->spawning = false;
	p->pending_sig = 0;
	ps->hooks.spawn_failed(ps->hooks.ctx, p, why);
}

/* The process runs: the pid table, the exec pipe's watch, then the owner hears of it. */
static void spawned(struct procs *ps, struct process *p)
{
	struct spawn_io io = p->io;

	evutil_make_socket_nonblocking(p->error_fd);
	if (p->opts.watch_exec) {
		p->exec_watch = event_new(ps->base, p->error_fd, EV_READ | EV_PERSIST, on_exec_pipe, p);
		if (!p->exec_watch || event_add(p->exec_watch, NULL) < 0)
			log_err("%s: cannot watch the exec pipe", p->name);
	}
	p->io = (struct spawn_io){ .out = -1, .err = -1 }; /* the owner's now */
	end_spawning(ps, p);
	ps->hooks.spawned(ps->hooks.ctx, p, &io);
}

/* A zygote's answer to p's request (ps->spawn_answered). */
static void answered(struct procs *ps, struct process *p, int err)
{
	char why[128];

	if (err) {
		snprintf(why, sizeof why, "fork: %s", strerror(err));
		fail(ps, p, why);
		return;
	}
	spawned(ps, p);
}

/* p's zygote went away without answering (ps->spawn_requeue): p goes back to the head of
 * the queue, its descriptors closed (new ones are made when it is sent again). */
static void requeue(struct procs *ps, struct process *p)
{
	process_close_io(p);
	proc_close_error(p);
	p->queued = true;
	TAILQ_INSERT_HEAD(&ps->queue, p, link);
	event_active(ps->pump, EV_READ, 0);
}

/* Its leaf says the worker's memory passed memory_restart. */
static void memory_over(void *arg, const char *detail)
{
	struct process *p = arg;

	p->ps->hooks.memory_over(p->ps->hooks.ctx, p, detail);
}

/* A worker's cgroup leaf, made at its first spawn and kept across restarts (an exec probe
 * runs where its zygote does); its descriptor goes with the spawn (c->cgroup). 0, or -1
 * with err. */
static int place(struct procs *ps, struct process *p, struct lv_spawn *sp,
                 struct child_ends *c, char *err, size_t errlen)
{
	sp->cgroup_fd = -1;
	sp->cgroup_placed = false;
	if (!ps->cgroups || p->probe)
		return 0;
	if (!p->cg) {
		const char *lack = sp->limits ? cgroups_lacks(ps->cgroups, &sp->limits->limits) : NULL;

		if (!(p->cg = cgleaf_open(ps->cgroups, sp->pool, sp->index, err, errlen)))
			return -1;
		cgleaf_on_memory(p->cg, memory_over, p);
		if (lack)
			log_warn("%s: its limits need the %s controller, which %s does not have: those "
			         "limits are not applied", p->name, lack, cgroups_path(ps->cgroups));
	}
	if ((c->cgroup = sp->cgroup_fd = cgleaf_prepare(p->cg, sp->limits ? &sp->limits->limits
	                                                                    : NULL)) < 0) {
		snprintf(err, errlen, "cgroup %s: %s", cgleaf_path(p->cg), strerror(errno));
		return -1;
	}
	return 0;
}

/* Sends the spawn at the head of the queue: false when it must wait for a zygote's room. */
static bool send_one(struct procs *ps, struct process *p)
{
	struct lv_spawn sp;
	struct child_ends c = { .error = -1, .out = -1, .err = -1, .cgroup = -1 };
	char err[LV_ERRBUF];
	bool later = false;
	struct zygote *z;
	int rc = -EPIPE, saved = 0;
	pid_t pid;

	if (!(z = zygote_pick(ps, &later)) && later)
		return false;
	if (ps->hooks.describe(ps->hooks.ctx, p, &sp, err, sizeof err) < 0 ||
	    place(ps, p, &sp, &c, err, sizeof err) < 0 || make_ends(p, &sp, &c, err, sizeof err) < 0) {
		close_fds(&c.cgroup, 1);
		fail(ps, p, err);
		return true;
	}
	/* a zygote that fails on the send is killed: the next one (or the daemon) takes it */
	while (z && (rc = zygote_send_spawn(z, p, &sp)) < 0 && rc != -EAGAIN && rc != -EMSGSIZE &&
	       rc != -ENOBUFS && rc != -ENOMEM) {
		if (!(z = zygote_pick(ps, &later)) && later)
			rc = -EAGAIN;
	}
	if (rc == -EAGAIN) { /* its socket is full: the ends are made again when it has room */
		close_child_ends(&c);
		process_close_io(p);
		proc_close_error(p);
		return false;
	}
	dequeue(ps, p);
	if (rc == 0) { /* the answer comes through ps->spawn_answered */
		close_child_ends(&c);
		return true;
	}
	/* no zygote can (or the request is too big for one): the daemon forks it itself */
	pid = fork_worker(&sp, &saved);
	close_child_ends(&c);
	if (pid < 0) {
		snprintf(err, sizeof err, "fork: %s", strerror(saved));
		fail(ps, p, err);
		return true;
	}
	procs_adopt(ps, p, pid, 0);
	spawned(ps, p);
	return true;
}

/* Sends what the zygotes can take now. */
static void pump(struct procs *ps)
{
	struct process *p;

	while ((p = TAILQ_FIRST(&ps->queue)) && send_one(ps, p))
		;
}

static void on_pump(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pump(arg);
}

void proc_spawn(struct procs *ps, struct process *p, const struct spawn_opts *opts)
{
	p->ps = ps;
	p->opts = *opts;
	p->spawning = p->queued = true;
	p->pending_sig = 0;
	p->io = (struct spawn_io){ .out = -1, .err = -1 };
	TAILQ_INSERT_TAIL(&ps->queue, p, link);
	event_active(ps->pump, EV_READ, 0);
}

int spawn_queue_init(struct procs *ps)
{
	TAILQ_INIT(&ps->queue);
	ps->spawn_answered = answered;
	ps->spawn_requeue = requeue;
	ps->pump = event_new(ps->base, -1, 0, on_pump, ps);
	return ps->pump ? 0 : -1;
}

void spawn_queue_free(struct procs *ps)
{
	struct process *p;

	while ((p = TAILQ_FIRST(&ps->queue)))
		procs_forget(ps, p);
	if (ps->pump)
		event_free(ps->pump);
	ps->pump = NULL;
}
