/* zygote_int: what zygote.c (starting, asking, giving up zygotes) and zygote_reports.c
 * (what they say back) share. Nothing outside those two includes it. */
#ifndef LV_ZYGOTE_INT_H
#define LV_ZYGOTE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>

#include <sys/queue.h>

#include "daemon/proc/procs.h"
#include "daemon/proc/zygote_wire.h"

/* A request that found the zygote's socket full: sent in order once it can take it. */
struct outmsg {
	STAILQ_ENTRY(outmsg) link;
	int fds[ZYGOTE_MAX_FDS];     /* copies, closed once sent */
	int n_fds;
	size_t len;
	char text[];
};

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
	STAILQ_HEAD(, outmsg) outbox; /* requests waiting for room on the socket, in order */
	struct event *writable;       /* armed while the outbox is not empty */
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

/* zygote_reports.c */
struct zygote *zygote_by_serial(const struct zygote_set *set, unsigned serial);
/* Room for every report that can come (see zygote_reports.c); -1 without memory. */
int zygote_reserve(struct zygote_set *set);
void zygote_queue_report(struct zygote_set *set, struct report r);
int zygote_ask_room(struct zygote *z);
void zygote_ask_push(struct zygote *z, struct process *p);
bool zygote_ask_pop(struct zygote *z, struct process **p);
int zygote_send_signal(struct zygote *z, pid_t pid, int sig, bool group);
/* Takes every message z has sent so far. */
void zygote_drain(struct zygote *z);
/* libevent callbacks: z's socket is readable; the set's queued reports are due. */
void zygote_on_readable(evutil_socket_t fd, short what, void *arg);
void zygote_on_reports(evutil_socket_t fd, short what, void *arg);

#endif
