/* control: accepts control clients and moves lines between their sockets and their
 * JSON-RPC sessions. Survives EMFILE, vanished peers, floods and slow readers. */
#include "daemon/control.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "daemon/log.h"
#include "ipc/frame.h"

struct client {
	struct client *prev, *next;
	struct control *ctl;
	struct bufferevent *bev;
	struct lv_rpc_session *session;
	int closing;            /* close once the output is written */
	unsigned sub_mask;      /* subscribed events, 0 for none */
	char *sub_target;       /* only events of this pool or worker, or NULL */
	struct event *linger;   /* an overflowed subscriber gets this long to read its notice */
	struct ucred peer;      /* who connected (SO_PEERCRED, as of connect()) */
	bool follows;           /* receives log lines ... */
	char *follow_target;    /* ... of this pool or worker, or of all */
	unsigned long long skipped; /* fell behind: lines skipped until it reads half its queue */
};

struct control {
	struct supervisor *sup;
	const struct lv_rpc_method *methods;
	struct evconnlistener *listener;
	struct event *resume;   /* re-enables accepting after EMFILE */
	struct client *clients;
	unsigned n_clients;
	unsigned n_follows;     /* clients that follow log lines */
	char *path;
	mode_t mode;
	bool adopted;           /* passed by systemd: its path is not ours to remove */
};

static void client_free(struct client *cl)
{
	struct control *ctl = cl->ctl;

	if (cl->prev)
		cl->prev->next = cl->next;
	else
		ctl->clients = cl->next;
	if (cl->next)
		cl->next->prev = cl->prev;
	ctl->n_clients--;
	lv_rpc_session_free(cl->session);
	bufferevent_free(cl->bev);
	if (cl->linger)
		event_free(cl->linger);
	free(cl->sub_target);
	free(cl->follow_target);
	if (cl->follows)
		ctl->n_follows--;
	free(cl);
	if (ctl->listener && ctl->n_clients == LV_CONTROL_MAX_CLIENTS - 1 && !ctl->resume)
		evconnlistener_enable(ctl->listener);
}

static void client_send(void *io, const char *data, size_t len)
{
	struct client *cl = io;
	struct evbuffer *out = bufferevent_get_output(cl->bev);

	if (cl->closing)
		return;
	if (evbuffer_get_length(out) + len > LV_CONTROL_MAX_OUTPUT) {
		/* It does not read what it asks for: drop it rather than grow without bound. */
		log_warn("control: client not reading its replies, disconnecting");
		cl->closing = 2;
		return;
	}
	evbuffer_add(out, data, len);
}

/* Reads as long as the client's earlier requests are answered and its replies read. */
static void update_reading(struct client *cl)
{
	if (cl->closing || lv_rpc_session_pending(cl->session) >= LV_CONTROL_MAX_PENDING)
		bufferevent_disable(cl->bev, EV_READ);
	else
		bufferevent_enable(cl->bev, EV_READ);
}

/* Returns true if the client is gone. */
static bool finish_or_close(struct client *cl)
{
	if (cl->closing == 2 ||
	    (cl->closing && evbuffer_get_length(bufferevent_get_output(cl->bev)) == 0)) {
		client_free(cl);
		return true;
	}
	update_reading(cl);
	return false;
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct client *cl = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	const char *line;
	size_t len;
	enum lv_frame_result r = LV_FRAME_NONE;

	while (!cl->closing && lv_rpc_session_pending(cl->session) < LV_CONTROL_MAX_PENDING &&
	       (r = lv_frame_next(in, LV_CONTROL_MAX_LINE, &line, &len)) == LV_FRAME_LINE) {
		lv_rpc_session_handle(cl->session, line, len);
		lv_frame_consume(in, len);
	}
	if (r == LV_FRAME_TOO_LONG && !cl->closing) {
		log_warn("control: request line over %d bytes, closing that connection",
		         LV_CONTROL_MAX_LINE);
		lv_rpc_session_send_error(cl->session, LV_RPC_INVALID_REQUEST, "request too large");
		cl->closing = 1;
	}
	finish_or_close(cl);
}

/* A follower that fell behind hears how many lines it missed before the next one. */
static void send_skipped(struct client *cl)
{
	lv_rpc_session_notify(cl->session, "log",
	                      json_pack("{s:I}", "skipped", (json_int_t)cl->skipped));
	cl->skipped = 0;
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct client *cl = arg;

	(void)bev;
	if (cl->skipped && !cl->closing)
		send_skipped(cl); /* it has read everything */
	if (finish_or_close(cl))
		return;
	/* Reading may have paused on pending replies: pick up what is buffered. */
	if (!cl->closing && evbuffer_get_length(bufferevent_get_input(cl->bev)) > 0)
		on_read(cl->bev, cl);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		client_free(arg);
}

static bool in_group(const struct ucred *peer, gid_t gid)
{
	struct passwd *pw;
	gid_t groups[256];
	int n = 256;

	if (peer->gid == gid)
		return true;
	if (!(pw = getpwuid(peer->uid)) || getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
		return false;
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/* root and the daemon's own user are admins; everyone else gets what control.access says,
 * by uid and by every group of that uid (not only the primary one). */
static enum lv_rpc_role peer_role(const struct lv_config *cfg, const struct ucred *peer)
{
	int role = LV_ROLE_NONE;

	if (peer->uid == 0 || peer->uid == geteuid())
		return LV_ROLE_ADMIN;
	for (size_t i = 0; i < cfg->n_access; i++) {
		const struct lv_access *a = &cfg->access[i];

		if (a->role > role && (a->is_group ? in_group(peer, a->gid) : a->uid == peer->uid))
			role = a->role;
	}
	return (enum lv_rpc_role)role;
}

static void on_denied(void *io, const char *method)
{
	struct client *cl = io;

	log_warn("control: permission denied: uid %u (pid %d) may not call %s",
	         (unsigned)cl->peer.uid, (int)cl->peer.pid, method);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg)
{
	struct control *ctl = arg;
	struct client *cl = calloc(1, sizeof *cl);

	(void)sa;
	(void)socklen;
	if (!cl || !(cl->bev = bufferevent_socket_new(ctl->sup->base, fd, BEV_OPT_CLOSE_ON_FREE))) {
		free(cl);
		close(fd);
		return;
	}
	cl->ctl = ctl;
	if (!(cl->session = lv_rpc_session_new(ctl->methods, ctl->sup, client_send, cl))) {
		bufferevent_free(cl->bev);
		free(cl);
		return;
	}
	{
		socklen_t len = sizeof cl->peer;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cl->peer, &len) < 0)
			cl->peer.uid = (uid_t)-1; /* unknown: no role at all */
		lv_rpc_session_set_role(cl->session, cl->peer.uid == (uid_t)-1 ? LV_ROLE_NONE
		                        : peer_role(ctl->sup->cfg, &cl->peer), on_denied);
	}
	cl->next = ctl->clients;
	if (ctl->clients)
		ctl->clients->prev = cl;
	ctl->clients = cl;
	if (++ctl->n_clients >= LV_CONTROL_MAX_CLIENTS)
		evconnlistener_disable(l);
	bufferevent_setcb(cl->bev, on_read, on_write, on_event, cl);
	bufferevent_setwatermark(cl->bev, EV_READ, 0, LV_CONTROL_MAX_LINE + 1);
	bufferevent_enable(cl->bev, EV_READ);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct control *ctl = arg;

	(void)fd;
	(void)what;
	event_free(ctl->resume);
	ctl->resume = NULL;
	if (ctl->n_clients < LV_CONTROL_MAX_CLIENTS)
		evconnlistener_enable(ctl->listener);
}

/* accept() failed (EMFILE, ENFILE, ENOBUFS...): stop accepting for a moment instead of
 * spinning on a level-triggered listener that stays readable. */
static void on_accept_error(struct evconnlistener *l, void *arg)
{
	struct control *ctl = arg;
	struct timeval tv = { 0, 200 * 1000 };
	int err = EVUTIL_SOCKET_ERROR();

	log_warn("control: accept: %s; pausing accepts for 200 ms", strerror(err));
	evconnlistener_disable(l);
	if (!ctl->resume)
		ctl->resume = evtimer_new(ctl->sup->base, on_resume, ctl);
	if (ctl->resume)
		evtimer_add(ctl->resume, &tv);
}

/* True when pid names a process that has not died (a zombie has). */
static bool process_alive(pid_t pid)
{
	char path[64], stat[256], *paren;
	FILE *f;
	size_t n;

	if (pid <= 0 || (kill(pid, 0) < 0 && errno == ESRCH))
		return false;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "re")))
		return true; /* no /proc: trust kill() */
	n = fread(stat, 1, sizeof stat - 1, f);
	fclose(f);
	stat[n] = '\0';
	paren = strrchr(stat, ')');
	return !(paren && paren[1] == ' ' && paren[2] == 'Z');
}

/* Removes a socket file left behind by a dead daemon, but never a live one. A socket that
 * still accepts is not proof of life: a worker forked a moment before its daemon was
 * killed holds the listening socket until it closes its inherited fds or dies with its
 * parent. SO_PEERCRED names the process that called listen(); only if it lives is the
 * socket taken. */
static int clear_stale(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct ucred peer = { 0 };
	socklen_t peer_len = sizeof peer;
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s: exists and is not a socket", path);
		return -1;
	}
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	rc = connect(fd, (struct sockaddr *)&sun, sizeof sun);
	if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &peer_len) == 0 &&
	    !process_alive(peer.pid))
		rc = -1;
	close(fd);
	if (rc == 0) {
		snprintf(err, errlen, "%s: another daemon is listening there", path);
		return -1;
	}
	unlink(path);
	return 0;
}

static int bind_socket(const char *path, mode_t mode, gid_t group, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	mode_t old_umask;
	int fd, rc;

	if (strlen(path) >= sizeof sun.sun_path) {
		snprintf(err, errlen, "%s: socket path too long (max %zu bytes)", path,
		         sizeof sun.sun_path - 1);
		return -1;
	}
	if (clear_stale(path, err, errlen) < 0)
		return -1;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* Nobody may connect between bind and chmod: create it with no access at all. */
	old_umask = umask(0777);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof sun);
	umask(old_umask);
	if (rc < 0 || chmod(path, mode) < 0 || (group != (gid_t)-1 && chown(path, (uid_t)-1, group) < 0) ||
	    listen(fd, 128) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (rc == 0)
			unlink(path);
		close(fd);
		return -1;
	}
	return fd;
}

/* Creates the socket's folder (one level, 0700) when it is missing. */
static void ensure_dir(const char *path)
{
	char dir[4096];
	char *slash;

	snprintf(dir, sizeof dir, "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = '\0';
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		log_warn("control: mkdir %s: %s", dir, strerror(errno));
}

/* Binds path and makes a listener for it; NULL with err on failure. */
static struct evconnlistener *listen_on(struct control *ctl, const char *path, mode_t mode,
                                        char *err, size_t errlen)
{
	struct evconnlistener *l;
	int fd;

	ensure_dir(path);
	if ((fd = bind_socket(path, mode, ctl->sup->cfg->control_has_group ? ctl->sup->cfg->control_gid
	                                                               : (gid_t)-1, err, errlen)) < 0)
		return NULL;
	l = evconnlistener_new(ctl->sup->base, on_accept, ctl,
	                       LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (!l) {
		snprintf(err, errlen, "%s: cannot listen", path);
		close(fd);
		unlink(path);
		return NULL;
	}
	evconnlistener_set_error_cb(l, on_accept_error);
	return l;
}

struct control *control_open(struct supervisor *sup, const char *path, mode_t mode,
                             const struct lv_rpc_method *methods, char *err, size_t errlen)
{
	struct control *ctl = calloc(1, sizeof *ctl);

	if (!ctl || !(ctl->path = strdup(path))) {
		free(ctl);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ctl->sup = sup;
	ctl->methods = methods;
	ctl->mode = mode;
	if (!(ctl->listener = listen_on(ctl, path, mode, err, errlen))) {
		free(ctl->path);
		free(ctl);
		return NULL;
	}
	return ctl;
}

struct control *control_adopt(struct supervisor *sup, int fd, const struct lv_rpc_method *methods,
                              char *err, size_t errlen)
{
	struct control *ctl = calloc(1, sizeof *ctl);
	struct sockaddr_un sun;
	socklen_t len = sizeof sun;

	memset(&sun, 0, sizeof sun);
	getsockname(fd, (struct sockaddr *)&sun, &len);
	if (!ctl || !(ctl->path = strdup(sun.sun_path[0] ? sun.sun_path : "(socket activation)"))) {
		free(ctl);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ctl->sup = sup;
	ctl->methods = methods;
	ctl->adopted = true;
	/* passed sockets arrive blocking and already listening (backlog 0: leave it) */
	evutil_make_socket_nonblocking(fd);
	ctl->listener = evconnlistener_new(sup->base, on_accept, ctl,
	                                   LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (!ctl->listener) {
		snprintf(err, errlen, "cannot accept on the passed control socket");
		free(ctl->path);
		free(ctl);
		return NULL;
	}
	evconnlistener_set_error_cb(ctl->listener, on_accept_error);
	return ctl;
}

int control_rebind(struct control *ctl, const char *path, mode_t mode, char *err, size_t errlen)
{
	struct evconnlistener *l;
	char *copy;

	if (ctl->adopted)
		return 0; /* systemd owns the socket: the unit says where it is */
	if (!strcmp(path, ctl->path)) {
		if (mode != ctl->mode && chmod(path, mode) < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return -1;
		}
		ctl->mode = mode;
		return 0;
	}
	if (!(copy = strdup(path)) || !(l = listen_on(ctl, path, mode, err, errlen))) {
		free(copy);
		return -1;
	}
	/* connected clients stay; only the way in moves */
	evconnlistener_free(ctl->listener);
	unlink(ctl->path);
	free(ctl->path);
	ctl->listener = l;
	ctl->path = copy;
	ctl->mode = mode;
	log_info("control socket moved to %s", path);
	return 0;
}

const char *control_path(const struct control *ctl)
{
	return ctl->path;
}

int control_subscribe(void *client_io, unsigned mask, const char *target)
{
	struct client *cl = client_io;
	char *copy = target ? strdup(target) : NULL;

	if (target && !copy)
		return -1;
	free(cl->sub_target);
	cl->sub_target = copy;
	cl->sub_mask = mask;
	return 0;
}

static bool target_matches(const char *target, const char *pool, const char *worker)
{
	if (!target)
		return true;
	if (strchr(target, ':'))
		return worker && !strcmp(target, worker);
	return pool && !strcmp(target, pool);
}

static void on_linger(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	client_free(arg);
}

/* A subscriber that does not read gets one last "overflow" event, then is disconnected:
 * the daemon neither blocks on it nor keeps queueing for it. */
static void overflow(struct client *cl)
{
	struct timeval tv = { 30, 0 };

	log_warn("control: a subscriber stopped reading its events: disconnecting it");
	lv_rpc_session_notify(cl->session, "event", json_pack("{s:s}", "event", "overflow"));
	cl->sub_mask = 0;
	cl->closing = 1;
	bufferevent_disable(cl->bev, EV_READ);
	if ((cl->linger = evtimer_new(cl->ctl->sup->base, on_linger, cl)))
		evtimer_add(cl->linger, &tv);
}

void control_publish(struct control *ctl, int event, json_t *params, const char *pool,
                     const char *worker)
{
	for (struct client *cl = ctl->clients; cl; cl = cl->next) {
		if (!(cl->sub_mask & (1u << event)) || cl->closing ||
		    !target_matches(cl->sub_target, pool, worker))
			continue;
		if (evbuffer_get_length(bufferevent_get_output(cl->bev)) > LV_SUBSCRIBER_MAX_QUEUE)
			overflow(cl);
		else
			lv_rpc_session_notify(cl->session, "event", json_incref(params));
	}
}

int control_follow(void *client_io, const char *target)
{
	struct client *cl = client_io;
	char *copy = target ? strdup(target) : NULL;

	if (target && !copy)
		return -1;
	free(cl->follow_target);
	cl->follow_target = copy;
	if (!cl->follows)
		cl->ctl->n_follows++;
	cl->follows = true;
	return 0;
}

bool control_has_followers(const struct control *ctl)
{
	return ctl && ctl->n_follows > 0;
}

void control_publish_log(struct control *ctl, json_t *line, const char *pool, const char *worker)
{
	size_t limit = lv_follower_limit(ctl->n_follows);

	for (struct client *cl = ctl->clients; cl; cl = cl->next) {
		size_t queued;

		if (!cl->follows || cl->closing || !target_matches(cl->follow_target, pool, worker))
			continue;
		queued = evbuffer_get_length(bufferevent_get_output(cl->bev));
		if (cl->skipped && queued <= limit / 2)
			send_skipped(cl); /* it has read half: lines go to it again */
		if (cl->skipped || queued > limit)
			cl->skipped++;
		else
			lv_rpc_session_notify(cl->session, "log", json_incref(line));
	}
}

void control_flush(struct control *ctl)
{
	for (struct client *cl = ctl->clients; cl; cl = cl->next) {
		struct evbuffer *out = bufferevent_get_output(cl->bev);
		evutil_socket_t fd = bufferevent_getfd(cl->bev);

		/* a bufferevent keeps its output's start frozen for itself: we take over */
		evbuffer_unfreeze(out, 1);
		while (evbuffer_get_length(out) > 0 && evbuffer_write(out, fd) > 0)
			;
	}
}

void control_close(struct control *ctl)
{
	if (!ctl)
		return;
	while (ctl->clients)
		client_free(ctl->clients);
	if (ctl->resume)
		event_free(ctl->resume);
	evconnlistener_free(ctl->listener);
	if (!ctl->adopted)
		unlink(ctl->path);
	free(ctl->path);
	free(ctl);
}
