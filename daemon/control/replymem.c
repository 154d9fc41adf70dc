/* replymem: the total of unread replies across control clients, kept by evbuffer
 * callbacks; glibc keeps freed chunks inside its heap, so a freed peak is trimmed. */
#include "daemon/control/replymem.h"

#include <malloc.h>

static void on_trim(evutil_socket_t fd, short what, void *arg)
{
	struct replymem *m = arg;

	(void)fd;
	(void)what;
#ifdef __GLIBC__
	malloc_trim(0); /* freed reply chunks sit inside the heap: RSS would stay at its peak */
#endif
	m->peak = m->queued;
}

static void count(struct replymem *m, size_t added, size_t deleted)
{
	struct timeval now = { 0, 0 };

	m->queued += added;
	m->queued -= deleted;
	if (m->queued > m->peak)
		m->peak = m->queued;
	else if (m->peak - m->queued >= LV_REPLYMEM_TRIM_STEP && m->trim &&
	         !evtimer_pending(m->trim, NULL))
		evtimer_add(m->trim, &now); /* once per loop turn, however much is freed in it */
}

static void on_change(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	(void)buf;
	count(arg, info->n_added, info->n_deleted);
}

int replymem_init(struct replymem *m, struct event_base *base, size_t per_user, size_t all,
                  void (*drop)(struct replymem_user *u, const char *why))
{
	*m = (struct replymem){ .per_user = per_user, .all = all, .drop = drop };
	LIST_INIT(&m->users);
#ifdef __GLIBC__
	/* Big replies (a status of thousands of workers, a long tail) in their own mappings,
	 * unmapped when freed: glibc otherwise raises this threshold to the biggest block
	 * freed so far and keeps such blocks in its heap, scattered by smaller ones. */
	mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
#endif
	m->trim = evtimer_new(base, on_trim, m);
	return m->trim ? 0 : -1;
}

void replymem_free(struct replymem *m)
{
	if (m->trim)
		event_free(m->trim);
	m->trim = NULL;
}

int replymem_track(struct replymem *m, struct replymem_user *u, struct evbuffer *out)
{
	if (!(u->cb = evbuffer_add_cb(out, on_change, m)))
		return -1;
	u->out = out;
	LIST_INSERT_HEAD(&m->users, u, link);
	count(m, evbuffer_get_length(out), 0);
	return 0;
}

void replymem_untrack(struct replymem *m, struct replymem_user *u)
{
	if (!u->cb)
		return;
	evbuffer_remove_cb_entry(u->out, u->cb);
	u->cb = NULL;
	LIST_REMOVE(u, link);
	count(m, 0, evbuffer_get_length(u->out));
}

static struct replymem_user *biggest(struct replymem *m)
{
	struct replymem_user *big = NULL, *u;
	size_t most = 0;

	LIST_FOREACH(u, &m->users, link) {
		size_t n = evbuffer_get_length(u->out);

		if (!u->dropped && (!big || n > most)) {
			big = u;
			most = n;
		}
	}
	return big;
}

static void drop(struct replymem *m, struct replymem_user *u, const char *why)
{
	u->dropped = true;
	m->drop(u, why);
}

bool replymem_room(struct replymem *m, struct replymem_user *u, size_t len)
{
	if (evbuffer_get_length(u->out) + len > m->per_user) {
		drop(m, u, "is not reading its replies");
		return false;
	}
	/* As Redis's maxmemory-clients: the biggest goes first, so that a few clients that
	 * do not read cannot make the daemon refuse everyone else's replies. */
	while (m->queued + len > m->all) {
		struct replymem_user *big = biggest(m);

		if (!big)
			break;
		drop(m, big, "holds the most unread replies while all clients' pass their limit");
		if (big == u)
			return false;
	}
	return true;
}
