/* systemd: the sd_notify side of the daemon. Messages go out on a non-blocking socket of
 * its own rather than through sd_notify(), which blocks while the receiver's queue is full
 * (net.unix.max_dgram_qlen datagrams, as few as 10): a receiver that stops reading must not
 * stop the supervisor. systemd always reads; a message that does not fit is dropped. */
#include "daemon/out/systemd.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "daemon/lib/log.h"

#define STATUS_MIN_INTERVAL_MS 1000

struct service {
	struct supervisor *sup;
	bool ready;
	struct event *watchdog, *status_timer, *ready_check;
	uint64_t watchdog_usec, last_status_ms;
	size_t scan_pool;             /* where the last readiness scan stopped */
	unsigned scan_slot;
	int fd;                       /* connected to $NOTIFY_SOCKET, or -1 */
	bool dropped;                 /* a message did not fit: said once */
};

/* Connects to $NOTIFY_SOCKET (a path, or @ for the abstract namespace); -1 without one. */
static int notify_connect(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t len = path ? strlen(path) : 0;
	int fd;

	if (len < 2 || len >= sizeof sun.sun_path || (path[0] != '/' && path[0] != '@'))
		return -1;
	memcpy(sun.sun_path, path, len);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd >= 0 &&
	    connect(fd, (struct sockaddr *)&sun, (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	                                                     len)) < 0) {
		log_warn("NOTIFY_SOCKET %s: %s", path, strerror(errno));
		close(fd);
		fd = -1;
	}
	return fd;
}

static void notify(struct service *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void notify(struct service *s, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n;

	if (s->fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof msg)
		return;
	if (send(s->fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && !s->dropped) {
		s->dropped = true;
		log_warn("systemd notification dropped (%s): its receiver is not reading",
		         strerror(errno));
	}
}

/* Every worker that should run has settled once: running, failed, or waiting for a pool
 * that will not come. Each scan starts where the last one stopped, so the start of N
 * workers costs O(N) in all, not per change; only until READY=1 has been sent. */
static bool workers_settled(struct service *s)
{
	const struct supervisor *sup = s->sup;

	for (; s->scan_pool < sup->n_pools; s->scan_pool++, s->scan_slot = 0)
		for (; s->scan_slot < sup->pools[s->scan_pool]->n_slots; s->scan_slot++) {
			const struct worker *w = sup->pools[s->scan_pool]->workers[s->scan_slot];

			if (!w || !w->want_running || w->state == WS_RUNNING || w->state == WS_FAILED ||
			    w->state == WS_WAITING)
				continue;
			return false;
		}
	return true;
}

/* The STATUS= line, after what (e.g. READY=1) in the same datagram */
static void send_status(struct service *s, const char *what)
{
	unsigned workers = 0, running = 0;

	for (size_t p = 0; p < s->sup->n_pools; p++) {
		workers += s->sup->pools[p]->cfg.workers;
		running += s->sup->pools[p]->running;
	}
	s->last_status_ms = lv_now_ms();
	notify(s, "%sSTATUS=%zu pools, %u/%u workers running", what, s->sup->n_pools, running,
	       workers);
}

static void on_status_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	send_status(arg, "");
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	/* this runs only if the loop runs: a stalled supervisor gets restarted by systemd */
	notify(arg, "WATCHDOG=1");
}

/* Once per loop iteration at most: a start of 10000 workers makes 20000 state changes,
 * and each need not rescan them all. */
static void on_ready_check(evutil_socket_t fd, short what, void *arg)
{
	struct service *s = arg;

	(void)fd;
	(void)what;
	if (!s->ready && !s->sup->shutting_down && workers_settled(s)) {
		s->ready = true;
		send_status(s, "READY=1\n");
		log_info("ready: every worker has started");
	}
}

void systemd_worker_changed(struct supervisor *sup)
{
	struct service *s = sup->service;
	struct timeval tv = { 0, 0 };
	uint64_t since;

	if (!s)
		return;
	if (!s->ready && !evtimer_pending(s->ready_check, NULL))
		evtimer_add(s->ready_check, &tv);
	if (evtimer_pending(s->status_timer, NULL))
		return;
	since = lv_now_ms() - s->last_status_ms;
	if (since < STATUS_MIN_INTERVAL_MS)
		tv.tv_usec = (long)(STATUS_MIN_INTERVAL_MS - since) * 1000;
	evtimer_add(s->status_timer, &tv);
}

int systemd_start(struct supervisor *sup)
{
	struct service *s = calloc(1, sizeof *s);
	uint64_t usec = 0;

	if (!s || !(s->status_timer = evtimer_new(sup->base, on_status_timer, s)) ||
	    !(s->ready_check = evtimer_new(sup->base, on_ready_check, s))) {
		if (s && s->status_timer)
			event_free(s->status_timer);
		free(s);
		return -1;
	}
	s->sup = sup;
	s->fd = notify_connect();
	sup->service = s;
	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		struct timeval tv = { .tv_sec = (time_t)(usec / 2 / 1000000),
		                      .tv_usec = (suseconds_t)(usec / 2 % 1000000) };

		s->watchdog_usec = usec;
		s->watchdog = event_new(sup->base, -1, EV_PERSIST, on_watchdog, s);
		if (s->watchdog)
			event_add(s->watchdog, &tv);
		log_info("watchdog: pinging systemd every %llu ms", (unsigned long long)usec / 2000);
	}
	systemd_worker_changed(sup);
	return 0;
}

void systemd_reloading(struct supervisor *sup)
{
	struct timespec ts;

	if (!sup->service)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	notify(sup->service, "RELOADING=1\nMONOTONIC_USEC=%llu",
	           (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
}

void systemd_reloaded(struct supervisor *sup)
{
	if (!sup->service)
		return;
	send_status(sup->service, "READY=1\n");
}

void systemd_stopping(struct supervisor *sup)
{
	unsigned longest = 0;

	if (!sup->service)
		return;
	for (size_t p = 0; p < sup->n_pools; p++)
		if (sup->pools[p]->cfg.stop_timeout_ms > longest)
			longest = sup->pools[p]->cfg.stop_timeout_ms;
	/* draining may take the longest stop timeout (and a dependency chain more): ask for it */
	notify(sup->service, "STOPPING=1\nEXTEND_TIMEOUT_USEC=%llu\nSTATUS=stopping %u workers",
	           (unsigned long long)(longest + 5000) * 1000ULL, sup->procs.live);
}

void systemd_free(struct supervisor *sup)
{
	struct service *s = sup->service;

	if (!s)
		return;
	if (s->watchdog)
		event_free(s->watchdog);
	if (s->status_timer)
		event_free(s->status_timer);
	if (s->ready_check)
		event_free(s->ready_check);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
	sup->service = NULL;
}
