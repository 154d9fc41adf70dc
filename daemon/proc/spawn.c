/* spawn: the parent's half of starting a worker: pipes and channels, fork with signals
 * blocked, and watching the child until exec succeeded (or it failed with a reason). */
#include "daemon/core/supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/proc/loop_channel.h"
#include "daemon/lib/log.h"
#include "daemon/proc/output.h"
#include "daemon/proc/notify_socket.h"
#include "daemon/proc/zygote.h"
#include "worker/spawn.h"

void worker_close_error(struct worker *w)
{
	if (w->error_fd >= 0) {
		close(w->error_fd);
		w->error_fd = -1;
	}
}

void worker_close_process(struct worker *w)
{
	for (unsigned i = 0; i < w->n_loops; i++)
		channel_close(&w->loops[i]);
	if (w->exec_watch) {
		event_free(w->exec_watch);
		w->exec_watch = NULL;
	}
	worker_close_error(w);
}

/* Reads a start error the child wrote (exec failure, bad cwd, module load error). The
 * child writes it in one write(2) of less than PIPE_BUF bytes, so one read gets it all.
 * Returns the number of bytes read, 0 at EOF, -1 if nothing is there yet. */
static ssize_t read_error(struct worker *w)
{
	char buf[1024];
	ssize_t n;

	do
		n = read(w->error_fd, buf, sizeof buf);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		worker_set_exit_error(w, "%.*s", (int)n, buf);
	return n;
}

/* At a worker's exit. An exec worker whose pipe is at EOF and empty had exec'd: if its exit
 * overtook that news, it ran all the same (a `start` of it is then answered "running"). */
void worker_drain_error(struct worker *w)
{
	if (w->error_fd >= 0 && read_error(w) == 0 && w->exec_watch && !w->pool->cfg.ready_notify)
		worker_ready(w);
}

static void on_exec_pipe(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	ssize_t n = read_error(w);

	(void)fd;
	(void)what;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	event_free(w->exec_watch);
	w->exec_watch = NULL;
	close(w->error_fd);
	w->error_fd = -1;
	/* EOF: CLOEXEC closed the pipe, the program runs; a notify worker still owes READY=1.
	 * Otherwise the child reported an error and exits: the reaper takes it from here. */
	if (n == 0 && !w->pool->cfg.ready_notify)
		worker_ready(w);
}

void worker_ask_stop(struct worker *w)
{
	int rc;

	if (w->pool->cfg.kind == LV_KIND_MODULE && w->loops[0].channel) {
		for (unsigned i = 0; i < w->n_loops; i++)
			channel_send(&w->loops[i], LV_MSG_STOP, NULL);
		return;
	}
	rc = worker_kill(w, w->pool->cfg.stop_signal, false);
	if (rc < 0 && rc != -ESRCH) /* ESRCH: it exited, and the daemon is about to hear of it */
		log_warn("%s: kill %d: %s", w->name, (int)w->proc.pid, strerror(-rc));
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

static void fill_spawn(struct worker *w, struct lv_spawn *sp, int error_fd, int *channels)
{
	const struct lv_pool_config *cfg = &w->pool->cfg;

	memset(sp, 0, sizeof *sp);
	sp->kind = cfg->kind;
	sp->pool = cfg->name;
	sp->index = w->index;
	sp->worker = w->name;
	sp->supervisor = getpid();
	sp->nofile_soft = w->pool->sup->nofile_soft;
	sp->argv = cfg->argv;
	sp->env = cfg->env;
	sp->cwd = cfg->cwd;
	sp->set_ids = cfg->user || cfg->group;
	sp->uid = cfg->user ? cfg->uid : getuid();
	sp->gid = cfg->gid;
	sp->user = cfg->user;
	sp->module_path = w->pool->module_path;
	sp->params = cfg->params;
	sp->loops = w->n_loops;
	sp->heartbeat_ms = cfg->heartbeat_ms;
	sp->channel_fds = channels;
	sp->listen_fds = w->pool->listen_fds;
	sp->listen_names = cfg->listen;
	sp->n_listen = (unsigned)cfg->n_listen;
	sp->error_fd = error_fd;
	sp->stdout_fd = sp->stderr_fd = -1;
	sp->output_null = cfg->output == LV_OUTPUT_NULL;
	sp->limits = cfg;
}

/* The parent's side of the new process: watches, pid table, counters. */
static void adopt_child(struct worker *w, pid_t pid, unsigned zygote, int errpipe,
                        const int *channels)
{
	struct supervisor *sup = w->pool->sup;

	procs_adopt(&sup->procs, &w->proc, pid, zygote);
	w->started_ms = lv_now_ms();
	if (w->spawns++ > 0)
		w->restarts++;
	w->error_fd = errpipe;
	evutil_make_socket_nonblocking(errpipe);
	if (w->pool->cfg.kind == LV_KIND_EXEC) {
		w->exec_watch = event_new(sup->base, errpipe, EV_READ | EV_PERSIST, on_exec_pipe, w);
		if (!w->exec_watch || event_add(w->exec_watch, NULL) < 0)
			log_err("%s: cannot watch the exec pipe", w->name);
		return;
	}
	for (unsigned i = 0; i < w->n_loops; i++)
		if (channel_open(&w->loops[i], channels[i]) < 0)
			log_err("%s: cannot watch the channel of loop %u", w->name, i);
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

int worker_spawn(struct worker *w)
{
	unsigned n_channels = w->pool->cfg.kind == LV_KIND_MODULE ? w->n_loops : 0;
	int errpipe[2] = { -1, -1 }, out[2] = { -1, -1 }, err2[2] = { -1, -1 };
	int mine[LV_LOOPS_MAX], theirs[LV_LOOPS_MAX];
	struct lv_spawn sp;
	const char *notify_path = NULL;
	pid_t pid;
	unsigned zygote = 0;
	int saved;
	char err[LV_ERRBUF];

	if (w->pool->cfg.kind == LV_KIND_MODULE && pool_resolve_module(w->pool, err, sizeof err) < 0) {
		worker_set_error(w, "%s", err);
		return -1;
	}
	/* a notify worker gets the socket of its own uid, which no other user can reach */
	w->notify_uid = w->pool->cfg.user ? w->pool->cfg.uid : getuid();
	if (w->pool->cfg.ready_notify &&
	    !(notify_path = notify_socket_for(w->pool->sup->notify, w->notify_uid, err, sizeof err))) {
		worker_set_error(w, "%s", err);
		return -1;
	}
	if (pipe2(errpipe, O_CLOEXEC) < 0) {
		worker_set_error(w, "cannot create the error pipe: %s", strerror(errno));
		return -1;
	}
	if (w->pool->cfg.output == LV_OUTPUT_CAPTURE &&
	    (pipe2(out, O_CLOEXEC) < 0 || pipe2(err2, O_CLOEXEC) < 0)) {
		worker_set_error(w, "cannot create the log pipes: %s", strerror(errno));
		close_fds(errpipe, 2);
		close_fds(out, 2);
		return -1;
	}
	if (make_channels(n_channels, mine, theirs) < 0) {
		worker_set_error(w, "cannot create the channels: %s", strerror(errno));
		close_fds(errpipe, 2);
		close_fds(out, 2);
		close_fds(err2, 2);
		return -1;
	}
	fill_spawn(w, &sp, errpipe[1], theirs);
	sp.notify_socket = notify_path;
	sp.stdout_fd = out[1];
	sp.stderr_fd = err2[1];

	pid = zygote_spawn(&w->pool->sup->procs, &sp, &zygote);
	saved = errno;
	if (pid < 0 && saved == EPIPE) /* no zygote can: the daemon forks */
		pid = fork_worker(&sp, &saved);

	close(errpipe[1]);
	close_fds(&out[1], 1);
	close_fds(&err2[1], 1);
	close_fds(theirs, n_channels);
	if (pid < 0) {
		worker_set_error(w, "fork: %s", strerror(saved));
		close(errpipe[0]);
		close_fds(out, 1);
		close_fds(err2, 1);
		close_fds(mine, n_channels);
		return -1;
	}
	if (out[0] >= 0)
		logs_attach(w, out[0], err2[0]);
	adopt_child(w, pid, zygote, errpipe[0], mine);
	return 0;
}
