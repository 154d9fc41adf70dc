/* control: accepts control clients and moves lines between their sockets and their
 * JSON-RPC sessions. Survives EMFILE, vanished peers, floods and slow readers. */
#include "daemon/control/control.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "daemon/control/control_int.h"
#include "daemon/lib/log.h"
#include "ipc/frame.h"

static void client_free(struct client *cl)
{
	struct control *ctl = cl->ctl;

	LIST_REMOVE(cl, link);
	ctl->n_clients--;
	peers_leave(&ctl->peers, cl->peer.uid);
	lv_rpc_session_free(cl->session);
	replymem_untrack(&ctl->replies, &cl->out);
	bufferevent_free(cl->bev);
	if (cl->linger)
		event_free(cl->linger);
	if (cl->more)
		event_free(cl->more);
	free(cl->sub_target);
	free(cl->follow_target);
	if (cl->follows)
		ctl->n_follows--;
	free(cl);
	if (ctl->listener && ctl->n_clients == LV_CONTROL_MAX_CLIENTS - 1 && !ctl->resume)
		evconnlistener_enable(ctl->listener);
}

void control_on_linger(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	client_free(arg);
}

/* Disconnects a client now: its unread replies are freed at once and its socket shut;
 * the struct goes on the next loop turn (a session may be on the stack that sent). */
static void client_drop(struct replymem_user *out_of, const char *why)
{
	struct client *cl = (struct client *)((char *)out_of - offsetof(struct client, out));
	struct evbuffer *out = bufferevent_get_output(cl->bev);
	struct timeval now = { 0, 0 };

	log_warn("control: uid %u (pid %d) %s: disconnecting it", (unsigned)cl->peer.uid,
	         (int)cl->peer.pid, why);
	cl->closing = 2;
	cl->sub_mask = 0;
	bufferevent_disable(cl->bev, EV_READ | EV_WRITE);
	evbuffer_unfreeze(out, 1); /* the bufferevent keeps its start frozen: we take over */
	evbuffer_drain(out, evbuffer_get_length(out));
	shutdown(bufferevent_getfd(cl->bev), SHUT_RDWR);
	if (!cl->linger)
		cl->linger = evtimer_new(cl->ctl->sup->base, control_on_linger, cl);
	if (cl->linger)
		evtimer_add(cl->linger, &now);
}

static void client_send(void *io, const char *data, size_t len)
{
	struct client *cl = io;

	if (!cl->closing && replymem_room(&cl->ctl->replies, &cl->out, len))
		evbuffer_add(bufferevent_get_output(cl->bev), data, len);
}

/* Whether the client's next request may be handled now: not while it has many earlier
 * ones unanswered, nor while it leaves a megabyte of replies unread (it is read from again
 * once it has read them: a client that does not read costs no more memory or time). */
static bool may_handle(struct client *cl)
{
	return !cl->closing && lv_rpc_session_pending(cl->session) < LV_CONTROL_MAX_PENDING &&
	       evbuffer_get_length(bufferevent_get_output(cl->bev)) < LV_CONTROL_OUTPUT_HIGH;
}

static void update_reading(struct client *cl)
{
	if (may_handle(cl))
		bufferevent_enable(cl->bev, EV_READ);
	else
		bufferevent_disable(cl->bev, EV_READ);
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

static void on_denied(void *io, const char *method)
{
	struct client *cl = io;

	log_warn("control: permission denied: uid %u (pid %d) may not call %s",
	         (unsigned)cl->peer.uid, (int)cl->peer.pid, method);
}

enum lv_rpc_role control_client_role(struct client *cl)
{
	struct supervisor *sup = cl->ctl->sup;

	if (cl->role_gen != sup->config_gen) {
		cl->role = peers_role(&cl->ctl->peers, sup->cfg, sup->config_gen, &cl->peer);
		cl->role_gen = sup->config_gen;
	}
	return cl->role;
}

/* Handles one request line under the role the peer has now; a peer left with no role
 * gets its answers (-32003) and then the connection closes. */
static void handle_line(struct client *cl, const char *line, size_t len)
{
	enum lv_rpc_role role = control_client_role(cl);

	lv_rpc_session_set_role(cl->session, role, on_denied);
	lv_rpc_session_handle(cl->session, line, len);
	if (role == LV_ROLE_NONE && !cl->closing) {
		log_warn("control: uid %u (pid %d) has no role any more: closing its connection",
		         (unsigned)cl->peer.uid, (int)cl->peer.pid);
		subscribers_close_after_notice(cl);
	}
}

static void on_read(struct bufferevent *bev, void *arg);

static void on_more(evutil_socket_t fd, short what, void *arg)
{
	struct client *cl = arg;

	(void)fd;
	(void)what;
	on_read(cl->bev, cl);
}

/* A client is served this much per turn of the loop, the rest of what it sent on a later
 * turn: everyone else (a ping) waits no longer than one such share of each client. */
static bool turn_taken(struct client *cl, int lines, size_t out_before)
{
	struct timeval now = { 0, 0 };
	size_t out = evbuffer_get_length(bufferevent_get_output(cl->bev));

	if ((lines < LV_CONTROL_TURN_LINES && (out <= out_before ||
	                                       out - out_before < LV_CONTROL_TURN_BYTES)) ||
	    evbuffer_get_length(bufferevent_get_input(cl->bev)) == 0)
		return false;
	if (!cl->more && !(cl->more = evtimer_new(cl->ctl->sup->base, on_more, cl)))
		return false; /* no timer: serve on rather than stall it */
	evtimer_add(cl->more, &now);
	return true;
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct client *cl = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len, out_before = evbuffer_get_length(bufferevent_get_output(bev));
	const char *line;
	enum lv_frame_result r = LV_FRAME_NONE;
	int lines = 0;

	while (may_handle(cl) &&
	       (r = lv_frame_next(in, LV_CONTROL_MAX_LINE, &line, &len)) == LV_FRAME_LINE) {
		handle_line(cl, line, len);
		lv_frame_consume(in, len);
		if (turn_taken(cl, ++lines, out_before))
			break;
	}
	if (r == LV_FRAME_TOO_LONG && !cl->closing) {
		log_warn("control: request line over %d bytes, closing that connection",
		         LV_CONTROL_MAX_LINE);
		lv_rpc_session_send_error(cl->session, LV_RPC_INVALID_REQUEST, "request too large");
		cl->closing = 1;
	}
	finish_or_close(cl);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct client *cl = arg;

	(void)bev;
	if (cl->skipped && !cl->closing)
		subscribers_send_skipped(cl); /* it has read everything */
	if (finish_or_close(cl))
		return;
	/* Reading may have paused on pending or unread replies: pick up what is buffered. */
	if (!cl->closing && evbuffer_get_length(bufferevent_get_input(cl->bev)) > 0)
		on_read(cl->bev, cl);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		client_free(arg);
}

/* Every answered call, counted for /metrics. */
static void on_call_done(void *io, const struct lv_rpc_method *m, int code, uint64_t us)
{
	struct client *cl = io;

	request_stats_count(&cl->ctl->stats, m, code, us);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg)
{
	struct control *ctl = arg;
	struct ucred peer;
	struct client *cl;

	(void)sa;
	(void)socklen;
	if (!peers_admit(&ctl->peers, ctl->sup->cfg, ctl->sup->config_gen, ctl->n_clients, fd, &peer))
		return;
	if (!(cl = calloc(1, sizeof *cl)) ||
	    !(cl->bev = bufferevent_socket_new(ctl->sup->base, fd, BEV_OPT_CLOSE_ON_FREE))) {
		free(cl);
		close(fd);
		peers_leave(&ctl->peers, peer.uid);
		return;
	}
	cl->ctl = ctl;
	cl->peer = peer;
	cl->privileged = peer_privileged(peer.uid);
	cl->role_gen = ctl->sup->config_gen - 1; /* judged again at its first request */
	if (!(cl->session = lv_rpc_session_new(ctl->methods, ctl->sup, client_send, cl)) ||
	    replymem_track(&ctl->replies, &cl->out, bufferevent_get_output(cl->bev)) < 0) {
		lv_rpc_session_free(cl->session);
		bufferevent_free(cl->bev);
		free(cl);
		peers_leave(&ctl->peers, peer.uid);
		return;
	}
	lv_rpc_session_set_peer(cl->session, peer.uid, peer.gid); /* for what add may run as */
	lv_rpc_session_set_done(cl->session, on_call_done);
	LIST_INSERT_HEAD(&ctl->clients, cl, link);
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

/* Binds path and makes a listener for it; NULL with err on failure. */
static struct evconnlistener *listen_on(struct control *ctl, const char *path, mode_t mode,
                                        struct lv_sockfile *made, char *err, size_t errlen)
{
	const struct lv_config *cfg = ctl->sup->cfg;
	struct lv_sockfile_opts o = { .mode = mode, .sock_flags = SOCK_NONBLOCK, .backlog = 128,
	                              .group = cfg->control_has_group ? cfg->control_gid : (gid_t)-1,
	                              .probe_stale = true };
	struct evconnlistener *l;
	int fd;

	if (lv_sockfile_prepare_dir(path, err, errlen) < 0 ||
	    (fd = lv_sockfile_listen(path, &o, made, err, errlen)) < 0)
		return NULL;
	l = evconnlistener_new(ctl->sup->base, on_accept, ctl,
	                       LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (!l) {
		snprintf(err, errlen, "%s: cannot listen", path);
		close(fd);
		lv_sockfile_remove(path, made);
		return NULL;
	}
	evconnlistener_set_error_cb(l, on_accept_error);
	return l;
}

/* A control socket's state without its listener; NULL with err. */
static struct control *control_new(struct supervisor *sup, const char *path,
                                   const struct lv_rpc_method *methods, char *err, size_t errlen)
{
	struct control *ctl = calloc(1, sizeof *ctl);

	if (!ctl || !(ctl->path = strdup(path))) {
		free(ctl);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ctl->sup = sup;
	LIST_INIT(&ctl->clients);
	ctl->methods = methods;
	ctl->stats.methods = methods;
	replymem_init(&ctl->replies, sup->base, LV_CONTROL_MAX_OUTPUT, LV_CONTROL_MAX_OUTPUT_ALL,
	              client_drop); /* without its timer, memory would stay at its peak */
	return ctl;
}

/* Undoes control_new. */
static void control_delete(struct control *ctl)
{
	replymem_free(&ctl->replies);
	free(ctl->path);
	free(ctl);
}

struct control *control_open(struct supervisor *sup, const char *path, mode_t mode,
                             const struct lv_rpc_method *methods, char *err, size_t errlen)
{
	struct control *ctl = control_new(sup, path, methods, err, errlen);

	if (!ctl)
		return NULL;
	ctl->mode = mode;
	if (!(ctl->listener = listen_on(ctl, path, mode, &ctl->made, err, errlen))) {
		control_delete(ctl);
		return NULL;
	}
	return ctl;
}

struct control *control_adopt(struct supervisor *sup, int fd, const struct lv_rpc_method *methods,
                              char *err, size_t errlen)
{
	struct sockaddr_un sun;
	socklen_t len = sizeof sun;
	struct control *ctl;

	memset(&sun, 0, sizeof sun);
	getsockname(fd, (struct sockaddr *)&sun, &len);
	ctl = control_new(sup, sun.sun_path[0] ? sun.sun_path : "(socket activation)", methods, err,
	                  errlen);
	if (!ctl)
		return NULL;
	ctl->adopted = true;
	/* passed sockets arrive blocking and already listening (backlog 0: leave it) */
	evutil_make_socket_nonblocking(fd);
	ctl->listener = evconnlistener_new(sup->base, on_accept, ctl,
	                                   LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (!ctl->listener) {
		snprintf(err, errlen, "cannot accept on the passed control socket");
		control_delete(ctl);
		return NULL;
	}
	evconnlistener_set_error_cb(ctl->listener, on_accept_error);
	return ctl;
}

int control_rebind(struct control *ctl, const char *path, mode_t mode, char *err, size_t errlen)
{
	struct evconnlistener *l;
	struct lv_sockfile made;
	char *copy;

	if (ctl->adopted)
		return 0; /* systemd owns the socket: the unit says where it is */
	if (!strcmp(path, ctl->path)) {
		if (mode != ctl->mode && lv_sockfile_chmod(path, &ctl->made, mode, err, errlen) < 0)
			return -1;
		ctl->mode = mode;
		return 0;
	}
	if (!(copy = strdup(path)) || !(l = listen_on(ctl, path, mode, &made, err, errlen))) {
		free(copy);
		return -1;
	}
	/* connected clients stay; only the way in moves */
	evconnlistener_free(ctl->listener);
	lv_sockfile_remove(ctl->path, &ctl->made);
	free(ctl->path);
	ctl->listener = l;
	ctl->path = copy;
	ctl->mode = mode;
	ctl->made = made;
	log_info("control socket moved to %s", path);
	return 0;
}

const struct request_stats *control_request_stats(const struct control *ctl)
{
	return &ctl->stats;
}

const char *control_path(const struct control *ctl)
{
	return ctl->path;
}

bool control_client_privileged(void *client_io)
{
	return ((struct client *)client_io)->privileged;
}

void control_flush(struct control *ctl)
{
	struct client *cl;

	LIST_FOREACH(cl, &ctl->clients, link) {
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
	while (!LIST_EMPTY(&ctl->clients))
		client_free(LIST_FIRST(&ctl->clients));
	if (ctl->resume)
		event_free(ctl->resume);
	replymem_free(&ctl->replies);
	peers_free(&ctl->peers);
	evconnlistener_free(ctl->listener);
	if (!ctl->adopted)
		lv_sockfile_remove(ctl->path, &ctl->made);
	free(ctl->path);
	free(ctl);
}
