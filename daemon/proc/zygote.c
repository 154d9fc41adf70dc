/* zygote: the daemon's side of its fork servers (see zygote.h): starting them, reading
 * their answers and the exits they report and handing those on in order, and dropping one
 * that fails. What the daemon asks of them is in zygote_send.c. */
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
#include "daemon/proc/cgroup.h"
#include "daemon/proc/procs.h"
#include "daemon/proc/zygote_int.h"

/* A zygote that owes an answer gets this long (LOOPVISOR_ZYGOTE_REPLY_MS) before it is
 * taken for stuck and killed. */
#define ZYGOTE_REPLY_MS 10000

/* The daemon keeps one zygote per ZYGOTE_WORKERS workers at most. A zygote reaps its
 * workers with waitid(P_ALL), which the kernel answers by walking all its children, and
 * forks from an anon_vma that all of them share: bounding its children bounds the cost of
 * each exit and each fork, whatever the number of workers. */
#define ZYGOTE_WORKERS 1000

/* A notify worker's last datagrams (STATUS=, STOPPING=1) were queued before it exited, so
 * before its zygote reported it: they are read while the worker is still a report here,
 * where zygote_exiting finds it by its pid, and count before its exit does. */
static void read_last_words(struct zygote_set *set)
{
	for (size_t i = set->head; i < set->n_reports; i++) /* reading may add reports */
		if (!set->reports[i].spawned && !set->reports[i].flushed && set->reports[i].p) {
			set->reports[i].flushed = true;
			set->ps->hooks.last_words(set->ps->hooks.ctx, set->reports[i].p);
		}
}

/* Hands every report on, oldest first; a handler may spawn or read more: they follow. */
static void handle_reports(struct zygote_set *set)
{
	while (set->head < set->n_reports) {
		struct zygote_report r;

		read_last_words(set);
		r = set->reports[set->head++];
		if (!r.p)
			continue;
		if (r.spawned)
			set->ps->spawn_answered(set->ps, r.p, r.err);
		else
			procs_exited(set->ps, r.p, r.status);
	}
	set->head = set->n_reports = 0;
}

static void on_reports(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	handle_reports(arg);
}

static struct zygote *zygote_by_serial(const struct zygote_set *set, unsigned serial)
{
	for (size_t i = 0; set && serial && i < set->n; i++)
		if (set->v[i]->serial == serial)
			return set->v[i];
	return NULL;
}

/* Room for a report of every request not answered and every worker not exited, twice, plus
 * one request more: reading a report then never needs memory, and is never lost. */
int zygote_reserve_reports(struct zygote_set *set)
{
	size_t need = set->n_reports + 2, cap;
	struct zygote_report *v;

	for (size_t i = 0; i < set->n; i++)
		need += set->v[i]->live + 2 * (size_t)set->v[i]->n_waiting;
	if (need <= set->cap_reports)
		return 0;
	cap = set->cap_reports ? set->cap_reports : 64;
	while (cap < need)
		cap *= 2;
	if (!(v = realloc(set->reports, cap * sizeof *v)))
		return -1;
	set->reports = v;
	set->cap_reports = cap;
	return 0;
}

static void add_report(struct zygote_set *set, struct zygote_report r)
{
	set->reports[set->n_reports++] = r;
	event_active(set->handle, EV_READ, 0);
}

/* A zygote says a worker exited (before it reaps it): from now on its process has no pid
 * to signal, and no other process that gets the pid can be taken for it. The owner
 * learns in handle_reports. */
static void take_exit(struct zygote *z, pid_t pid, int status)
{
	struct zygote_set *set = z->set;
	struct process *p = lv_pidmap_get(&set->ps->pids, pid);

	if (z->live > 0)
		z->live--;
	if (!p || p->zygote != z->serial) {
		log_debug("zygote %d: pid %d exited, no worker's any more", (int)z->pid, (int)pid);
		return;
	}
	if (set->n_reports == set->cap_reports) {
		log_err("zygote %d: no room for the exit of pid %d", (int)z->pid, (int)pid);
		return;
	}
	lv_pidmap_del(&set->ps->pids, pid);
	p->reaped = true;
	add_report(set, (struct zygote_report){ .p = p, .status = status });
}

/* A zygote answers its oldest request: the process is in the table at once, so that its
 * exit, which may follow on the same socket, finds it; its owner hears in order. */
static void take_answer(struct zygote *z, pid_t pid)
{
	struct zygote_set *set = z->set;
	struct process *p;

	if (z->n_waiting == 0) {
		log_warn("zygote %d: an answer nobody asked for (pid %d)", (int)z->pid, (int)pid);
		return;
	}
	p = z->waiting[z->first];
	z->first = (z->first + 1) % ZYGOTE_WINDOW;
	z->n_waiting--;
	if (pid > 0)
		z->live++;
	if (!p) { /* forgotten while it was forked: nobody wants it */
		struct zygote_signal rq = { ZYGOTE_SIGNAL, pid, SIGKILL, 1 };
		struct iovec iov = { &rq, sizeof rq };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

		if (pid > 0 && sendmsg(z->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			log_warn("zygote %d: cannot end pid %d, which nobody wants", (int)z->pid, (int)pid);
		return;
	}
	if (pid > 0)
		procs_adopt(set->ps, p, pid, z->serial);
	add_report(set, (struct zygote_report){ .p = p, .spawned = true,
	                                        .err = pid > 0 ? 0 : -pid });
}

/* Reads one message if there is one: false when there was none (or z hung up). */
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

void zygote_read_all(struct zygote *z)
{
	bool any = false;

	while (read_msg(z))
		any = true;
	if (any)
		zygote_quiet_watch(z);
}

static void on_zygote(evutil_socket_t fd, short what, void *arg)
{
	struct zygote *z = arg;

	(void)fd;
	(void)what;
	zygote_read_all(z);
	if (z->n_waiting < ZYGOTE_WINDOW && !TAILQ_EMPTY(&z->set->ps->queue))
		event_active(z->set->ps->pump, EV_READ, 0); /* room for more requests */
}

/* Forks and execs one more zygote; NULL with errno if it could not. */
struct zygote *zygote_new(struct zygote_set *set)
{
	struct zygote *z = calloc(1, sizeof *z), **v;
	int sv[2], exe, leaf = -1;
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
	/* its own cgroup leaf: what it costs shows apart from the workers and the daemon */
	if (set->ps->cgroups && (leaf = cgroups_zygote_dir(set->ps->cgroups, z->serial)) < 0)
		log_warn("zygote %u: no cgroup leaf: %s", z->serial, strerror(errno));
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old); /* the zygote keeps them blocked: workers expect it */
	pid = fork();
	if (pid == 0) {
		/* A fresh image, not a fork of the daemon: pages the workers share with their
		 * parent are then the zygote's few, not the daemon's, whose rmap the kernel would
		 * otherwise walk across all 10000 workers (on fork, exit and page scans). */
		/* the serial padded with spaces: room for the titles of the zygote and of the
		 * module workers it forks (worker/proctitle.h) */
		char parent[24], serial[LV_PROCTITLE_ROOM];
		char *const argv[] = { "loopvisord", LV_ZYGOTE_ARG, parent, serial, NULL };
		/* first out of the way, so that neither lands on the other's final number */
		int sock = fcntl(sv[1], F_DUPFD, ZYGOTE_FD + 2), bin = fcntl(exe, F_DUPFD, ZYGOTE_FD + 2);

		snprintf(parent, sizeof parent, "%d", (int)daemon);
		snprintf(serial, sizeof serial, "%-*u", (int)sizeof serial - 1, z->serial);
		int procs = leaf >= 0 ? openat(leaf, "cgroup.procs", O_WRONLY | O_CLOEXEC | O_NOFOLLOW) : -1;

		if (procs >= 0 && write(procs, "0", 1) != 1)
			_exit(1);
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
	if (leaf >= 0)
		close(leaf);
	z->set = set;
	z->fd = sv[0];
	z->pid = pid;
	if (pid < 0 || !(z->ev = event_new(set->ps->base, sv[0], EV_READ | EV_PERSIST, on_zygote, z)) ||
	    !(z->wev = event_new(set->ps->base, sv[0], EV_WRITE, on_zygote_writable, z)) ||
	    !(z->quiet = evtimer_new(set->ps->base, on_zygote_quiet, z)) || event_add(z->ev, NULL) < 0) {
		int err = errno;

		if (pid > 0)
			kill(pid, SIGKILL); /* reaped with the other children */
		if (z->ev)
			event_free(z->ev);
		if (z->wev)
			event_free(z->wev);
		if (z->quiet)
			event_free(z->quiet);
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
	zygote_free_requests(z);
	event_free(z->ev);
	event_free(z->wev);
	event_free(z->quiet);
	close(z->fd);
	free(z);
}

int zygote_start(struct procs *ps)
{
	struct zygote_set *set;
	const char *per = getenv("LOOPVISOR_ZYGOTE_WORKERS");
	const char *reply = getenv("LOOPVISOR_ZYGOTE_REPLY_MS");

	ps->zygotes = NULL;
	if (getenv("LOOPVISOR_NO_ZYGOTE")) { /* to compare, e.g. in bench/ */
		errno = ENOTSUP;
		return -1;
	}
	if (!(set = calloc(1, sizeof *set)))
		return -1;
	set->ps = ps;
	set->per_zygote = per && atoi(per) > 0 ? (unsigned)atoi(per) : ZYGOTE_WORKERS;
	set->reply_ms = reply && atoi(reply) > 0 ? (unsigned)atoi(reply) : ZYGOTE_REPLY_MS;
	if (!(set->handle = event_new(ps->base, -1, 0, on_reports, set)) || !zygote_new(set)) {
		int err = set->handle ? errno : ENOMEM;

		if (set->handle)
			event_free(set->handle);
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

void zygote_backoff(struct zygote_set *set, int pid, const char *why)
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
void zygote_fail(struct zygote *z, const char *why)
{
	if (z->failed)
		return;
	z->failed = true;
	zygote_backoff(z->set, (int)z->pid, why);
	kill(z->pid, SIGKILL); /* not reaped yet: the pid is still the zygote's */
}

void zygote_settle(struct procs *ps, unsigned zygote)
{
	struct zygote *z = zygote_by_serial(ps->zygotes, zygote);

	if (z)
		zygote_read_all(z);
}

struct process *zygote_exiting(struct procs *ps, pid_t pid)
{
	struct zygote_set *set = ps->zygotes;

	for (size_t i = set ? set->head : 0; set && i < set->n_reports; i++)
		if (!set->reports[i].spawned && set->reports[i].p && set->reports[i].p->pid == pid)
			return set->reports[i].p;
	return NULL;
}

void zygote_forget(struct procs *ps, struct process *p)
{
	struct zygote_set *set = ps->zygotes;

	for (size_t i = 0; set && i < set->n; i++)
		for (unsigned k = 0; k < set->v[i]->n_waiting; k++) {
			struct zygote *z = set->v[i];

			if (z->waiting[(z->first + k) % ZYGOTE_WINDOW] == p)
				z->waiting[(z->first + k) % ZYGOTE_WINDOW] = NULL;
		}
	for (size_t i = set ? set->head : 0; set && i < set->n_reports; i++)
		if (set->reports[i].p == p) {
			if (set->reports[i].spawned && p->pid > 0) /* forked, nobody wants it */
				zygote_signal(ps, p->zygote, p->pid, SIGKILL, true);
			set->reports[i].p = NULL;
		}
}

unsigned zygote_unanswered(struct procs *ps)
{
	struct zygote_set *set = ps->zygotes;
	unsigned n = 0;

	for (size_t i = 0; set && i < set->n; i++)
		n += set->v[i]->n_waiting;
	return n;
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
		 * before the zygote became a zombie. Its workers are the daemon's from now on;
		 * requests it did not answer go to another zygote, or to the daemon. */
		zygote_read_all(z);
		zygote_requeue_waiting(z);
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
	free(set->reports);
	event_free(set->handle);
	free(set);
	ps->zygotes = NULL;
}
