/* spawn: the parent's half of starting a worker: pipes, fork with signals blocked, and
 * watching the child until it is ready (exec succeeded, or the module said so). */
#include "daemon/supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "daemon/log.h"
#include "ipc/channel.h"
#include "ipc/frame.h"
#include "worker/spawn.h"

static void on_exec_pipe(evutil_socket_t fd, short what, void *arg);
static void on_channel_read(struct bufferevent *bev, void *arg);
static void on_channel_event(struct bufferevent *bev, short what, void *arg);

void worker_close_process(struct worker *w)
{
	if (w->channel) {
		bufferevent_free(w->channel);
		w->channel = NULL;
	}
	if (w->exec_watch) {
		event_free(w->exec_watch);
		w->exec_watch = NULL;
	}
	if (w->error_fd >= 0) {
		close(w->error_fd);
		w->error_fd = -1;
	}
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
		worker_set_error(w, "%.*s", (int)n, buf);
	return n;
}

void worker_drain_error(struct worker *w)
{
	if (w->error_fd >= 0)
		read_error(w);
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
	if (n == 0) /* EOF: CLOEXEC closed the pipe, the program runs */
		worker_ready(w);
	/* otherwise the child reported an error and exits: the reaper takes it from here */
}

static void on_channel_read(struct bufferevent *bev, void *arg)
{
	struct worker *w = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	const char *line;
	size_t len;
	enum lv_frame_result r;

	while ((r = lv_frame_next(in, LV_CHANNEL_MAX_LINE, &line, &len)) == LV_FRAME_LINE) {
		enum lv_msg_type type = lv_msg_parse(line, len, NULL);

		lv_frame_consume(in, len);
		if (type == LV_MSG_READY)
			worker_ready(w);
		else
			log_warn("%s: ignoring an invalid channel message", w->name);
	}
	if (r == LV_FRAME_TOO_LONG) {
		log_warn("%s: channel line too long, dropped", w->name);
		evbuffer_drain(in, evbuffer_get_length(in));
	}
}

static void on_channel_event(struct bufferevent *bev, short what, void *arg)
{
	(void)arg;
	/* The worker closed its end; its exit arrives through SIGCHLD. */
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		bufferevent_disable(bev, EV_READ | EV_WRITE);
}

int worker_kill(struct worker *w, int sig, bool group)
{
	if (w->pid <= 0)
		return -ESRCH;
	return kill(group ? -w->pid : w->pid, sig) < 0 ? -errno : 0;
}

void worker_ask_stop(struct worker *w)
{
	int rc;

	if (w->channel) {
		json_t *msg = lv_msg_new(LV_MSG_STOP, NULL);
		lv_frame_put_json(bufferevent_get_output(w->channel), msg);
		json_decref(msg);
	} else if ((rc = worker_kill(w, w->pool->cfg.stop_signal, false)) < 0) {
		log_warn("%s: kill %d: %s", w->name, (int)w->pid, strerror(-rc));
	}
}

static void close_pair(int fds[2])
{
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static void fill_spawn(struct worker *w, struct lv_spawn *sp, int error_fd, int channel_fd)
{
	const struct lv_pool_config *cfg = &w->pool->cfg;

	memset(sp, 0, sizeof *sp);
	sp->kind = cfg->kind;
	sp->pool = cfg->name;
	sp->index = w->index;
	sp->worker = w->name;
	sp->supervisor = getpid();
	sp->argv = cfg->argv;
	sp->env = cfg->env;
	sp->cwd = cfg->cwd;
	sp->set_ids = cfg->user || cfg->group;
	sp->uid = cfg->user ? cfg->uid : getuid();
	sp->gid = cfg->gid;
	sp->user = cfg->user;
	sp->module_path = w->pool->module_path;
	sp->params = cfg->params;
	sp->error_fd = error_fd;
	sp->channel_fd = channel_fd;
}

/* The parent's side of the process: event watches, pid table, counters. */
static int adopt_child(struct worker *w, pid_t pid, int errpipe, int channel)
{
	struct supervisor *sup = w->pool->sup;

	setpgid(pid, pid); /* also done by the child; whoever is first wins the race */
	w->pid = pid;
	w->started_ms = lv_now_ms();
	if (w->spawns++ > 0)
		w->restarts++;
	sup->live++;
	if (lv_pidmap_put(&sup->pids, pid, w) < 0)
		log_err("%s: out of memory for the pid table", w->name);
	w->error_fd = errpipe;
	evutil_make_socket_nonblocking(errpipe);
	if (w->pool->cfg.kind == LV_KIND_EXEC) {
		w->exec_watch = event_new(sup->base, errpipe, EV_READ | EV_PERSIST, on_exec_pipe, w);
		if (!w->exec_watch || event_add(w->exec_watch, NULL) < 0)
			log_err("%s: cannot watch the exec pipe", w->name);
		return 0;
	}
	w->channel = bufferevent_socket_new(sup->base, channel, BEV_OPT_CLOSE_ON_FREE);
	if (!w->channel) {
		close(channel);
		log_err("%s: cannot watch the channel", w->name);
		return 0;
	}
	evutil_make_socket_nonblocking(channel);
	bufferevent_setcb(w->channel, on_channel_read, NULL, on_channel_event, w);
	bufferevent_setwatermark(w->channel, EV_READ, 0, LV_CHANNEL_MAX_LINE + 1);
	bufferevent_enable(w->channel, EV_READ);
	return 0;
}

int worker_spawn(struct worker *w)
{
	int errpipe[2] = { -1, -1 }, chan[2] = { -1, -1 };
	sigset_t all, old;
	struct lv_spawn sp;
	pid_t pid;
	int saved;
	char err[LV_ERRBUF];

	if (w->pool->cfg.kind == LV_KIND_MODULE && pool_resolve_module(w->pool, err, sizeof err) < 0) {
		worker_set_error(w, "%s", err);
		return -1;
	}
	if (pipe2(errpipe, O_CLOEXEC) < 0 ||
	    (w->pool->cfg.kind == LV_KIND_MODULE &&
	     socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, chan) < 0)) {
		worker_set_error(w, "cannot create worker pipes: %s", strerror(errno));
		close_pair(errpipe);
		return -1;
	}
	fill_spawn(w, &sp, errpipe[1], chan[1]);

	/* No signal may run a handler in the child before it has reset them all. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	fflush(NULL);
	pid = fork();
	if (pid == 0)
		lv_worker_main(&sp);
	saved = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);

	close(errpipe[1]);
	if (chan[1] >= 0)
		close(chan[1]);
	if (pid < 0) {
		worker_set_error(w, "fork: %s", strerror(saved));
		close(errpipe[0]);
		if (chan[0] >= 0)
			close(chan[0]);
		return -1;
	}
	return adopt_child(w, pid, errpipe[0], chan[0]);
}
