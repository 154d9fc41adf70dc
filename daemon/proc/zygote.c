/* zygote: the daemon's side of its fork servers (see zygote.h): starting them, handing
 * each spawn to one with room, passing on signals for their workers, and dropping one that
 * fails or stops answering. What they answer is zygote_reports.c's. */
#include "daemon/proc/zygote.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "daemon/lib/log.h"
#include "daemon/lib/clock.h"
#include "daemon/proc/procs.h"
#include "daemon/proc/zygote_int.h"
#include "daemon/proc/zygote_wire.h"

/* The daemon keeps one zygote per ZYGOTE_WORKERS workers at most. A zygote reaps its
 * workers with waitid(P_ALL), which the kernel answers by walking all its children, and
 * forks from an anon_vma that all of them share: bounding its children bounds the cost of
 * each exit and each fork, whatever the number of workers. */
#define ZYGOTE_WORKERS 1000

static void outmsg_free(struct outmsg *m);
static void on_writable(evutil_socket_t fd, short what, void *arg);

/* Forks and execs one more zygote; NULL with errno if it could not. */
static struct zygote *zygote_new(struct zygote_set *set)
{
	struct zygote *z = calloc(1, sizeof *z), **v;
	int sv[2], exe;
	sigset_t all, old;
	pid_t pid, daemon = getpid();

	if (!z || !(v = realloc(set->v, (set->n + 1) * sizeof *v))) {
		free(z);
		errno = ENOMEM;
		return NULL;
	}
	set->v = v;
	z->serial = ++set->last_serial;
	/* Opened, not exec'd by name: valgrind hands its client's binary to an open of
	 * /proc/self/exe, but an exec of that path would start valgrind's own tool. */
	if ((exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC)) < 0) {
		free(z);
		return NULL;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		close(exe);
		free(z);
		return NULL;
	}
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old); /* the zygote keeps them blocked: workers expect it */
	pid = fork();
	if (pid == 0) {
		/* A fresh image, not a fork of the daemon: pages the workers share with their
		 * parent are then the zygote's few, not the daemon's, whose rmap the kernel would
		 * otherwise walk across all 10000 workers (on fork, exit and page scans). */
		char parent[24];
		char *const argv[] = { "loopvisord", LV_ZYGOTE_ARG, parent, NULL };
		/* first out of the way, so that neither lands on the other's final number */
		int sock = fcntl(sv[1], F_DUPFD, ZYGOTE_FD + 2), bin = fcntl(exe, F_DUPFD, ZYGOTE_FD + 2);

		snprintf(parent, sizeof parent, "%d", (int)daemon);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != daemon || sock < 0 ||
		    bin < 0 || dup3(sock, ZYGOTE_FD, 0) < 0 || dup3(bin, ZYGOTE_FD + 1, O_CLOEXEC) < 0)
			_exit(1);
		close_range(ZYGOTE_FD + 2, ~0U, 0);
		syscall(SYS_execveat, ZYGOTE_FD + 1, "", argv, environ, AT_EMPTY_PATH);
		_exit(127);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(exe);
	close(sv[1]);
	z->set = set;
	z->fd = sv[0];
	z->pid = pid;
	STAILQ_INIT(&z->outbox);
	if (pid < 0 ||
	    !(z->ev = event_new(set->ps->base, sv[0], EV_READ | EV_PERSIST, zygote_on_readable, z)) ||
	    !(z->writable = event_new(set->ps->base, sv[0], EV_WRITE | EV_PERSIST, on_writable, z)) ||
	    event_add(z->ev, NULL) < 0) {
		int err = errno;

		if (pid > 0)
			kill(pid, SIGKILL); /* reaped with the other children */
		if (z->ev)
			event_free(z->ev);
		if (z->writable)
			event_free(z->writable);
		close(sv[0]);
		free(z);
		errno = err;
		return NULL;
	}
	set->v[set->n++] = z;
	return z;
}

/* Forgets z, which has died or is being ended. */
static void zygote_remove(struct zygote *z)
{
	struct zygote_set *set = z->set;
	struct outmsg *m;
	struct process *p;

	while (zygote_ask_pop(z, &p)) /* never answered: never forked, or died with it */
		if (p)
			zygote_queue_report(set, (struct report){ .kind = REPORT_SPAWN_FAILED, .p = p,
			                                          .status = EPIPE });
	free(z->asked);
	while ((m = STAILQ_FIRST(&z->outbox))) {
		STAILQ_REMOVE_HEAD(&z->outbox, link);
		outmsg_free(m);
	}
	event_free(z->writable);
	for (size_t i = 0; i < set->n; i++)
		if (set->v[i] == z) {
			set->v[i] = set->v[--set->n];
			break;
		}
	event_free(z->ev);
	close(z->fd);
	free(z);
}

int zygote_start(struct procs *ps)
{
	struct zygote_set *set;
	const char *per = getenv("LOOPVISOR_ZYGOTE_WORKERS");

	ps->zygotes = NULL;
	if (getenv("LOOPVISOR_NO_ZYGOTE")) { /* to compare, e.g. in bench/ */
		errno = ENOTSUP;
		return -1;
	}
	if (!(set = calloc(1, sizeof *set)))
		return -1;
	set->ps = ps;
	set->per_zygote = per && atoi(per) > 0 ? (unsigned)atoi(per) : ZYGOTE_WORKERS;
	if (!(set->exits = event_new(ps->base, -1, 0, zygote_on_reports, set)) || !zygote_new(set)) {
		int err = set->exits ? errno : ENOMEM;

		if (set->exits)
			event_free(set->exits);
		free(set->v);
		free(set);
		errno = err;
		return -1;
	}
	ps->zygotes = set;
	return 0;
}

/* After a zygote failed, or could not be started, the daemon forks what the others cannot
 * take for a while: 1 s, doubling up to 5 min while failures follow each other within 10
 * min. A zygote that dies of some request must not take 1,000 workers down with it over and
 * over; one killed by the OOM killer is replaced soon. */
#define ZYGOTE_BACKOFF_MIN_MS 1000
#define ZYGOTE_BACKOFF_MAX_MS 300000
#define ZYGOTE_BACKOFF_RESET_MS 600000

static void zygote_backoff(struct zygote_set *set, int pid, const char *why)
{
	uint64_t now = lv_now_ms();
	char who[32] = "a new zygote";

	if (pid > 0)
		snprintf(who, sizeof who, "zygote %d", pid);
	if (!set->backoff_ms || now - set->failed_ms > ZYGOTE_BACKOFF_RESET_MS)
		set->backoff_ms = ZYGOTE_BACKOFF_MIN_MS;
	set->failed_ms = now;
	set->retry_ms = now + set->backoff_ms;
	log_warn("%s: %s; no new zygote for %u ms: until then the daemon forks the workers the "
	         "others cannot take", who, why, set->backoff_ms);
	set->backoff_ms = set->backoff_ms * 2 > ZYGOTE_BACKOFF_MAX_MS ? ZYGOTE_BACKOFF_MAX_MS
	                                                              : set->backoff_ms * 2;
}

/* A zygote that failed is killed: its workers die with it and come back to the daemon, a
 * subreaper, which restarts them. It stays known, forking nothing, until it is reaped
 * (zygote_lost): until then, exits of its workers may still come on its socket. */
static void zygote_fail(struct zygote *z, const char *why)
{
	if (z->failed)
		return;
	z->failed = true;
	zygote_backoff(z->set, (int)z->pid, why);
	kill(z->pid, SIGKILL); /* not reaped yet: the pid is still the zygote's */
}

/* The zygote a new worker goes to: the first with room, or a new one. */
static struct zygote *zygote_with_room(struct zygote_set *set)
{
	struct zygote *z;

	for (size_t i = 0; i < set->n; i++)
		if (!set->v[i]->failed && set->v[i]->live + set->v[i]->asked_n < set->per_zygote)
			return set->v[i];
	if (lv_now_ms() < set->retry_ms)
		return NULL;
	if (!(z = zygote_new(set)))
		zygote_backoff(set, 0, strerror(errno));
	return z;
}

/* One request as one datagram, its descriptors by SCM_RIGHTS: 0 or -errno (-EAGAIN: the
 * socket is full). */
static int send_now(struct zygote *z, const char *text, size_t len, const int *fds, int n_fds)
{
	union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int) * ZYGOTE_MAX_FDS)]; } ctl;
	struct iovec iov = { (void *)text, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (n_fds > 0) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof ctl);
		msg.msg_control = &ctl;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n_fds);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n_fds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)n_fds);
	}
	do
		n = sendmsg(z->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		return 0;
	return errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

static void outmsg_free(struct outmsg *m)
{
	for (int i = 0; i < m->n_fds; i++)
		close(m->fds[i]);
	free(m);
}

/* Keeps a request (with copies of its descriptors) to send once the socket has room. */
static int outbox_put(struct zygote *z, const char *text, size_t len, const int *fds, int n_fds)
{
	struct outmsg *m = malloc(sizeof *m + len);

	if (!m)
		return -ENOMEM;
	m->len = len;
	m->n_fds = 0;
	memcpy(m->text, text, len);
	for (int i = 0; i < n_fds; i++) {
		if ((m->fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3)) < 0) {
			outmsg_free(m);
			return -ENOMEM;
		}
		m->n_fds++;
	}
	STAILQ_INSERT_TAIL(&z->outbox, m, link);
	event_add(z->writable, NULL);
	return 0;
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
	struct zygote *z = arg;
	struct outmsg *m;
	int rc;

	(void)fd;
	(void)what;
	while ((m = STAILQ_FIRST(&z->outbox))) {
		if ((rc = send_now(z, m->text, m->len, m->fds, m->n_fds)) == -EAGAIN)
			return;
		STAILQ_REMOVE_HEAD(&z->outbox, link);
		outmsg_free(m);
		if (rc < 0) {
			zygote_fail(z, strerror(-rc));
			return;
		}
	}
	event_del(z->writable);
}

/* Sends a request now, or after those that wait for room: the zygote sees them in order
 * and the loop never waits for it. 0 or -errno. */
static int send_request(struct zygote *z, const char *text, size_t len, const int *fds,
                        int n_fds)
{
	int rc;

	if (STAILQ_EMPTY(&z->outbox) && (rc = send_now(z, text, len, fds, n_fds)) != -EAGAIN)
		return rc;
	return outbox_put(z, text, len, fds, n_fds);
}

/* Asks z to fork sp as p: 0 once asked (the answer comes on z's socket), or -errno. */
static int spawn_on(struct zygote *z, const struct lv_spawn *sp, struct process *p)
{
	int fds[ZYGOTE_MAX_FDS], n_fds = zygote_wire_fds(sp, fds), rc;
	json_t *doc = zygote_wire_request(sp);
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

	json_decref(doc);
	if (!text || zygote_ask_room(z) < 0) {
		free(text);
		return -ENOMEM;
	}
	rc = send_request(z, text, strlen(text), fds, n_fds);
	free(text);
	if (rc < 0)
		return rc;
	zygote_ask_push(z, p);
	return 0;
}

int zygote_spawn(struct procs *ps, const struct lv_spawn *sp, struct process *p)
{
	struct zygote_set *set = ps->zygotes;
	struct zygote *z = set ? zygote_with_room(set) : NULL;
	int rc;

	if (!z || zygote_reserve(set) < 0)
		return -EPIPE;
	if ((rc = spawn_on(z, sp, p)) == 0) {
		p->zygote = z->serial;
		return 0;
	}
	/* too big for one message, or no memory: this worker is forked by the daemon and z is
	 * fine; any other failure is z's */
	if (rc != -EMSGSIZE && rc != -ENOBUFS && rc != -ENOMEM)
		zygote_fail(z, strerror(-rc));
	return -EPIPE;
}

int zygote_signal(struct procs *ps, unsigned zygote, pid_t pid, int sig, bool group)
{
	struct zygote *z = zygote_by_serial(ps->zygotes, zygote);
	struct zygote_signal rq = { ZYGOTE_SIGNAL, pid, sig, group };
	int rc = -EAGAIN;

	if (!z)
		return 1;
	if (z->failed) /* killed: its workers go with it; it may still take this on its way */
		return zygote_send_signal(z, pid, sig, group) < 0 ? -ESRCH : 0;
	if (!STAILQ_EMPTY(&z->outbox) ||
	    (rc = send_now(z, (const char *)&rq, sizeof rq, NULL, 0)) == -EAGAIN) {
		/* a kill that cannot go now is a timeout's: a zygote that does not read its
		 * requests is given up, and its workers die with it; anything milder waits */
		if (sig == SIGKILL) {
			zygote_fail(z, "it does not read its requests");
			return 0;
		}
		rc = outbox_put(z, (const char *)&rq, sizeof rq, NULL, 0);
	}
	return rc < 0 ? -ESRCH : 0;
}

bool zygote_lost(struct procs *ps, pid_t pid)
{
	struct zygote_set *set = ps->zygotes;

	for (size_t i = 0; set && i < set->n; i++) {
		struct zygote *z = set->v[i];

		if (z->pid != pid)
			continue;
		if (!z->failed)
			zygote_backoff(set, (int)pid, "it died");
		/* Every exit it reported is on its socket, reported before it was reaped; every
		 * worker it did not report is now the daemon's child: the kernel moved them here
		 * before the zygote became a zombie. Its workers are the daemon's from now on. */
		zygote_drain(z);
		zygote_remove(z);
		return true;
	}
	return false;
}

void zygote_stop(struct procs *ps)
{
	struct zygote_set *set = ps->zygotes;

	if (!set)
		return;
	while (set->n > 0) {
		pid_t pid = set->v[0]->pid;

		zygote_remove(set->v[0]); /* it reads the end of its socket and exits */
		while (pid > 0 && waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	free(set->v);
	free(set->pending);
	event_free(set->exits);
	free(set);
	ps->zygotes = NULL;
}

void zygote_unresponsive(struct procs *ps, unsigned zygote, const char *waiting)
{
	struct zygote *z = zygote_by_serial(ps->zygotes, zygote);
	char why[128];

	if (!z || z->failed)
		return;
	snprintf(why, sizeof why, "no answer to the spawn of %s in time", waiting);
	zygote_fail(z, why);
}
