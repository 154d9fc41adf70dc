/* zygote: the daemon's side of its fork servers (see zygote.h): starting them, handing
 * each spawn to one with room, taking their answers and the exits they report, passing
 * on signals for their workers, and dropping one that fails. */
#include "daemon/proc/zygote.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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
#include "daemon/proc/zygote_wire.h"

#define ZYGOTE_REPLY_MS 10000

/* The daemon keeps one zygote per ZYGOTE_WORKERS workers at most. A zygote reaps its
 * workers with waitid(P_ALL), which the kernel answers by walking all its children, and
 * forks from an anon_vma that all of them share: bounding its children bounds the cost of
 * each exit and each fork, whatever the number of workers. */
#define ZYGOTE_WORKERS 1000

struct zygote {
	struct zygote_set *set;
	int fd;
	pid_t pid;
	unsigned serial; /* how its workers name it (struct process.zygote); never 0 */
	bool failed;     /* killed: it forks no more, and is forgotten once reaped */
	struct event *ev;
	unsigned live; /* workers it forked that have not exited */
};

/* An exit a zygote reported, for the loop to hand to its process's owner. */
struct pending_exit {
	struct process *p;
	int status;
	bool flushed; /* what it said before it exited has been read (last_words) */
};

struct zygote_set {
	struct procs *ps;
	struct zygote **v;
	size_t n;
	unsigned per_zygote;
	uint64_t retry_ms;  /* after a failure, no new zygote before this (lv_now_ms) */
	unsigned backoff_ms; /* the next failure's pause */
	uint64_t failed_ms; /* the last failure */
	unsigned last_serial;
	/* exits read while the daemon was busy elsewhere (a spawn waiting for its answer), for
	 * the loop; room for one per live worker is reserved before each spawn */
	struct pending_exit *pending;
	size_t n_pending, cap_pending;
	struct event *exits; /* made active to handle them */
};

/* A notify worker's last datagrams (STATUS=, STOPPING=1) were queued before it exited, so
 * before its zygote reported it: they are read while the worker is still pending here, where
 * zygote_exiting finds it by its pid, and count before its exit does. */
static void read_last_words(struct zygote_set *set)
{
	for (size_t i = 0; i < set->n_pending; i++) /* reading may queue more exits: n grows */
		if (!set->pending[i].flushed) {
			set->pending[i].flushed = true;
			set->ps->hooks.last_words(set->ps->hooks.ctx, set->pending[i].p);
		}
}

static void handle_exits(struct zygote_set *set)
{
	/* a handler may spawn, and a spawn may queue more: take the batch first */
	while (set->n_pending > 0) {
		struct pending_exit e;

		read_last_words(set);
		e = set->pending[--set->n_pending];
		procs_exited(set->ps, e.p, e.status);
	}
}

static void on_exits(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	handle_exits(arg);
}

static struct zygote *zygote_by_serial(const struct zygote_set *set, unsigned serial)
{
	for (size_t i = 0; set && serial && i < set->n; i++)
		if (set->v[i]->serial == serial)
			return set->v[i];
	return NULL;
}

/* Room for an exit of every worker a zygote forked, plus one: reading an exit then never
 * needs memory, and is never lost. */
static int reserve_exits(struct zygote_set *set)
{
	size_t need = set->n_pending + 1, cap;
	struct pending_exit *v;

	for (size_t i = 0; i < set->n; i++)
		need += set->v[i]->live;
	if (need <= set->cap_pending)
		return 0;
	cap = set->cap_pending ? set->cap_pending : 64;
	while (cap < need)
		cap *= 2;
	if (!(v = realloc(set->pending, cap * sizeof *v)))
		return -1;
	set->pending = v;
	set->cap_pending = cap;
	return 0;
}

/* A zygote says a worker exited (before it reaps it): from now on its process has no pid
 * to signal, and no other process that gets the pid can be taken for it. The owner
 * learns in handle_exits. */
static void take_exit(struct zygote *z, pid_t pid, int status)
{
	struct zygote_set *set = z->set;
	struct process *p = lv_pidmap_get(&set->ps->pids, pid);

	if (z->live > 0)
		z->live--;
	if (!p || p->zygote != z->serial || set->n_pending == set->cap_pending) {
		log_err("zygote %d: the exit of pid %d matches none of its workers", (int)z->pid,
		        (int)pid);
		return;
	}
	lv_pidmap_del(&set->ps->pids, pid);
	p->reaped = true;
	set->pending[set->n_pending++] = (struct pending_exit){ p, status, false };
}

/* Reads what is there; true if a message came (an exit is queued, an answer returned). */
static bool read_msg(struct zygote *z, struct zygote_msg *answer, bool *answered)
{
	struct zygote_msg m;
	ssize_t n = recv(z->fd, &m, sizeof m, MSG_DONTWAIT);

	if (n == 0) /* it died: the reaper will say so (zygote_lost); until then, silence */
		event_del(z->ev);
	if (n != sizeof m)
		return false;
	if (m.kind == ZYGOTE_SPAWNED) {
		if (answered) {
			*answer = m;
			*answered = true;
		} else {
			log_warn("zygote %d: an answer nobody asked for (pid %d)", (int)z->pid, (int)m.pid);
		}
		return true;
	}
	if (m.kind == ZYGOTE_EXITED)
		take_exit(z, m.pid, m.status);
	return true;
}

/* Takes every message z has sent so far; their exits wait for the loop. */
static void drain(struct zygote *z)
{
	while (read_msg(z, NULL, NULL))
		;
	if (z->set->n_pending > 0)
		event_active(z->set->exits, EV_READ, 0);
}

static void on_zygote(evutil_socket_t fd, short what, void *arg)
{
	struct zygote *z = arg;
	struct zygote_set *set = z->set;

	(void)fd;
	(void)what;
	while (read_msg(z, NULL, NULL))
		;
	handle_exits(set); /* z may be gone after this */
}

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
	if (pid < 0 || !(z->ev = event_new(set->ps->base, sv[0], EV_READ | EV_PERSIST, on_zygote, z)) ||
	    event_add(z->ev, NULL) < 0) {
		int err = errno;

		if (pid > 0)
			kill(pid, SIGKILL); /* reaped with the other children */
		if (z->ev)
			event_free(z->ev);
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
	if (!(set->exits = event_new(ps->base, -1, 0, on_exits, set)) || !zygote_new(set)) {
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
		if (!set->v[i]->failed && set->v[i]->live < set->per_zygote)
			return set->v[i];
	if (lv_now_ms() < set->retry_ms)
		return NULL;
	if (!(z = zygote_new(set)))
		zygote_backoff(set, 0, strerror(errno));
	return z;
}

/* Sends one request. While z's socket is full, reads what z sends (it may itself wait for
 * room to report exits), for ZYGOTE_REPLY_MS at most: 0 or -errno. */
static int send_request(struct zygote *z, const struct msghdr *msg)
{
	uint64_t deadline = lv_now_ms() + ZYGOTE_REPLY_MS, now;

	for (;;) {
		struct pollfd pfd = { .fd = z->fd, .events = POLLIN | POLLOUT };

		if (sendmsg(z->fd, msg, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		if ((now = lv_now_ms()) >= deadline)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)(deadline - now)) > 0 && (pfd.revents & POLLIN))
			while (read_msg(z, NULL, NULL))
				;
	}
}

/* Has z fork the worker: its pid, or -1 with errno (EPIPE: z failed). */
static pid_t spawn_on(struct zygote *z, const struct lv_spawn *sp)
{
	int fds[ZYGOTE_MAX_FDS], n_fds = zygote_wire_fds(sp, fds), rc;
	union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int) * ZYGOTE_MAX_FDS)]; } ctl;
	json_t *doc = zygote_wire_request(sp);
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	struct iovec iov;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct zygote_msg answer = { 0 };
	bool answered = false;
	struct cmsghdr *c;
	int n;

	json_decref(doc);
	if (!text) {
		errno = EPIPE;
		return -1;
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
	rc = send_request(z, &msg);
	free(text);
	if (rc < 0) {
		/* too big for one message: this worker is forked by the daemon, the zygote is fine */
		if (rc != -EMSGSIZE && rc != -ENOBUFS && rc != -ENOMEM)
			zygote_fail(z, strerror(-rc));
		errno = EPIPE;
		return -1;
	}
	/* the answer follows one fork; exits that come first wait for the loop */
	while (!answered) {
		struct pollfd pfd = { .fd = z->fd, .events = POLLIN };

		if ((n = poll(&pfd, 1, ZYGOTE_REPLY_MS)) < 0 && errno == EINTR)
			continue;
		if (n != 1 || !read_msg(z, &answer, &answered)) {
			zygote_fail(z, n == 1 ? "it closed the connection" : "no answer");
			errno = EPIPE;
			return -1;
		}
	}
	if (answer.pid < 0) {
		errno = -answer.pid;
		return -1;
	}
	return answer.pid;
}

pid_t zygote_spawn(struct procs *ps, const struct lv_spawn *sp, unsigned *zygote)
{
	struct zygote_set *set = ps->zygotes;
	struct zygote *z = set ? zygote_with_room(set) : NULL;
	pid_t pid;
	int err;

	if (!z || reserve_exits(set) < 0) {
		errno = EPIPE;
		return -1;
	}
	pid = spawn_on(z, sp); /* z is still there after a failure: it goes once reaped */
	err = errno;
	if (set->n_pending > 0)
		event_active(set->exits, EV_READ, 0);
	if (pid > 0) {
		z->live++;
		*zygote = z->serial;
	}
	errno = err;
	return pid;
}

int zygote_signal(struct procs *ps, unsigned zygote, pid_t pid, int sig, bool group)
{
	struct zygote *z = zygote_by_serial(ps->zygotes, zygote);
	struct zygote_signal rq = { ZYGOTE_SIGNAL, pid, sig, group };
	struct iovec iov = { &rq, sizeof rq };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	int rc;

	if (!z)
		return 1;
	if (z->failed) /* killed: its workers go with it; it may still take this on its way */
		return sendmsg(z->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 ? -ESRCH : 0;
	if ((rc = send_request(z, &msg)) == -ETIMEDOUT)
		zygote_fail(z, "its requests do not get through");
	if (ps->zygotes->n_pending > 0)
		event_active(ps->zygotes->exits, EV_READ, 0);
	return rc < 0 ? -ESRCH : 0;
}

void zygote_settle(struct procs *ps, unsigned zygote)
{
	struct zygote *z = zygote_by_serial(ps->zygotes, zygote);

	if (z)
		drain(z);
}

struct process *zygote_exiting(struct procs *ps, pid_t pid)
{
	struct zygote_set *set = ps->zygotes;

	for (size_t i = 0; set && i < set->n_pending; i++)
		if (set->pending[i].p->pid == pid)
			return set->pending[i].p;
	return NULL;
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
		drain(z);
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
