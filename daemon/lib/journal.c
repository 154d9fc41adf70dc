/* journal: messages to journald that never make the loop wait: what journald does not take
 * now waits in a bounded queue retried from a timer, the rest is counted and reported. */
#include "daemon/lib/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <systemd/sd-journal.h>

#include "daemon/lib/clock.h"
#include "daemon/lib/log.h"

/* sd_journal_sendv writes datagrams to journald on a socket libsystemd opens on its first
 * call, blocking: when journald falls behind (its queue holds net.unix.max_dgram_qlen
 * datagrams, 10 by default, 512 under systemd's sysctl defaults) the whole loop would wait
 * for it. That socket is the daemon's alone (CLOEXEC, closed in every worker), so it is
 * made non-blocking: found as the lowest free descriptor before the first message, a
 * datagram socket after it. poll() cannot say when journald has room again (the socket is
 * not connected), so the queue is retried every JOURNAL_RETRY_MS, every millisecond while
 * journald takes some. */
#define JOURNAL_RETRY_MS 20

struct journal_msg {
	STAILQ_ENTRY(journal_msg) link; /* in the queue, oldest first */
	int n;
	size_t bytes;
	struct iovec iov[]; /* n fields, then their text */
};

static int probe_fd = -1;
static bool settled;
static STAILQ_HEAD(journal_queue, journal_msg) waiting = STAILQ_HEAD_INITIALIZER(waiting);
static size_t queued;                /* bytes of fields waiting */
static unsigned long long dropped;   /* messages lost to a full queue, not reported yet */
static struct event *retry;

static void make_nonblocking(void)
{
	int type = 0, flags;
	socklen_t len = sizeof type;
	struct sockaddr_storage sa;
	socklen_t salen = sizeof sa;

	if (fcntl(probe_fd, F_GETFD) < 0) { /* not created: the next message tries again */
		probe_fd = -1;
		return;
	}
	settled = true;
	if (getsockopt(probe_fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_DGRAM &&
	    getsockname(probe_fd, (struct sockaddr *)&sa, &salen) == 0 && sa.ss_family == AF_UNIX &&
	    (flags = fcntl(probe_fd, F_GETFL)) >= 0)
		fcntl(probe_fd, F_SETFL, flags | O_NONBLOCK);
}

/* One attempt: 0, -EAGAIN when journald is behind, or another -errno. */
static int send_now(const struct iovec *iov, int n)
{
	int rc;

	if (!settled && probe_fd < 0 && (probe_fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0)) >= 0)
		close(probe_fd); /* the number libsystemd's socket is about to get */
	rc = sd_journal_sendv(iov, n);
	if (!settled && probe_fd >= 0)
		make_nonblocking();
	return rc == -EWOULDBLOCK || rc == -ENOBUFS ? -EAGAIN : rc;
}

static void arm_in(int ms)
{
	struct timeval tv = { 0, ms * 1000 };

	if (retry && !evtimer_pending(retry, NULL))
		evtimer_add(retry, &tv);
}

static void enqueue(const struct iovec *iov, int n)
{
	struct journal_msg *m;
	size_t bytes = 0;
	char *at;

	for (int i = 0; i < n; i++)
		bytes += iov[i].iov_len;
	if (queued + bytes > LV_LOG_QUEUE_MAX ||
	    !(m = malloc(sizeof *m + (size_t)n * sizeof *m->iov + bytes))) {
		dropped++;
		return;
	}
	at = (char *)(m->iov + n);
	for (int i = 0; i < n; i++) {
		memcpy(at, iov[i].iov_base, iov[i].iov_len);
		m->iov[i].iov_base = at;
		m->iov[i].iov_len = iov[i].iov_len;
		at += iov[i].iov_len;
	}
	m->n = n;
	m->bytes = bytes;
	STAILQ_INSERT_TAIL(&waiting, m, link);
	queued += bytes;
	arm_in(JOURNAL_RETRY_MS);
}

static void report_dropped(void)
{
	char text[96];
	struct iovec iov[3] = { { text, 0 }, { "PRIORITY=4", 10 },
	                        { "SYSLOG_IDENTIFIER=loopvisord", 28 } };
	unsigned long long n = dropped;

	if (n == 0)
		return;
	dropped = 0;
	iov[0].iov_len = (size_t)snprintf(text, sizeof text,
	                                  "MESSAGE=%llu log lines dropped: the journal did not keep up", n);
	lv_journal_sendv(iov, 3);
}

/* Sends what waits, in order, as far as journald takes it now; true once all went. */
static bool flush_queue(unsigned *sent)
{
	struct journal_msg *m;

	for (*sent = 0; (m = STAILQ_FIRST(&waiting)); ++*sent) {
		int rc = send_now(m->iov, m->n);

		if (rc == -EAGAIN)
			return false;
		/* sent, or refused for good (journald gone, a bad field): next */
		STAILQ_REMOVE_HEAD(&waiting, link);
		queued -= m->bytes;
		free(m);
	}
	return true;
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	unsigned sent;

	(void)fd;
	(void)what;
	(void)arg;
	if (flush_queue(&sent))
		report_dropped();
	else /* journald is reading again: come back soon */
		arm_in(sent ? 1 : JOURNAL_RETRY_MS);
}

void lv_journal_sendv(const struct iovec *iov, int n)
{
	unsigned sent;

	if (!STAILQ_EMPTY(&waiting) && !retry)
		flush_queue(&sent); /* no loop (yet, or any more) to do it */
	if (!STAILQ_EMPTY(&waiting)) {
		enqueue(iov, n); /* behind what waits */
		return;
	}
	if (send_now(iov, n) == -EAGAIN)
		enqueue(iov, n);
	else if (dropped)
		report_dropped();
}

void lv_journal_attach(struct event_base *base)
{
	if ((retry = evtimer_new(base, on_retry, NULL)) && !STAILQ_EMPTY(&waiting))
		arm_in(JOURNAL_RETRY_MS);
}

void lv_journal_detach(int wait_ms)
{
	uint64_t until = lv_now_ms() + (uint64_t)(wait_ms > 0 ? wait_ms : 0);
	struct journal_msg *m;
	unsigned sent;

	if (retry) {
		event_free(retry);
		retry = NULL;
	}
	/* the loop is over: what waits gets a little time, not more */
	while (!flush_queue(&sent) && lv_now_ms() < until)
		poll(NULL, 0, JOURNAL_RETRY_MS);
	if (STAILQ_EMPTY(&waiting))
		report_dropped();
	while ((m = STAILQ_FIRST(&waiting))) {
		STAILQ_REMOVE_HEAD(&waiting, link);
		free(m);
	}
	queued = 0;
}
