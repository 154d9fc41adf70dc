/* notify_socket: receives READY=1, STATUS=, WATCHDOG=1 and STOPPING=1 from exec workers, on one
 * datagram socket per worker uid (notify_dir.c) that only that uid and root can reach. A
 * datagram counts only if the kernel says its sender is in the session of a worker that was
 * given that socket; what each socket is read per second is bounded. */
#include "daemon/proc/notify_socket.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/lib/clock.h"
#include "daemon/lib/log.h"
#include "daemon/lib/ratewin.h"
#include "daemon/proc/notify_dir.h"
#include "daemon/proc/zygote.h"
#include "ipc/notify_msg.h"

/* Datagrams read per wakeup: the loop serves others between batches. */
#define NOTIFY_READS_PER_WAKEUP 64

struct notify_sock {
	struct notify *n;
	uid_t uid;
	int fd;
	struct event *ev;       /* readable */
	struct event *resume;   /* reads again after a second over budget */
	struct event *hold;     /* looks again at a held datagram (held) */
	/* a datagram whose sender no process holds yet while a zygote's answers are owed: the
	 * answer that names it may still be on its way (a worker can speak before its zygote's
	 * answer is read). Nothing more is read until it is known, or no answer is owed. */
	char *held;
	size_t held_len;
	pid_t held_pid;
	struct lv_ratewin budget; /* read this second */
	unsigned dropped;       /* datagrams dropped this second */
	char path[LV_NOTIFY_PATH_MAX];
};

struct notify {
	struct event_base *base;
	struct procs *ps;
	struct notify_hooks hooks;
	struct notify_dir dir;
	struct notify_sock **socks;
	size_t n_socks;
	struct lv_ratewin budget; /* read this second from all sockets together */
	bool flushing;          /* in notify_flush: it does not call itself again */
};

/* The process whose pid (or session id) this is: a live one, else one whose exit its
 * zygote reported and the daemon has not acted on yet (notify_flush reads its last words
 * then). The datagram was queued before that exit was read, and the zygote frees the pid
 * only after it reports: security.md says what window that leaves. */
static struct process *process_of(struct procs *ps, pid_t pid)
{
	struct process *p = procs_by_pid(ps, pid);

	return p ? p : zygote_exiting(ps, pid);
}

/* The process a sender speaks for: the worker itself, or a process in its session (a shell
 * script's systemd-notify is a child of the worker). A worker leads its own session and no
 * process can join a session it was not born in, so no other worker's child can pose as
 * one of its own. getsid() is one system call, and a sender that is in no worker's
 * session costs a hash lookup more. Only a process given this uid's socket counts. */
static struct process *sender_process(struct procs *ps, uid_t uid, pid_t pid)
{
	struct process *p = pid > 0 ? process_of(ps, pid) : NULL;
	pid_t sid;

	if (pid <= 0)
		return NULL; /* no credentials (another pid namespace) */
	if (!p && (sid = getsid(pid)) > 0)
		p = process_of(ps, sid);
	if (!p || !p->notify || !p->notify->enabled || p->notify->uid != uid)
		return NULL;
	return p;
}

void notify_peer_reset(struct notify_peer *np)
{
	free(np->status);
	np->status = NULL;
	np->stopping = false;
}

static struct process *deliver(struct notify *n, uid_t uid, pid_t sender, const char *data,
                               size_t len)
{
	struct lv_notify_msg msg;
	struct notify_peer *np;
	struct process *p;

	if (len == 0 || len > LV_NOTIFY_MAX_DATAGRAM || !(p = sender_process(n->ps, uid, sender)))
		return NULL;
	np = p->notify;
	/* a worker gets a generous budget per second; past it, datagrams are dropped */
	if (lv_ratewin_hit(&np->rate, lv_now_ms(), LV_NOTIFY_MAX_PER_SECOND)) {
		if (np->rate.count == LV_NOTIFY_MAX_PER_SECOND + 1)
			log_warn("%s: over %d notify datagrams/s: dropping the rest of this second",
			         p->name, LV_NOTIFY_MAX_PER_SECOND);
		return NULL;
	}
	lv_notify_parse(data, len, &msg);
	if (msg.status) {
		free(np->status);
		np->status = strndup(msg.status, msg.status_len);
	}
	if (msg.watchdog)
		n->hooks.watchdog(n->hooks.ctx, p->owner);
	if (msg.stopping)
		np->stopping = true;
	/* last, so that a STATUS= next to it is already there when waiters look */
	if (msg.ready)
		n->hooks.ready(n->hooks.ctx, p->owner);
	return p;
}

/* Closes passed fds (FDSTORE is not supported) and finds the sender's credentials. */
static struct ucred *take_control(struct msghdr *msg)
{
	struct ucred *cred = NULL;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int *fds = (int *)CMSG_DATA(c);

			for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
				close(fds[i]);
		} else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
			cred = (struct ucred *)CMSG_DATA(c);
		}
	}
	return cred;
}

/* Starts a new second when the last one is over; true if this one's budget is spent, with
 * the milliseconds left of it in left. */
static bool budget_spent(struct lv_ratewin *b, uint64_t now, unsigned max_count,
                         size_t max_bytes, uint64_t *left)
{
	lv_ratewin_roll(b, now);
	*left = lv_ratewin_left_ms(b, now);
	return b->count >= max_count || b->bytes >= max_bytes;
}

/* Applies a datagram, or counts it as dropped. */
static void apply(struct notify_sock *s, pid_t sender, const char *data, size_t len)
{
	if (deliver(s->n, s->uid, sender, data, len))
		return;
	/* the first of a second is logged; the others are counted (read_some) */
	if (s->dropped++ == 0)
		log_debug("notify socket of uid %u: dropped a datagram of %zu bytes from pid %d",
		          (unsigned)s->uid, len, (int)sender);
}

/* No process holds sender's pid (nor its session's) yet, and a zygote owes answers. */
static bool sender_may_be_unanswered(struct procs *ps, pid_t sender)
{
	pid_t sid;

	if (zygote_unanswered(ps) == 0 || sender <= 0 || process_of(ps, sender))
		return false;
	return (sid = getsid(sender)) <= 0 || !process_of(ps, sid);
}

static void look_again_soon(struct notify_sock *s)
{
	struct timeval ms = { 0, 1000 };

	evtimer_add(s->hold, &ms);
}

static void on_hold(evutil_socket_t fd, short what, void *arg)
{
	struct notify_sock *s = arg;

	(void)fd;
	(void)what;
	if (sender_may_be_unanswered(s->n->ps, s->held_pid)) {
		look_again_soon(s);
		return;
	}
	apply(s, s->held_pid, s->held, s->held_len);
	free(s->held);
	s->held = NULL;
	if (!evtimer_pending(s->resume, NULL) && event_add(s->ev, NULL) < 0)
		log_err("notify socket of uid %u: cannot watch it again", (unsigned)s->uid);
}

/* Reads one datagram and applies it (or holds it); false when no more is to be read now. */
static bool read_one(struct notify_sock *s)
{
	char data[LV_NOTIFY_MAX_DATAGRAM + 1];
	/* room for the credentials and a few fds (sd_notify_barrier passes one) */
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(16 * sizeof(int))];
	} ctl;
	struct iovec iov = { data, sizeof data };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl,
	                      .msg_controllen = sizeof ctl };
	ssize_t len = recvmsg(s->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
	struct ucred *cred;
	size_t read_size;

	if (len < 0)
		return false; /* EAGAIN: drained */
	read_size = (size_t)len < sizeof data ? (size_t)len : sizeof data;
	lv_ratewin_charge(&s->budget, read_size);
	lv_ratewin_charge(&s->n->budget, read_size);
	cred = take_control(&msg);
	if (!cred || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		apply(s, 0, data, read_size);
		return true;
	}
	if (sender_may_be_unanswered(s->n->ps, cred->pid) && (s->held = malloc(read_size))) {
		memcpy(s->held, data, read_size);
		s->held_len = read_size;
		s->held_pid = cred->pid;
		event_del(s->ev);
		look_again_soon(s);
		return false;
	}
	apply(s, cred->pid, data, (size_t)len);
	return true;
}

/* Stops reading for left ms: the kernel queue fills, and senders wait (or get EAGAIN)
 * instead of costing the loop anything. */
static void pause_reading(struct notify_sock *s, uint64_t left, const char *whose)
{
	struct timeval tv = { .tv_sec = (time_t)(left / 1000),
	                      .tv_usec = (suseconds_t)(left % 1000 * 1000) };

	log_warn("notify socket of uid %u: %s budget for this second is spent: not read for %llu "
	         "ms", (unsigned)s->uid, whose, (unsigned long long)left);
	event_del(s->ev);
	evtimer_add(s->resume, &tv);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct notify_sock *s = arg;

	(void)fd;
	(void)what;
	if (!s->held && event_add(s->ev, NULL) < 0) /* a held datagram resumes it itself */
		log_err("notify socket of uid %u: cannot watch it again", (unsigned)s->uid);
}

/* Reads up to max datagrams, within the budgets of s and of all sockets. */
static void read_some(struct notify_sock *s, unsigned max)
{
	for (unsigned i = 0; i < max; i++) {
		uint64_t now = lv_now_ms(), left;

		if (lv_ratewin_ended(&s->budget, now) && s->dropped > 0) {
			if (s->dropped > 1)
				log_debug("notify socket of uid %u: %u more datagrams dropped",
				          (unsigned)s->uid, s->dropped - 1);
			s->dropped = 0;
		}
		if (budget_spent(&s->budget, now, LV_NOTIFY_SOCKET_PER_SECOND,
		                 LV_NOTIFY_SOCKET_BYTES_PER_SECOND, &left)) {
			pause_reading(s, left, "its");
			return;
		}
		if (budget_spent(&s->n->budget, now, LV_NOTIFY_ALL_PER_SECOND,
		                 LV_NOTIFY_ALL_BYTES_PER_SECOND, &left)) {
			pause_reading(s, left, "the daemon's");
			return;
		}
		if (!read_one(s))
			return;
	}
}

static void on_datagram(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	read_some(arg, NOTIFY_READS_PER_WAKEUP);
}

void notify_flush(struct notify *n, const struct process *p)
{
	struct notify_sock *s = NULL;

	if (!n || n->flushing || !p->notify || !p->notify->enabled)
		return;
	for (size_t i = 0; i < n->n_socks && !s; i++)
		if (n->socks[i]->uid == p->notify->uid)
			s = n->socks[i];
	if (!s || evtimer_pending(s->resume, NULL) || s->held)
		return; /* over budget this second, or held: the rest waits, and may be too late */
	n->flushing = true;
	read_some(s, LV_NOTIFY_SOCKET_PER_SECOND);
	n->flushing = false;
}

static void sock_free(struct notify *n, struct notify_sock *s)
{
	if (s->ev)
		event_free(s->ev);
	if (s->resume)
		event_free(s->resume);
	if (s->hold)
		event_free(s->hold);
	free(s->held);
	if (s->fd >= 0) {
		close(s->fd);
		notify_dir_unlink(&n->dir, s->uid);
	}
	free(s);
}

/* Binds uid's socket and starts reading it; NULL with err. */
static struct notify_sock *sock_new(struct notify *n, uid_t uid, char *err, size_t errlen)
{
	struct notify_sock *s = calloc(1, sizeof *s);
	int rc;

	if (!s) {
		snprintf(err, errlen, "notify socket: out of memory");
		return NULL;
	}
	s->n = n;
	s->uid = uid;
	if ((rc = notify_dir_bind(&n->dir, uid, s->path, sizeof s->path)) < 0) {
		snprintf(err, errlen, "notify socket of uid %u in %s: %s", (unsigned)uid,
		         n->dir.path, strerror(-rc));
		free(s);
		return NULL;
	}
	s->fd = rc;
	if (!(s->ev = event_new(n->base, s->fd, EV_READ | EV_PERSIST, on_datagram, s)) ||
	    !(s->resume = evtimer_new(n->base, on_resume, s)) ||
	    !(s->hold = evtimer_new(n->base, on_hold, s)) || event_add(s->ev, NULL) < 0) {
		snprintf(err, errlen, "notify socket of uid %u: cannot watch it", (unsigned)uid);
		sock_free(n, s);
		return NULL;
	}
	return s;
}

const char *notify_socket_for(struct notify *n, uid_t uid, char *err, size_t errlen)
{
	struct notify_sock **v, *s;
	int rc;

	for (size_t i = 0; i < n->n_socks; i++)
		if (n->socks[i]->uid == uid)
			return n->socks[i]->path;
	if (n->n_socks >= LV_NOTIFY_MAX_UIDS) {
		snprintf(err, errlen, "notify socket: more than %d users run notify workers",
		         LV_NOTIFY_MAX_UIDS);
		return NULL;
	}
	if ((rc = notify_dir_open(&n->dir)) < 0) {
		snprintf(err, errlen, "notify socket folder: %s", strerror(-rc));
		return NULL;
	}
	if (!(v = realloc(n->socks, (n->n_socks + 1) * sizeof *v))) {
		snprintf(err, errlen, "notify socket: out of memory");
		return NULL;
	}
	n->socks = v;
	if (!(s = sock_new(n, uid, err, errlen)))
		return NULL;
	n->socks[n->n_socks++] = s;
	log_info("notify socket for uid %u: %s", (unsigned)uid, s->path);
	return s->path;
}

struct notify *notify_open(struct event_base *base, struct procs *ps,
                           const struct notify_hooks *hooks, char *err, size_t errlen)
{
	struct notify *n = calloc(1, sizeof *n);

	if (!n) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	n->base = base;
	n->ps = ps;
	n->hooks = *hooks;
	notify_dir_init(&n->dir);
	return n;
}

void notify_close(struct notify *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n_socks; i++)
		sock_free(n, n->socks[i]);
	free(n->socks);
	notify_dir_close(&n->dir);
	free(n);
}
