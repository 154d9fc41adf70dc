/* zygote: the daemon's side of its fork servers (see zygote.h): starting them, handing
 * each spawn to one with room, taking their answers and the exits they report, and
 * dropping one that fails. */
#include "daemon/zygote.h"

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

#include "daemon/log.h"
#include "daemon/supervisor.h"
#include "daemon/zygote_wire.h"

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
	struct event *ev;
	unsigned live; /* workers it forked that have not exited */
};

struct zygote_set {
	struct supervisor *sup;
	struct zygote **v;
	size_t n;
	unsigned per_zygote;
	uint64_t retry_ms;  /* after a failure, no new zygote before this (lv_now_ms) */
	unsigned backoff_ms; /* the next failure's pause */
	uint64_t failed_ms; /* the last failure */
	struct zygote_msg *pending; /* exits that came while a spawn waited for its answer */
	size_t n_pending, cap_pending;
};

static void handle_exits(struct zygote_set *set)
{
	/* a handler may spawn, and a spawn may queue more: take the batch first */
	while (set->n_pending > 0) {
		struct zygote_msg m = set->pending[--set->n_pending];

		supervisor_child_exited(set->sup, m.pid, m.status);
	}
}

/* Reads what is there; true if a message came (an exit is queued, an answer returned). */
static bool read_msg(struct zygote *z, struct zygote_msg *answer, bool *answered)
{
	struct zygote_set *set = z->set;
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
	if (z->live > 0)
		z->live--;
	if (set->n_pending == set->cap_pending) {
		size_t cap = set->cap_pending ? 2 * set->cap_pending : 64;
		struct zygote_msg *v = realloc(set->pending, cap * sizeof *v);

		if (!v) {
			log_err("zygote: out of memory: the exit of pid %d is handled late", (int)m.pid);
			return false; /* the subreaper path will not see it: it is not our child */
		}
		set->pending = v;
		set->cap_pending = cap;
	}
	set->pending[set->n_pending++] = m;
	return true;
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
	if (pid < 0 || !(z->ev = event_new(set->sup->base, sv[0], EV_READ | EV_PERSIST, on_zygote, z)) ||
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

int zygote_start(struct supervisor *sup)
{
	struct zygote_set *set;
	const char *per = getenv("LOOPVISOR_ZYGOTE_WORKERS");

	sup->zygotes = NULL;
	if (getenv("LOOPVISOR_NO_ZYGOTE")) { /* to compare, e.g. in bench/ */
		errno = ENOTSUP;
		return -1;
	}
	if (!(set = calloc(1, sizeof *set)))
		return -1;
	set->sup = sup;
	set->per_zygote = per && atoi(per) > 0 ? (unsigned)atoi(per) : ZYGOTE_WORKERS;
	if (!zygote_new(set)) {
		int err = errno;

		free(set);
		errno = err;
		return -1;
	}
	sup->zygotes = set;
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
 * subreaper, which restarts them. */
static void zygote_fail(struct zygote *z, const char *why, bool reaped)
{
	zygote_backoff(z->set, (int)z->pid, why);
	if (!reaped)
		kill(z->pid, SIGKILL);
	zygote_remove(z);
}

/* The zygote a new worker goes to: the first with room, or a new one. */
static struct zygote *zygote_with_room(struct zygote_set *set)
{
	struct zygote *z;

	for (size_t i = 0; i < set->n; i++)
		if (set->v[i]->live < set->per_zygote)
			return set->v[i];
	if (lv_now_ms() < set->retry_ms)
		return NULL;
	if (!(z = zygote_new(set)))
		zygote_backoff(set, 0, strerror(errno));
	return z;
}

pid_t zygote_spawn(struct supervisor *sup, const struct lv_spawn *sp)
{
	int fds[ZYGOTE_MAX_FDS], n_fds = zygote_wire_fds(sp, fds);
	union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int) * ZYGOTE_MAX_FDS)]; } ctl;
	struct zygote *z = sup->zygotes ? zygote_with_room(sup->zygotes) : NULL;
	json_t *doc;
	char *text;
	struct iovec iov;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct zygote_msg answer = { 0 };
	bool answered = false;
	struct cmsghdr *c;
	ssize_t n;

	if (!z) {
		errno = EPIPE;
		return -1;
	}
	doc = zygote_wire_request(sp);
	text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
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
	while ((n = sendmsg(z->fd, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	free(text);
	if (n < 0) {
		/* too big for one message: this worker is forked by the daemon, the zygote is fine */
		if (errno != EMSGSIZE && errno != ENOBUFS && errno != ENOMEM)
			zygote_fail(z, strerror(errno), false);
		errno = EPIPE;
		return -1;
	}
	/* the answer follows one fork; exits that come first wait for the loop */
	while (!answered) {
		struct pollfd pfd = { .fd = z->fd, .events = POLLIN };

		if ((n = poll(&pfd, 1, ZYGOTE_REPLY_MS)) < 0 && errno == EINTR)
			continue;
		if (n != 1 || !read_msg(z, &answer, &answered)) {
			zygote_fail(z, n == 1 ? "it closed the connection" : "no answer", false);
			errno = EPIPE;
			return -1;
		}
	}
	if (sup->zygotes->n_pending > 0)
		event_active(z->ev, EV_READ, 0);
	if (answer.pid < 0) {
		errno = -answer.pid;
		return -1;
	}
	z->live++;
	return answer.pid;
}

bool zygote_lost(struct supervisor *sup, pid_t pid)
{
	struct zygote_set *set = sup->zygotes;

	for (size_t i = 0; set && i < set->n; i++)
		if (set->v[i]->pid == pid) {
			zygote_fail(set->v[i], "it died", true);
			return true;
		}
	return false;
}

void zygote_stop(struct supervisor *sup)
{
	struct zygote_set *set = sup->zygotes;

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
	free(set);
	sup->zygotes = NULL;
}
