/* zygote_send: what the daemon asks of its zygotes (see zygote.h): the zygote each spawn
 * goes to, the spawn request itself, and signals for their workers. Nothing here waits: a
 * full socket keeps the spawn in the queue (spawn.c) or the signal in the zygote's outbox
 * until the socket has room, and a zygote that owes an answer for too long is killed. */
#include "daemon/proc/zygote.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "daemon/lib/clock.h"
#include "daemon/lib/log.h"
#include "daemon/proc/zygote_int.h"

/* Does z owe something (an answer, or signals to send)? Then it must show life within
 * reply_ms of now: armed again whenever it does. */
void zygote_quiet_watch(struct zygote *z)
{
	unsigned ms = z->set->reply_ms;
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	if (z->failed || (z->n_waiting == 0 && z->n_outbox == 0))
		evtimer_del(z->quiet);
	else
		evtimer_add(z->quiet, &tv);
}

void on_zygote_quiet(evutil_socket_t fd, short what, void *arg)
{
	struct zygote *z = arg;
	char why[64];

	(void)fd;
	(void)what;
	snprintf(why, sizeof why, "no answer for %u ms", z->set->reply_ms);
	zygote_fail(z, why); /* its requests go elsewhere once it is reaped (zygote_lost) */
}

static int send_now(struct zygote *z, const struct msghdr *msg)
{
	while (sendmsg(z->fd, msg, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			z->blocked = true;
			event_add(z->wev, NULL);
			return -EAGAIN;
		}
		return -errno;
	}
	return 0;
}

static int send_signal(struct zygote *z, const struct zygote_signal *rq)
{
	struct iovec iov = { (void *)rq, sizeof *rq };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	return send_now(z, &msg);
}

/* Sends the signals that waited for room, in order; 0, -EAGAIN, or -errno (z failed). */
static int flush_outbox(struct zygote *z)
{
	size_t sent = 0;
	int rc = 0;

	while (sent < z->n_outbox && (rc = send_signal(z, &z->outbox[sent])) == 0)
		sent++;
	memmove(z->outbox, z->outbox + sent, (z->n_outbox - sent) * sizeof *z->outbox);
	z->n_outbox -= sent;
	if (sent > 0)
		zygote_quiet_watch(z);
	return rc;
}

void on_zygote_writable(evutil_socket_t fd, short what, void *arg)
{
	struct zygote *z = arg;
	int rc;

	(void)fd;
	(void)what;
	z->blocked = false;
	if ((rc = flush_outbox(z)) < 0 && rc != -EAGAIN)
		zygote_fail(z, strerror(-rc));
	if (!z->blocked) /* spawns may have waited for this room */
		event_active(z->set->ps->pump, EV_READ, 0);
}

static int queue_signal(struct zygote *z, const struct zygote_signal *rq)
{
	if (z->n_outbox == z->cap_outbox) {
		size_t cap = z->cap_outbox ? z->cap_outbox * 2 : 16;
		struct zygote_signal *v = realloc(z->outbox, cap * sizeof *v);

		if (!v)
			return -ENOMEM;
		z->outbox = v;
		z->cap_outbox = cap;
	}
	z->outbox[z->n_outbox++] = *rq;
	zygote_quiet_watch(z);
	return 0;
}

int zygote_signal(struct procs *ps, unsigned zygote, pid_t pid, int sig, bool group)
{
	struct zygote_set *set = ps->zygotes;
	struct zygote_signal rq = { ZYGOTE_SIGNAL, pid, sig, group };
	struct zygote *z = NULL;
	int rc;

	for (size_t i = 0; set && zygote && i < set->n && !z; i++)
		if (set->v[i]->serial == zygote)
			z = set->v[i];
	if (!z)
		return 1;
	if (z->failed) /* killed: its workers go with it; it may still take this on its way */
		return send_signal(z, &rq) < 0 ? -ESRCH : 0;
	if (z->n_outbox == 0 && (rc = send_signal(z, &rq)) != -EAGAIN)
		return rc < 0 ? -ESRCH : 0;
	return queue_signal(z, &rq) < 0 ? -ESRCH : 0; /* sent, in order, once it has room */
}

struct zygote *zygote_pick(struct procs *ps, bool *later)
{
	struct zygote_set *set = ps->zygotes;
	struct zygote *z;

	*later = false;
	if (!set)
		return NULL;
	for (size_t i = 0; i < set->n; i++) {
		z = set->v[i];
		if (z->failed || z->live + z->n_waiting >= set->per_zygote)
			continue;
		if (!z->blocked && z->n_waiting < ZYGOTE_WINDOW)
			return z;
		*later = true; /* room, but its window or its socket is full now */
	}
	if (*later || lv_now_ms() < set->retry_ms)
		return NULL;
	if (!(z = zygote_new(set)))
		zygote_backoff(set, 0, strerror(errno));
	return z;
}

int zygote_send_spawn(struct zygote *z, struct process *p, const struct lv_spawn *sp)
{
	int fds[ZYGOTE_MAX_FDS], n_fds = zygote_wire_fds(sp, fds), rc;
	union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int) * ZYGOTE_MAX_FDS)]; } ctl;
	json_t *doc = zygote_wire_request(sp);
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	struct iovec iov;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	json_decref(doc);
	if (!text || zygote_reserve_reports(z->set) < 0) {
		free(text);
		return -ENOMEM; /* the daemon forks this one */
	}
	iov = (struct iovec){ text, strlen(text) };
	memset(&ctl, 0, sizeof ctl);
	msg.msg_control = &ctl;
	msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n_fds);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n_fds);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)n_fds);
	rc = send_now(z, &msg);
	free(text);
	if (rc == 0) {
		z->waiting[(z->first + z->n_waiting++) % ZYGOTE_WINDOW] = p;
		if (z->n_waiting == 1)
			zygote_quiet_watch(z);
	} else if (rc != -EAGAIN && rc != -EMSGSIZE && rc != -ENOBUFS && rc != -ENOMEM) {
		zygote_fail(z, strerror(-rc));
	}
	return rc;
}

void zygote_requeue_waiting(struct zygote *z)
{
	/* from the newest, each to the head of the queue: they keep their order there */
	while (z->n_waiting > 0) {
		struct process *p = z->waiting[(z->first + --z->n_waiting) % ZYGOTE_WINDOW];

		if (p)
			z->set->ps->spawn_requeue(z->set->ps, p);
	}
}

void zygote_free_requests(struct zygote *z)
{
	free(z->outbox);
	z->outbox = NULL;
	z->n_outbox = z->cap_outbox = 0;
}
