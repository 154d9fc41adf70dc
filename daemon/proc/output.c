/* output: the capture side. Pipes are read with bufferevents; complete lines (or 64 KiB
 * pieces of longer ones) go to the sinks at once, so a crash loses nothing that reached
 * the pipe. Pipes are always read: a follower that cannot keep up loses lines for itself
 * (control/subscribers.c tells it how many), never slows the worker or the log file. */
#include "daemon/proc/output.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "config/config.h"
#include "daemon/lib/journal.h"
#include "daemon/lib/log.h"
#include "daemon/lib/safefile.h"
#include "daemon/lib/sinks.h"
#include "daemon/proc/output_file.h"

/* lv_logf writes a worker's longest line whole, with both prefixes */
_Static_assert(LV_LOG_MAX_LINE + 512 <= LV_LOG_LINE_MAX, "worker lines would be cut in the log");

static const char *const stream_names[] = { "stdout", "stderr", "log" };

int output_prepare_dir(const char *dir, char *err, size_t errlen)
{
	if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "logs: %s: %s", dir, strerror(errno));
		return -1;
	}
	if (lv_dir_is_private(dir, err, errlen) < 0) {
		char why[LV_ERRBUF - 64]; /* room for what err says around it */

		snprintf(why, sizeof why, "%s", err);
		snprintf(err, errlen, "logs: %s", why);
		return -1;
	}
	return 0;
}

/* One captured line as the ring keeps it: one allocation, JSON only when asked for. */
struct log_rec {
	uint64_t seq;
	int64_t time_ms;
	enum lv_stream stream;
	const char *worker;      /* its worker's name; after text once the worker is gone */
	bool removed;            /* from a worker scaled away since */
	size_t len;
	char text[];
};

/* Worker output may be any bytes; JSON needs UTF-8: odd bytes become '?' there only. */
static json_t *text_json(const char *text, size_t len)
{
	json_t *s = json_stringn(text, len);
	char *copy;

	if (s || !(copy = malloc(len)))
		return s ? s : json_string("");
	for (size_t i = 0; i < len; i++)
		copy[i] = (unsigned char)text[i] >= 0x80 || !text[i] ? '?' : text[i];
	s = json_stringn(copy, len);
	free(copy);
	return s ? s : json_string("");
}

static json_t *rec_json(const struct log_rec *r)
{
	json_t *j = json_pack("{s:I, s:I, s:s, s:s, s:o}", "seq", (json_int_t)r->seq, "time",
	                      (json_int_t)r->time_ms, "worker", r->worker, "stream",
	                      stream_names[r->stream], "text", text_json(r->text, r->len));

	if (j && r->removed)
		json_object_set_new(j, "removed", json_true());
	return j;
}

/* The ring's oldest record is reused when it is big enough: no allocation per line. */
static struct log_rec *ring_slot(struct output *o, size_t len)
{
	unsigned cap = o->ring ? o->ring_cap : o->all->ring_lines;
	struct log_rec **slot, *r;

	if (cap == 0)
		return NULL;
	if (!o->ring) {
		if (!(o->ring = calloc(cap, sizeof *o->ring)))
			return NULL;
		o->ring_cap = cap;
	}
	slot = &o->ring[o->ring_next];
	if (!*slot || (*slot)->len < len) {
		if (!(r = realloc(*slot, sizeof *r + len)))
			return NULL;
		*slot = r;
	}
	o->ring_next = (o->ring_next + 1) % cap;
	if (o->ring_len < cap)
		o->ring_len++;
	return *slot;
}

/* "2026-11-22T10:00:00" for a second, formatted once per second, not once per line. */
static const char *stamp_of(time_t sec)
{
	static time_t cached = -1;
	static char stamp[32];
	struct tm tm;

	if (sec != cached) {
		localtime_r(&sec, &tm);
		strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
		cached = sec;
	}
	return stamp;
}

/* "2026-11-22T10:00:00.123 web:0 stdout: " into out (room for 160 bytes): by hand, as
 * printf's formatting was a quarter of the cost of a captured line. */
static size_t format_head(char *out, const struct timespec *ts, const char *worker,
                          enum lv_stream stream)
{
	const char *name = stream_names[stream], *stamp = stamp_of(ts->tv_sec);
	size_t n = strlen(stamp), k;
	long ms = ts->tv_nsec / 1000000;

	memcpy(out, stamp, n);
	out[n++] = '.';
	out[n++] = (char)('0' + ms / 100);
	out[n++] = (char)('0' + ms / 10 % 10);
	out[n++] = (char)('0' + ms % 10);
	out[n++] = ' ';
	memcpy(out + n, worker, k = strlen(worker));
	n += k;
	out[n++] = ' ';
	memcpy(out + n, name, k = strlen(name));
	n += k;
	out[n++] = ':';
	out[n++] = ' ';
	return n;
}

static void fill_rec(struct log_rec *r, uint64_t seq, int64_t time_ms, enum lv_stream stream,
                     const struct output *o, const char *text, size_t len)
{
	r->seq = seq;
	r->time_ms = time_ms;
	r->stream = stream;
	r->worker = o->name;
	r->removed = false;
	r->len = len;
	memcpy(r->text, text, len);
}

/* A line as a journal entry with the LOOPVISOR_* fields. */
static void to_journal(const struct output *o, enum lv_stream stream, const char *text, size_t len)
{
	static char message[8 + LV_LOG_MAX_LINE];
	char f[6][LV_POOL_NAME_MAX + 64];
	struct iovec iov[7] = { { message, 0 } };
	int n[6];

	while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t' || text[len - 1] == '\r'))
		len--; /* as sd_journal_send does */
	memcpy(message, "MESSAGE=", 8);
	memcpy(message + 8, text, len < LV_LOG_MAX_LINE ? len : LV_LOG_MAX_LINE);
	iov[0].iov_len = 8 + (len < LV_LOG_MAX_LINE ? len : LV_LOG_MAX_LINE);
	n[0] = snprintf(f[0], sizeof f[0], "PRIORITY=%d",
	                stream == LV_STREAM_STDERR ? LOG_WARNING : LOG_INFO);
	n[1] = snprintf(f[1], sizeof f[1], "SYSLOG_IDENTIFIER=%s", o->pool);
	n[2] = snprintf(f[2], sizeof f[2], "LOOPVISOR_POOL=%s", o->pool);
	n[3] = snprintf(f[3], sizeof f[3], "LOOPVISOR_WORKER=%s", o->name);
	n[4] = snprintf(f[4], sizeof f[4], "LOOPVISOR_WORKER_PID=%d", (int)*o->pid);
	n[5] = snprintf(f[5], sizeof f[5], "LOOPVISOR_STREAM=%s", stream_names[stream]);
	for (int i = 0; i < 6; i++) {
		iov[i + 1].iov_base = f[i];
		iov[i + 1].iov_len = n[i] < (int)sizeof f[i] ? (size_t)n[i] : sizeof f[i] - 1;
	}
	lv_journal_sendv(iov, 7);
}

/* One line to its sinks, stamped now; the file part waits for flush_file. */
static void capture(struct output *o, enum lv_stream stream, const char *text, size_t len,
                    const struct timespec *now)
{
	struct outputs *all = o->all;
	int64_t time_ms = (int64_t)now->tv_sec * 1000 + now->tv_nsec / 1000000;
	struct log_rec *r;

	if (*o->file) {
		char head[160];
		size_t n = format_head(head, now, o->name, stream);

		if (output_file_write(*o->file, head, n, text, len) < 0) {
			log_err("logs: %s: %s", (*o->file)->path, strerror(errno));
			if (o->dropped)
				(*o->dropped)++;
		}
	} else if (lv_log_to_journal()) {
		to_journal(o, stream, text, len);
	} else {
		lv_logf(stream == LV_STREAM_STDERR ? LOG_WARNING : LOG_INFO, "%s[%d] %s: %.*s", o->name,
		        (int)*o->pid, stream_names[stream], (int)len, text);
	}
	++all->seq;
	if (o->lines)
		o->lines[stream]++;
	if (o->watch)
		o->watch(o->watch_arg, text, len);
	if ((r = ring_slot(o, len)) != NULL)
		fill_rec(r, all->seq, time_ms, stream, o, text, len);
	if (lv_sinks_want_lines(all->sinks)) {
		struct log_rec *one = r;
		json_t *rec;

		if (!one && (one = malloc(sizeof *one + len)) != NULL) /* no ring: a temporary */
			fill_rec(one, all->seq, time_ms, stream, o, text, len);
		rec = one ? rec_json(one) : NULL;
		if (one != r)
			free(one);
		if (rec)
			lv_sinks_line(all->sinks, rec, o->pool, o->name);
		json_decref(rec);
	}
}

/* Emits every complete line of in; with final, the rest too (a last line without '\n'). */
static void split_lines(struct output *o, enum lv_stream stream, struct evbuffer *in, bool final)
{
	size_t len = evbuffer_get_length(in), at = 0;
	/* one contiguous view of what was read (at most the read watermark), one drain; the
	 * lines of one read arrived together and share its time */
	const char *buf = len ? (const char *)evbuffer_pullup(in, -1) : NULL;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	while (buf && at < len) {
		size_t rest = len - at, take, skip = 0;
		const char *nl = memchr(buf + at, '\n', rest < LV_LOG_MAX_LINE + 1 ? rest
		                                                                  : LV_LOG_MAX_LINE + 1);

		if (nl)
			take = (size_t)(nl - (buf + at)), skip = 1;
		else if (rest >= LV_LOG_MAX_LINE)
			take = LV_LOG_MAX_LINE; /* split an over-long line */
		else if (final)
			take = rest;
		else
			break;
		capture(o, stream, buf + at, take, &ts);
		at += take + skip;
	}
	evbuffer_drain(in, at);
}

/* The file gets what one read brought in one write: lines are gathered, not written one
 * by one, and nothing waits past the end of the callback. */
static void flush_file(struct output *o)
{
	if (*o->file && output_file_flush(*o->file) < 0)
		log_err("logs: %s: %s", (*o->file)->path, strerror(errno));
}

void output_line(struct output *o, enum lv_stream stream, const char *text, size_t len)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	capture(o, stream, text, len, &ts);
	flush_file(o);
}

static enum lv_stream stream_of(const struct output *o, const struct bufferevent *bev)
{
	return bev == o->bev[1] ? LV_STREAM_STDERR : LV_STREAM_STDOUT;
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct output *o = arg;

	split_lines(o, stream_of(o, bev), bufferevent_get_input(bev), false);
	flush_file(o);
}

static void close_pipe(struct output *o, int i)
{
	if (!o->bev[i])
		return;
	split_lines(o, i ? LV_STREAM_STDERR : LV_STREAM_STDOUT, bufferevent_get_input(o->bev[i]),
	            true);
	flush_file(o);
	bufferevent_free(o->bev[i]);
	o->bev[i] = NULL;
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct output *o = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		close_pipe(o, bev == o->bev[1]);
}

void output_attach(struct output *o, int out_fd, int err_fd)
{
	int fds[2] = { out_fd, err_fd };

	for (int i = 0; i < 2; i++) {
		struct bufferevent *bev;

		evutil_make_socket_nonblocking(fds[i]);
		bev = bufferevent_socket_new(o->all->base, fds[i], BEV_OPT_CLOSE_ON_FREE);
		if (!bev) {
			close(fds[i]);
			continue;
		}
		o->bev[i] = bev;
		bufferevent_setcb(bev, on_read, NULL, on_event, o);
		bufferevent_setwatermark(bev, EV_READ, 0, 4 * LV_LOG_MAX_LINE);
		bufferevent_set_max_single_read(bev, 4 * LV_LOG_MAX_LINE); /* a full pipe at once */
		bufferevent_enable(bev, EV_READ);
	}
}

void output_drain(struct output *o)
{
	for (int i = 0; i < 2; i++) {
		struct bufferevent *bev = o->bev[i];

		if (!bev)
			continue;
		/* what the process wrote before it died is in the pipe: take all of it (the
		 * bufferevent keeps its input's end frozen for itself: we take over) */
		evbuffer_unfreeze(bufferevent_get_input(bev), 0);
		while (evbuffer_read(bufferevent_get_input(bev), bufferevent_getfd(bev), 65536) > 0)
			split_lines(o, i ? LV_STREAM_STDERR : LV_STREAM_STDOUT,
			            bufferevent_get_input(bev), false);
		close_pipe(o, i);
	}
}

static int by_seq(const void *a, const void *b)
{
	uint64_t x = (*(struct log_rec *const *)a)->seq, y = (*(struct log_rec *const *)b)->seq;

	return x < y ? -1 : x > y;
}

json_t *output_tail(struct output *const *os, int n_os, unsigned n)
{
	struct log_rec **v;
	json_t *out = json_array();
	size_t m = 0, total = 0;

	for (int k = 0; k < n_os; k++)
		total += os[k]->ring_len;
	if (!(v = malloc(total * sizeof *v + 1)))
		return json_pack("{s:o}", "lines", out);
	for (int k = 0; k < n_os; k++) {
		const struct output *o = os[k];
		for (unsigned i = 0; i < o->ring_len; i++)
			v[m++] = o->ring[(o->ring_next + o->ring_cap - o->ring_len + i) % o->ring_cap];
	}
	/* several workers: interleave by sequence number; then keep the last n */
	qsort(v, m, sizeof *v, by_seq);
	for (size_t i = m > n ? m - n : 0; i < m; i++)
		json_array_append_new(out, rec_json(v[i]));
	free(v);
	return json_pack("{s:o}", "lines", out);
}

void output_retire(struct output *keeper, struct output *o)
{
	unsigned cap = keeper->ring ? keeper->ring_cap : keeper->all->ring_lines;

	output_drain(o);
	if (cap == 0 || !o->ring)
		return;
	if (!keeper->ring) {
		if (!(keeper->ring = calloc(cap, sizeof *keeper->ring)))
			return;
		keeper->ring_cap = cap;
	}
	for (unsigned i = 0; i < o->ring_len; i++) { /* oldest first */
		unsigned at = (o->ring_next + o->ring_cap - o->ring_len + i) % o->ring_cap;
		size_t name_len = strlen(o->ring[at]->worker);
		struct log_rec *r = realloc(o->ring[at], sizeof *r + o->ring[at]->len + name_len + 1);

		if (!r)
			continue; /* stays in o's ring, freed with it */
		o->ring[at] = NULL;
		memcpy(r->text + r->len, r->worker, name_len + 1); /* the name outlives the worker */
		r->worker = r->text + r->len;
		r->removed = true;
		free(keeper->ring[keeper->ring_next]);
		keeper->ring[keeper->ring_next] = r;
		keeper->ring_next = (keeper->ring_next + 1) % cap;
		if (keeper->ring_len < cap)
			keeper->ring_len++;
	}
}

void output_free(struct output *o)
{
	output_drain(o);
	for (unsigned i = 0; o->ring && i < o->ring_cap; i++)
		free(o->ring[i]);
	free(o->ring);
	o->ring = NULL;
}
