/* notify: receives READY=1, STATUS=, WATCHDOG=1 and STOPPING=1 from exec workers. A
 * datagram counts only if the kernel says it came from a worker or a process in its
 * session; anything else, empty or oversize is dropped without disturbing the loop. */
#include "daemon/notify.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/log.h"
#include "ipc/notify_msg.h"

struct notify {
	struct supervisor *sup;
	int fd;
	struct event *ev;
	char address[64];
};

const char *notify_address(const struct notify *n)
{
	return n ? n->address : NULL;
}

/* The worker a sender speaks for: the worker itself, or a process in its session (a shell
 * script's systemd-notify is a child of the worker). A worker leads its own session and no
 * process can join a session it was not born in, so no other worker's child can pose as
 * one of its own, as it could by joining its process group. getsid() is one system call. */
static struct worker *sender_worker(struct supervisor *sup, pid_t pid)
{
	struct worker *w = lv_pidmap_get(&sup->pids, pid);
	pid_t sid;

	if (!w && (sid = getsid(pid)) > 0)
		w = lv_pidmap_get(&sup->pids, sid);
	return w && w->pool->cfg.kind == LV_KIND_EXEC && w->pool->cfg.ready_notify ? w : NULL;
}

struct worker *notify_deliver(struct supervisor *sup, pid_t sender, const char *data, size_t len)
{
	struct lv_notify_msg msg;
	struct worker *w;

	if (len == 0 || len > LV_NOTIFY_MAX_DATAGRAM || !(w = sender_worker(sup, sender)))
		return NULL;
	/* a worker gets a generous budget per second; past it, datagrams are dropped */
	if (lv_now_ms() - w->notify_window_ms >= 1000) {
		w->notify_window_ms = lv_now_ms();
		w->notify_count = 0;
	}
	if (++w->notify_count > LV_NOTIFY_MAX_PER_SECOND) {
		if (w->notify_count == LV_NOTIFY_MAX_PER_SECOND + 1)
			log_warn("%s: over %d notify datagrams/s: dropping the rest of this second",
			         w->name, LV_NOTIFY_MAX_PER_SECOND);
		return NULL;
	}
	lv_notify_parse(data, len, &msg);
	if (msg.status) {
		free(w->notify_status);
		w->notify_status = strndup(msg.status, msg.status_len);
	}
	if (msg.watchdog)
		worker_heartbeat(&w->loops[0]);
	if (msg.stopping)
		w->notify_stopping = true;
	/* last, so that a STATUS= next to it is already there when waiters look */
	if (msg.ready)
		worker_ready(w);
	return w;
}

static void on_datagram(evutil_socket_t fd, short what, void *arg)
{
	struct notify *n = arg;

	(void)what;
	for (int budget = 64; budget > 0; budget--) {
		char data[LV_NOTIFY_MAX_DATAGRAM + 1];
		/* room for the credentials and a few fds (sd_notify_barrier passes one) */
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(16 * sizeof(int))];
		} ctl;
		struct iovec iov = { data, sizeof data };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl,
		                      .msg_controllen = sizeof ctl };
		struct ucred *cred = NULL;
		ssize_t len = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);

		if (len < 0)
			return; /* EAGAIN: drained */
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
				int *fds = (int *)CMSG_DATA(c);
				for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
					close(fds[i]); /* FDSTORE is not supported: never keep passed fds */
			} else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
				cred = (struct ucred *)CMSG_DATA(c);
			}
		}
		if (!cred || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
		    !notify_deliver(n->sup, cred->pid, data, (size_t)len))
			log_debug("notify: dropped a datagram of %zd bytes from pid %d", len,
			          cred ? (int)cred->pid : -1);
	}
}

struct notify *notify_open(struct supervisor *sup, char *err, size_t errlen)
{
	struct notify *n = calloc(1, sizeof *n);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	unsigned char rnd[6];
	int one = 1;
	socklen_t len;

	if (!n) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
		memset(rnd, 0, sizeof rnd);
	snprintf(n->address, sizeof n->address, "@loopvisor/%d/%02x%02x%02x%02x%02x%02x/notify",
	         (int)getpid(), rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
	/* abstract namespace: leading NUL instead of '@', no file to clean up */
	memcpy(sun.sun_path + 1, n->address + 1, strlen(n->address) - 1);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(n->address));
	n->sup = sup;
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (n->fd < 0 || bind(n->fd, (struct sockaddr *)&sun, len) < 0 ||
	    setsockopt(n->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0 ||
	    !(n->ev = event_new(sup->base, n->fd, EV_READ | EV_PERSIST, on_datagram, n)) ||
	    event_add(n->ev, NULL) < 0) {
		snprintf(err, errlen, "notify socket: %s", strerror(errno));
		notify_close(n);
		return NULL;
	}
	return n;
}

void notify_close(struct notify *n)
{
	if (!n)
		return;
	if (n->ev)
		event_free(n->ev);
	if (n->fd >= 0)
		close(n->fd);
	free(n);
}
