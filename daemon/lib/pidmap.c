/* pidmap: linear-probing hash of pids with tombstones, grown at half load.
 * Keys are positive pids; 0 marks an empty slot and -1 a deleted one. */
#include "daemon/lib/pidmap.h"

#include <stdint.h>
#include <stdlib.h>

#define EMPTY 0
#define DELETED (-1)

static size_t hash(pid_t pid, size_t cap)
{
	return ((uint32_t)pid * 2654435761u) & (cap - 1);
}

/* Rehashes into a table sized for the live entries (dropping tombstones), so a crash
 * loop that adds and removes pids forever does not grow the table. */
static int rehash(struct lv_pidmap *m)
{
	size_t cap = 64;
	struct lv_pidmap_slot *old = m->slots, *slots;
	size_t old_cap = m->cap;

	while (cap < (m->used + 1) * 4)
		cap *= 2;
	if (!(slots = calloc(cap, sizeof *slots)))
		return -1;
	m->slots = slots;
	m->cap = cap;
	m->used = m->tombstones = 0;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].pid > 0)
			lv_pidmap_put(m, old[i].pid, old[i].value);
	free(old);
	return 0;
}

int lv_pidmap_put(struct lv_pidmap *m, pid_t pid, void *value)
{
	size_t i;

	if ((m->used + m->tombstones + 1) * 2 > m->cap && rehash(m) < 0)
		return -1;
	for (i = hash(pid, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (m->slots[i].pid == pid) {
			m->slots[i].value = value;
			return 0;
		}
		if (m->slots[i].pid == EMPTY)
			break;
	}
	/* Not present: take the first reusable slot on the probe path. */
	for (i = hash(pid, m->cap); m->slots[i].pid > 0; i = (i + 1) & (m->cap - 1))
		;
	if (m->slots[i].pid == DELETED)
		m->tombstones--;
	m->slots[i].pid = pid;
	m->slots[i].value = value;
	m->used++;
	return 0;
}

static struct lv_pidmap_slot *find(const struct lv_pidmap *m, pid_t pid)
{
	if (!m->cap)
		return NULL;
	for (size_t i = hash(pid, m->cap); m->slots[i].pid != EMPTY; i = (i + 1) & (m->cap - 1))
		if (m->slots[i].pid == pid)
			return &m->slots[i];
	return NULL;
}

void *lv_pidmap_get(const struct lv_pidmap *m, pid_t pid)
{
	struct lv_pidmap_slot *s = find(m, pid);

	return s ? s->value : NULL;
}

void *lv_pidmap_del(struct lv_pidmap *m, pid_t pid)
{
	struct lv_pidmap_slot *s = find(m, pid);
	void *value;

	if (!s)
		return NULL;
	value = s->value;
	s->pid = DELETED;
	s->value = NULL;
	m->used--;
	m->tombstones++;
	return value;
}

void lv_pidmap_free(struct lv_pidmap *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = m->used = m->tombstones = 0;
}
