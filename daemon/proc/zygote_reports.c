/* zygote_reports: what the zygotes say back: answers to spawns (a pid to adopt, or why
 * not) and exits of their workers, handed on in the order they came (see zygote.h). */
#include "daemon/proc/zygote.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "daemon/lib/log.h"
#include "daemon/proc/zygote_int.h"
#include "daemon/proc/zygote_wire.h"

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

void zygote_on_reports(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	handle_exits(arg);
}

void zygote_queue_report(struct zygote_set *set, struct report r)
{
	if (set->n_pending == set->cap_pending) { /* cannot be: room is reserved */
		log_err("zygote: no room for a report on %s", r.p ? r.p->name : "?");
		return;
	}
	set->pending[set->n_pending++] = r;
	event_active(set->exits, EV_READ, 0);
}

struct zygote *zygote_by_serial(const struct zygote_set *set, unsigned serial)
{
	for (size_t i = 0; set && serial && i < set->n; i++)
		if (set->v[i]->serial == serial)
			return set->v[i];
	return NULL;
}

/* Room for every report that can come: an exit of every worker a zygote forked, and for
 * every spawn not answered yet a failure or a signal and later an exit, plus one. Reading
 * a report then never needs memory, and is never lost. */
int zygote_reserve(struct zygote_set *set)
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
	zygote_queue_report(set, (struct report){ .kind = REPORT_EXIT, .p = p, .status = status });
}

/* Makes room for one more spawn to be asked of z. */
int zygote_ask_room(struct zygote *z)
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
void zygote_ask_push(struct zygote *z, struct process *p)
{
	z->asked[(z->asked_head + z->asked_n++) % z->asked_cap] = p;
}

bool zygote_ask_pop(struct zygote *z, struct process **p)
{
	if (z->asked_n == 0)
		return false;
	*p = z->asked[z->asked_head];
	z->asked_head = (z->asked_head + 1) % z->asked_cap;
	z->asked_n--;
	return true;
}

/* Has z signal pid, not waiting for room on its socket: 0 or -errno. */
int zygote_send_signal(struct zygote *z, pid_t pid, int sig, bool group)
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

	if (!zygote_ask_pop(z, &p)) {
		log_warn("zygote %d: an answer nobody asked for (pid %d)", (int)z->pid, (int)pid);
		return;
	}
	if (pid > 0)
		z->live++;
	if (!p) { /* forgotten meanwhile: nobody owns what it forked */
		if (pid > 0)
			zygote_send_signal(z, pid, SIGKILL, true);
		return;
	}
	if (pid < 0) {
		zygote_queue_report(set, (struct report){ .kind = REPORT_SPAWN_FAILED, .p = p, .status = -pid });
		return;
	}
	procs_adopt(set->ps, p, pid, z->serial);
	set->ps->hooks.spawned(set->ps->hooks.ctx, p);
	if (p->pending_sig)
		zygote_queue_report(set, (struct report){ .kind = REPORT_SIGNAL, .p = p });
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
void zygote_drain(struct zygote *z)
{
	while (read_msg(z))
		;
}

void zygote_on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct zygote *z = arg;
	struct zygote_set *set = z->set;

	(void)fd;
	(void)what;
	while (read_msg(z))
		;
	handle_exits(set); /* z may be gone after this */
}

void zygote_settle(struct procs *ps, unsigned zygote)
{
	struct zygote *z = zygote_by_serial(ps->zygotes, zygote);

	if (z)
		zygote_drain(z);
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
		zygote_drain(ps->zygotes->v[i]);
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
