/* zygote_int: what zygote.c (the zygotes and what they report) and zygote_send.c (what the
 * daemon asks of them) share. Nothing outside these two files includes it. */
#ifndef LV_ZYGOTE_INT_H
#define LV_ZYGOTE_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>

#include "daemon/proc/procs.h"
#include "daemon/proc/zygote_wire.h"

/* Spawn requests a zygote may have unanswered at once: it forks them one after another, so
 * more would only hold more descriptors in its socket, not start anything sooner. */
#define ZYGOTE_WINDOW 32

struct zygote {
	struct zygote_set *set;
	int fd;
	pid_t pid;
	unsigned serial; /* how its workers name it (struct process.zygote); never 0 */
	bool failed;     /* killed: it forks no more, and is forgotten once reaped */
	bool blocked;    /* its socket was full: waits for room (wev) */
	struct event *ev;    /* readable: its answers and exits */
	struct event *wev;   /* writable again */
	struct event *quiet; /* no answer for reply_ms while it owes one: it is failed */
	unsigned live;       /* workers it forked that have not exited */
	/* the requests it has not answered, oldest first (NULL: forgotten since) */
	struct process *waiting[ZYGOTE_WINDOW];
	unsigned first, n_waiting;
	/* signal requests its full socket could not take yet, in order */
	struct zygote_signal *outbox;
	size_t n_outbox, cap_outbox;
};

/* What a zygote reported, for the loop to hand on in order: an answer before any exit of
 * the same process. */
struct zygote_report {
	struct process *p; /* NULL: forgotten since */
	bool spawned;      /* an answer (err: its fork failed), else an exit (status) */
	int err;
	int status;
	bool flushed; /* an exit: what it said before it exited has been read (last_words) */
};

struct zygote_set {
	struct procs *ps;
	struct zygote **v;
	size_t n;
	unsigned per_zygote;
	unsigned reply_ms;   /* a zygote that owes an answer this long is failed */
	uint64_t retry_ms;   /* after a failure, no new zygote before this (lv_now_ms) */
	unsigned backoff_ms; /* the next failure's pause */
	uint64_t failed_ms;  /* the last failure */
	unsigned last_serial;
	/* reports read, not handed on yet: [head, n); room for every report the zygotes may
	 * still send is reserved before each spawn request, so reading one never fails */
	struct zygote_report *reports;
	size_t head, n_reports, cap_reports;
	struct event *handle; /* made active to hand them on */
};

/* zygote.c */
struct zygote *zygote_new(struct zygote_set *set);
void zygote_fail(struct zygote *z, const char *why);
void zygote_backoff(struct zygote_set *set, int pid, const char *why);
/* Reads everything z has sent; the reports wait for the loop (set->handle). */
void zygote_read_all(struct zygote *z);
int zygote_reserve_reports(struct zygote_set *set);

/* zygote_send.c */
void zygote_quiet_watch(struct zygote *z); /* (re)arms or clears z's answer deadline */
void zygote_requeue_waiting(struct zygote *z);
void zygote_free_requests(struct zygote *z);
void on_zygote_writable(evutil_socket_t fd, short what, void *arg);
void on_zygote_quiet(evutil_socket_t fd, short what, void *arg);

#endif
