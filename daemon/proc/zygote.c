/* zygote: the daemon's side of its fork servers (see zygote.h): starting them, handing
 * each spawn to one with room, taking their answers and the exits they report, passing
 * on signals for their workers, and dropping one that fails. */
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
#include "daemon/proc/zygote_wire.h"

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
	/* the processes of the spawns it was asked for and has not answered, oldest first (it
	 * answers in order); NULL for one forgotten since */
	struct process **asked;
	size_t asked_head, asked_n, asked_cap;
};

/* What a zygote reported, for the loop to hand on in the order it came. */
enum report_kind {
	REPORT_EXIT,         /* status: the wait status */
	REPORT_SPAWN_FAILED, /* status: an errno */
	REPORT_SIGNAL,       /* the process was forked: send the signal asked for meanwhile */
};

struct report {
	enum report_kind kind;
	struct process *p;   /* NULL: forgotten since */
	int status;
	bool flushed;        /* EXIT: what it said before it exited has been read (last_words) */
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
	/* reports read while the daemon was busy elsewhere, for the loop; room for every one
	 * that can come is reserved before each spawn */
	struct report *pending;
	size_t n_pending, cap_pending;
	struct event *exits; /* made active to handle them */
};

/* A notify worker's last datagrams (STATUS=, STOPPING=1) were queued before it exited, so
 * before its zygote reported it: they are read while the worker is still pending here, where
 * zygote_exiting finds it by its pid, and count before its exit does. */
static void read_last_words(struct zygote_set *set)
{
	for (size_t i = 0; i < set->n_pending; i++) { /* reading may queue more: n grows */
		struct report *r = &set->pending[i];

		if (r->kind == REPORT_EXIT && r->p && !r->flushed) {
			r->flushed = true;
			set->ps->hooks.last_words(set->ps->hooks.ctx, r->p);
		}
	}
}

static void hand_on(struct zygote_set *set, struct report r)
{
	struct process *p = r.p;
	int sig = p->pending_sig;

	switch (r.kind) {
	case REPORT_EXIT:
		procs_exited(set->ps, p, r.status);
		break;
	case REPORT_SPAWN_FAILED:
		procs_spawn_failed(set->ps, p, r.status);
		break;
	case REPORT_SIGNAL:
		p->pending_sig = 0;
		if (sig)
			procs_kill(set->ps, p, sig, p->pending_group);
		break;
	}
}

/* In the order they came; a handler may spawn, and a spawn may queue more. */
static void handle_exits(struct zygote_set *set)
{
	for (size_t i = 0; i < set->n_pending; i++) {
		struct report r;

		read_last_words(set);
		r = set->pending[i];
		if (r.p)
			hand_on(set, r);
	}
	set->n_pending = 0;
}

static void on_exits(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	handle_exits(arg);
}

static void queue_report(struct zygote_set *set, struct report r)
{
	if (set->n_pending == set->cap_pending) { /* cannot be: room is reserved */
		log_err("zygote: no room for a report on %s", r.p ? r.p->name : "?");
		return;
	}
	set->pending[set->n_pending++] = r;
	event_active(set->exits, EV_READ, 0);
}

static struct zygote *zygote_by_serial(const struct zygote_set *set, unsigned serial)
{
	for (size_t i = 0; set && serial && i < set->n; i++)
		if (set->v[i]->serial == serial)
			return set->v[i];
	return NULL;
}

/* Room for every report that can come: an exit of every worker a zygote forked, and for
 * every spawn not answered yet a failure or a signal and later an exit, plus one. Reading
 * a report then never needs memory, and is never lost. */
static int reserve_exits(struct zygote_set *set)
{
	size_t need = set->n_pending + 1, cap;
	struct report *v;

	for (size_t i = 0; i < set->n; i++)
		need += set->v[i]->live + 2 * set->v[i]->asked_n;
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
	if (!p || p->zygote != z->serial) {
		log_debug("zygote %d: pid %d exited, a worker nobody waits for", (int)z->pid, (int)pid);
		return;
	}
	lv_pidmap_del(&set->ps->pids, pid);
	p->reaped = true;
	queue_report(set, (struct report){ .kind = REPORT_EXIT, .p = p, .status = status });
}

/* Makes room for one more spawn to be asked of z. */
static int ask_room(struct zygote *z)
{
	size_t cap = z->asked_cap ? z->asked_cap * 2 : 16;
	struct process **v;

	if (z->asked_n < z->asked_cap)
		return 0;
	if (!(v = malloc(cap * sizeof *v)))
		return -1;
	for (size_t i = 0; i < z->asked_n; i++)
		v[i] = z->asked[(z->asked_head + i) % z->asked_cap];
	free(z->asked);
	z->asked = v;
	z->asked_head = 0;
	z->asked_cap = cap;
	return 0;
}

/* p's spawn was sent to z (room was made with ask_room). */
static void ask_push(struct zygote *z, struct process *p)
{
	z->asked[(z->asked_head + z->asked_n++) % z->asked_cap] = p;
}

static bool ask_pop(struct zygote *z, struct process **p)
{
	if (z->asked_n == 0)
		return false;
	*p = z->asked[z->asked_head];
	z->asked_head = (z->asked_head + 1) % z->asked_cap;
	z->asked_n--;
	return true;
}

/* Has z signal pid, not waiting for room on its socket: 0 or -errno. */
static int send_signal(struct zygote *z, pid_t pid, int sig, bool group)
{
	struct zygote_signal rq = { ZYGOTE_SIGNAL, pid, sig, group };

	return send(z->fd, &rq, sizeof rq, MSG_NOSIGNAL | MSG_DONTWAIT) == sizeof rq ? 0 : -errno;
}

/* z answered the oldest spawn it was asked for: the process runs as pid (or z could not
 * fork it: -errno), and is in the table from now on. Its owner hears it at once, before any
 * of its output, channel or exec pipe is read. */
static void take_answer(struct zygote *z, pid_t pid)
{
	struct zygote_set *set = z->set;
	struct process *p;

	if (!ask_pop(z, &p)) {
		log_warn("zygote %d: an answer nobody asked for (pid %d)", (int)z->pid, (int)pid);
		return;
	}
	if (pid > 0)
		z->live++;
	if (!p) { /* forgotten meanwhile: nobody owns what it forked */
		if (pid > 0)
			send_signal(z, pid, SIGKILL, true);
		return;
	}
	if (pid < 0) {
		queue_report(set, (struct report){ .kind = REPORT_SPAWN_FAILED, .p = p, .status = -pid });
		return;
	}
	procs_adopt(set->ps, p, pid, z->serial);
	set->ps->hooks.spawned(set->ps->hooks.ctx, p);
	if (p->pending_sig)
		queue_report(set, (struct report){ .kind = REPORT_SIGNAL, .p = p });
}

/* Reads what is there; true if a message came (its report is queued, or handed on). */
static bool read_msg(struct zygote *z)
{
	struct zygote_msg m;
	ssize_t n = recv(z->fd, &m, sizeof m, MSG_DONTWAIT);

	if (n == 0) /* it died: the reaper will say so (zygote_lost); until then, silence */
		event_del(z->ev);
	if (n != sizeof m)
		return false;
	if (m.kind == ZYGOTE_SPAWNED)
		take_answer(z, m.pid);
	else if (m.kind == ZYGOTE_EXITED)
		take_exit(z, m.pid, m.status);
	return true;
}

/* Takes every message z has sent so far; their exits wait for the loop. */
static void drain(struct zygote *z)
{
	while (read_msg(z))
		;
}

static void on_zygote(evutil_socket_t fd, short what, void *arg)
{
	struct zygote *z = arg;
	struct zygote_set *set = z->set;

	(void)fd;
	(void)what;
	while (read_msg(z))
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
	struct process *p;

	while (ask_pop(z, &p)) /* never answered: never forked, or died with it */
		if (p)
			queue_report(set, (struct report){ .kind = REPORT_SPAWN_FAILED, .p = p,
			                                   .status = EPIPE });
	free(z->asked);
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
		if (!set->v[i]->failed && set->v[i]->live + set->v[i]->asked_n < set->per_zygote)
			return set->v[i];
	if (lv_now_ms() < set->retry_ms)
		return NULL;
	if (!(z = zygote_new(set)))
		zygote_backoff(set, 0, strerror(errno));
	return z;
}

/* Sends one request without waiting: when z's socket is full, what z sent is read first
 * (it may itself wait for room to report) and the send tried once more. 0 or -errno
 * (-EAGAIN: z does not read its requests now). */
static int send_request(struct zygote *z, const struct msghdr *msg)
{
	for (int tries = 0; tries < 2; tries++) {
		ssize_t n;

		do
			n = sendmsg(z->fd, msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		while (n < 0 && errno == EINTR);
		if (n >= 0)
			return 0;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		drain(z);
	}
	return -EAGAIN;
}

/* Asks z to fork sp as p: 0 once asked (the answer comes on z's socket), or -errno. */
static int spawn_on(struct zygote *z, const struct lv_spawn *sp, struct process *p)
{
	int fds[ZYGOTE_MAX_FDS], n_fds = zygote_wire_fds(sp, fds), rc;
	union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int) * ZYGOTE_MAX_FDS)]; } ctl;
	json_t *doc = zygote_wire_request(sp);
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	struct iovec iov;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	json_decref(doc);
	if (!text || ask_room(z) < 0) {
		free(text);
		return -ENOMEM;
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
	if (rc < 0)
		return rc;
	ask_push(z, p);
	return 0;
}

int zygote_spawn(struct procs *ps, const struct lv_spawn *sp, struct process *p)
{
	struct zygote_set *set = ps->zygotes;
	struct zygote *z = set ? zygote_with_room(set) : NULL;
	int rc;

	if (!z || reserve_exits(set) < 0)
		return -EPIPE;
	if ((rc = spawn_on(z, sp, p)) == 0) {
		p->zygote = z->serial;
		return 0;
	}
	/* too big for one message, or z too busy to read it now: this worker is forked by the
	 * daemon and z is fine; any other failure is z's */
	if (rc != -EMSGSIZE && rc != -ENOBUFS && rc != -ENOMEM && rc != -EAGAIN)
		zygote_fail(z, strerror(-rc));
	return -EPIPE;
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
		return send_signal(z, pid, sig, group) < 0 ? -ESRCH : 0;
	if ((rc = send_request(z, &msg)) == -EAGAIN)
		zygote_fail(z, "it does not read its requests"); /* its workers die with it */
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
		if (set->pending[i].kind == REPORT_EXIT && set->pending[i].p &&
		    set->pending[i].p->pid == pid)
			return set->pending[i].p;
	return NULL;
}

void zygote_settle_all(struct procs *ps)
{
	for (size_t i = 0; ps->zygotes && i < ps->zygotes->n; i++)
		drain(ps->zygotes->v[i]);
}

void zygote_forget(struct procs *ps, const struct process *p)
{
	struct zygote_set *set = ps->zygotes;

	for (size_t i = 0; set && i < set->n; i++) {
		struct zygote *z = set->v[i];

		for (size_t k = 0; k < z->asked_n; k++)
			if (z->asked[(z->asked_head + k) % z->asked_cap] == p)
				z->asked[(z->asked_head + k) % z->asked_cap] = NULL;
	}
	for (size_t i = 0; set && i < set->n_pending; i++)
		if (set->pending[i].p == p)
			set->pending[i].p = NULL;
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

void zygote_unresponsive(struct procs *ps, unsigned zygote, const char *waiting)
{
	struct zygote *z = zygote_by_serial(ps->zygotes, zygote);
	char why[128];

	if (!z || z->failed)
		return;
	snprintf(why, sizeof why, "no answer to the spawn of %s in time", waiting);
	zygote_fail(z, why);
}
