/* replymem: the memory of unread replies: bounded per control client and for all of them
 * together (the client holding the most goes first), and given back once freed. */
#ifndef LV_REPLYMEM_H
#define LV_REPLYMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/event.h>

#define LV_REPLYMEM_TRIM_STEP (16 * 1024 * 1024) /* freed since the peak: give memory back */

/* One client's output buffer, as counted here (embedded in the client). */
struct replymem_user {
	LIST_ENTRY(replymem_user) link; /* in m->users while tracked */
	struct evbuffer *out;
	struct evbuffer_cb_entry *cb;
	bool dropped;              /* told to go: it takes no more and is not chosen again */
};

struct replymem {
	size_t per_user, all;      /* the limits */
	size_t queued;             /* unread reply bytes of every user */
	size_t peak;               /* the most since memory was last given back */
	struct event *trim;
	LIST_HEAD(replymem_users, replymem_user) users;
	/* disconnects a user (not freeing it now: a send may be on the stack) */
	void (*drop)(struct replymem_user *u, const char *why);
};

/* 0, or -1 (no timer: counting works, memory is not given back). */
int replymem_init(struct replymem *m, struct event_base *base, size_t per_user, size_t all,
                  void (*drop)(struct replymem_user *u, const char *why));
void replymem_free(struct replymem *m);
/* Counts what out holds from now on; -1 when out of memory. */
int replymem_track(struct replymem *m, struct replymem_user *u, struct evbuffer *out);
/* Stops counting u (before its buffer is freed); a freed peak is given back. */
void replymem_untrack(struct replymem *m, struct replymem_user *u);
/* Whether u may queue len more bytes. If all users together would pass their limit, those
 * holding the most are dropped until it fits; false (after dropping u) when u is one of
 * them or passes its own limit. */
bool replymem_room(struct replymem *m, struct replymem_user *u, size_t len);

#endif
