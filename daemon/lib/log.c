/* log: formats supervisor log lines with a wall-clock timestamp and a severity word, one
 * write(2) per line, and never waits for a reader: what stderr cannot take now is queued. */
#include "daemon/lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "daemon/lib/clock.h"
#include "daemon/lib/journal.h"

static bool to_journal;
static bool priority_prefix; /* stderr is the journal's stream: "<N>" tells it the priority */

/* JOURNAL_STREAM=DEV:INO names the stream systemd connected; it counts only if stderr is
 * still that stream (not redirected since). */
static bool stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return v && sscanf(v, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
	       (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void lv_log_set_target(enum lv_log_target target)
{
	bool journal_stream = stderr_is_journal();

	to_journal = target == LV_LOG_JOURNAL || (target == LV_LOG_AUTO && journal_stream);
	priority_prefix = journal_stream;
}

bool lv_log_to_journal(void)
{
	return to_journal;
}

/* ---- stderr without waiting ----
 * O_NONBLOCK on descriptor 2 itself would change the open file description the daemon
 * shares with whoever started it (a shell, a pipeline, workers with "output": "inherit"):
 * their writes would start failing with EAGAIN. So: a regular file never makes a writer
 * wait and is written as is; a socket takes MSG_DONTWAIT on each send; a pipe or terminal
 * is opened again through /proc, which gives the daemon a description of its own to make
 * non-blocking; if that fails, each write waits for poll() to report room and writes no
 * more than PIPE_BUF. What the reader does not take waits in a bounded queue that the loop
 * drains when stderr becomes writable; lines past the bound are counted and reported. */
enum out_how { OUT_FILE, OUT_SEND, OUT_OWN_FD, OUT_POLL };

static enum out_how out_how = OUT_FILE;
static int out_fd = STDERR_FILENO;
static struct evbuffer *queue;          /* what stderr could not take yet */
static struct event *writable;          /* armed while the queue waits, once a loop runs */
static unsigned long long dropped;      /* lines lost to a full queue, not reported yet */

void lv_log_open(void)
{
	struct stat st;
	int fd;

	if (fstat(STDERR_FILENO, &st) < 0 || S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
		out_how = OUT_FILE;
	else if (S_ISSOCK(st.st_mode))
		out_how = OUT_SEND;
	else if ((fd = open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)) >= 0)
		out_how = OUT_OWN_FD, out_fd = fd;
	else
		out_how = OUT_POLL;
}

/* One write that cannot wait; -1 with EAGAIN when the reader is behind. */
static ssize_t write_now(const char *buf, size_t len)
{
	struct pollfd p = { .fd = out_fd, .events = POLLOUT };

	switch (out_how) {
	case OUT_SEND:
		return send(out_fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	case OUT_POLL:
		if (poll(&p, 1, 0) != 1 || !(p.revents & (POLLOUT | POLLERR | POLLHUP | POLLNVAL))) {
			errno = EAGAIN;
			return -1;
		}
		/* a pipe that polls writable has a free page: PIPE_BUF bytes go without waiting */
		return write(out_fd, buf, len < PIPE_BUF ? len : PIPE_BUF);
	default:
		return write(out_fd, buf, len);
	}
}

static bool would_wait(void)
{
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

/* Writes what waits, as far as the reader takes it now. */
static void flush_queue(void)
{
	while (evbuffer_get_length(queue) > 0) {
		size_t len = evbuffer_get_contiguous_space(queue);
		ssize_t n = write_now((const char *)evbuffer_pullup(queue, (ev_ssize_t)len), len);

		if (n < 0 && !would_wait()) /* stderr is gone: nobody to tell anything */
			evbuffer_drain(queue, evbuffer_get_length(queue));
		if (n <= 0)
			return;
		evbuffer_drain(queue, (size_t)n);
	}
}

static bool in_libevent_log; /* libevent may not be called from its log callback */

static void arm(void)
{
	if (writable && !in_libevent_log && !event_pending(writable, EV_WRITE, NULL) &&
	    event_add(writable, NULL) < 0) { /* a descriptor epoll refuses: lines flush inline */
		event_free(writable);
		writable = NULL;
	}
}

static void put_line(const char *line, size_t len)
{
	ssize_t n;

	if (out_how == OUT_FILE) { /* never EAGAIN; a short write is a full disk */
		while (len > 0 && (n = write(out_fd, line, len)) > 0)
			line += n, len -= (size_t)n;
		return;
	}
	if (!queue && !(queue = evbuffer_new()))
		return;
	if (!writable && evbuffer_get_length(queue) > 0)
		flush_queue(); /* no loop (yet, or any more) to do it */
	if (evbuffer_get_length(queue) > 0) {
		if (evbuffer_get_length(queue) + len > LV_LOG_QUEUE_MAX)
			dropped++;
		else
			evbuffer_add(queue, line, len);
		arm(); /* armed already, unless the line before came from libevent's callback */
		return;
	}
	n = write_now(line, len);
	if (n == (ssize_t)len || (n < 0 && !would_wait()))
		return;
	/* the rest of a line begun goes first, whatever the bound: the next must not start
	 * inside it (and the queue was empty: one line fits) */
	n = n < 0 ? 0 : n;
	evbuffer_add(queue, line + n, len - (size_t)n);
	arm();
}

static void report_dropped(void)
{
	unsigned long long n = dropped;

	if (n == 0)
		return;
	dropped = 0;
	log_warn("%llu log lines dropped: stderr was not read fast enough", n);
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	flush_queue();
	if (evbuffer_get_length(queue) > 0)
		arm();
	else
		report_dropped();
}

/* libevent's own warnings went to stderr with a blocking fprintf: through the queue now.
 * A process forked from the daemon (not exec'd) keeps the callback but not the queue's
 * descriptor: it writes to its own stderr. */
static pid_t log_owner;

static void on_libevent_log(int severity, const char *msg)
{
	if (getpid() != log_owner) {
		dprintf(STDERR_FILENO, "libevent: %s\n", msg);
		return;
	}
	in_libevent_log = true;
	lv_logf(severity >= EVENT_LOG_ERR ? LOG_ERR : severity == EVENT_LOG_WARN ? LOG_WARNING
	        : LOG_DEBUG, "libevent: %s", msg);
	in_libevent_log = false;
}

void lv_log_attach(struct event_base *base)
{
	log_owner = getpid();
	event_set_log_callback(on_libevent_log);
	lv_journal_attach(base);
	if (out_how == OUT_FILE || !(writable = event_new(base, out_fd, EV_WRITE, on_writable, NULL)))
		return;
	if (queue && evbuffer_get_length(queue) > 0)
		arm();
}

#define LOG_EXIT_WAIT_MS 1000 /* what still waits at exit gets this long, no more */

/* Waits for room on stderr until the deadline (lv_now_ms); false once it has passed. */
static bool wait_writable(uint64_t until)
{
	struct pollfd p = { .fd = out_fd, .events = POLLOUT };
	uint64_t now = lv_now_ms();

	return until > now && poll(&p, 1, (int)(until - now)) >= 0;
}

void lv_log_detach(void)
{
	uint64_t until;

	if (writable) {
		event_free(writable);
		writable = NULL;
	}
	event_set_log_callback(NULL);
	lv_journal_detach(LOG_EXIT_WAIT_MS);
	if (!queue)
		return;
	until = lv_now_ms() + LOG_EXIT_WAIT_MS;
	/* the loop is over: what waits gets a little time, then is lost */
	while (flush_queue(), evbuffer_get_length(queue) > 0 && wait_writable(until))
		;
	if (evbuffer_get_length(queue) == 0) {
		report_dropped();
		flush_queue();
	}
	evbuffer_free(queue);
	queue = NULL;
}

/* ---- formatting ---- */
static const char *severity(int priority)
{
	switch (priority) {
	case LOG_EMERG: case LOG_ALERT: case LOG_CRIT: case LOG_ERR: return "error";
	case LOG_WARNING: return "warning";
	case LOG_DEBUG: return "debug";
	default: return "info";
	}
}

/* One line, whole up to LV_LOG_LINE_MAX: a worker's 64 KiB line with both prefixes fits. */
static char text[LV_LOG_LINE_MAX];

void lv_logf(int priority, const char *fmt, ...)
{
	char stamp[32];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n, m;

	if (to_journal) {
		char prio[16];
		struct iovec iov[3] = { { text, 0 }, { prio, 0 },
		                        { "SYSLOG_IDENTIFIER=loopvisord", 28 } };

		memcpy(text, "MESSAGE=", 8);
		va_start(ap, fmt);
		m = vsnprintf(text + 8, sizeof text - 8, fmt, ap);
		va_end(ap);
		n = 8 + (m < 0 ? 0 : m < (int)sizeof text - 8 ? m : (int)sizeof text - 9);
		while (n > 8 && (text[n - 1] == ' ' || text[n - 1] == '\t' || text[n - 1] == '\r' ||
		                 text[n - 1] == '\n'))
			n--; /* as sd_journal_send does */
		iov[0].iov_len = (size_t)n;
		iov[1].iov_len = (size_t)snprintf(prio, sizeof prio, "PRIORITY=%d", priority & 7);
		lv_journal_sendv(iov, 3);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	/* <N>: journald takes the priority from it; a terminal or a file gets none */
	n = priority_prefix ? snprintf(text, sizeof text, "<%d>", priority & 7) : 0;
	n += snprintf(text + n, sizeof text - (size_t)n, "%s.%03ld loopvisord[%d] %s: ", stamp,
	              ts.tv_nsec / 1000000, (int)getpid(), severity(priority));
	va_start(ap, fmt);
	m = vsnprintf(text + n, sizeof text - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n > sizeof text - 2)
		n = sizeof text - 2;
	text[n++] = '\n';
	put_line(text, (size_t)n);
}
