/* output: the capture side. Pipes are read with bufferevents; complete lines (or 64 KiB
 * pieces of longer ones) go to the sinks at once, so a crash loses nothing that reached
 * the pipe. Pipes are always read: a follower that cannot keep up loses lines for itself
 * (control.c tells it how many), never slows the worker or the log file. */
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

#include "daemon/lib/journal.h"
#include "daemon/lib/log.h"
#include "daemon/proc/output_file.h"
#include "daemon/lib/safefile.h"

/* lv_logf writes a worker's longest line whole, with both prefixes */
_Static_assert(LV_LOG_MAX_LINE + 512 <= LV_LOG_LINE_MAX, "worker lines would be cut in the log");

static const char *const stream_names[] = { "stdout", "stderr", "log" };

int logs_prepare_dir(const char *dir, char *err, size_t errlen)
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

int logs_open_pool(struct supervisor *sup, struct pool *p, char *err, size_t errlen)
{
	const struct lv_config *cfg = sup->cfg;
	char why[LV_ERRBUF - 64]; /* room for what err says around it */

	if (!cfg->logs_dir || p->log)
		return 0;
	if (logs_prepare_dir(cfg->logs_dir, err, errlen) < 0)
		return -1;
	if (!(p->log = calloc(1, sizeof *p->log)) ||
	    logfile_open(p->log, cfg->logs_dir, p->cfg.name, (off_t)cfg->logs_max_bytes,
	                 cfg->logs_keep, why, sizeof why) < 0) {
		snprintf(err, errlen, "logs: %s", p->log ? why : "out of memory");
		logs_close_pool(p);
		return -1;
	}
	return 0;
}

void logs_close_pool(struct pool *p)
{
	if (p->log) {
		logfile_close(p->log);
		free(p->log);
		p->log = NULL;
	}
}

int logs_reopen_pool(struct supervisor *sup, struct pool *p, char *err, size_t errlen)
{
	const struct lv_config *cfg = sup->cfg;
	char why[LV_ERRBUF - 64]; /* room for what err says around it */

	if (p->log && cfg->logs_dir && !strcmp(p->log->dir, cfg->logs_dir)) {
		p->log->max_bytes = (off_t)cfg->logs_max_bytes;
		p->log->keep = cfg->logs_keep;
		if (logfile_reopen(p->log, why, sizeof why) < 0) {
			snprintf(err, errlen, "logs: cannot reopen: %s; writing on into the file in use", why);
			return -1;
		}
		return 0;
	}
	logs_close_pool(p);
	return logs_open_pool(sup, p, err, errlen);
}

void logs_reopen(struct supervisor *sup)
{
	char err[LV_ERRBUF];
	unsigned failed = 0;

	for (size_t i = 0; i < sup->n_pools; i++)
		if (logs_reopen_pool(sup, sup->pools[i], err, sizeof err) < 0) {
			log_err("%s", err);
			failed++;
		}
	if (failed)
		log_warn("logs: %u log files could not be reopened", failed);
	else
		log_info("logs: reopened the log files");
}

/* One captured line as the ring keeps it: one allocation, JSON only when asked for. */
struct log_rec {
	uint64_t seq;
	int64_t time_ms;
	enum lv_stream stream;
	const char *worker;
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
	return json_pack("{s:I, s:I, s:s, s:s, s:o}", "seq", (json_int_t)r->seq, "time",
	                 (json_int_t)r->time_ms, "worker", r->worker, "stream",
	                 stream_names[r->stream], "text", text_json(r->text, r->len));
}

/* The ring's oldest record is reused when it is big enough: no allocation per line. */
static struct log_rec *ring_slot(struct worker *w, size_t len)
{
	unsigned cap = w->ring ? w->ring_cap : w->pool->sup->cfg->logs_ring;
	struct log_rec **slot, *r;

	if (cap == 0)
		return NULL;
	if (!w->ring) {
		if (!(w->ring = calloc(cap, sizeof *w->ring)))
			return NULL;
		w->ring_cap = cap;
	}
	slot = &w->ring[w->ring_next];
	if (!*slot || (*slot)->len < len) {
		if (!(r = realloc(*slot, sizeof *r + len)))
			return NULL;
		*slot = r;
	}
	w->ring_next = (w->ring_next + 1) % cap;
	if (w->ring_len < cap)
		w->ring_len++;
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
                     const struct worker *w, const char *text, size_t len)
{
	r->seq = seq;
	r->time_ms = time_ms;
	r->stream = stream;
	r->worker = w->name;
	r->len = len;
	memcpy(r->text, text, len);
}

/* A line as a journal entry with the LOOPVISOR_* fields. */
static void to_journal(const struct worker *w, enum lv_stream stream, const char *text, size_t len)
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
	n[1] = snprintf(f[1], sizeof f[1], "SYSLOG_IDENTIFIER=%s", w->pool->cfg.name);
	n[2] = snprintf(f[2], sizeof f[2], "LOOPVISOR_POOL=%s", w->pool->cfg.name);
	n[3] = snprintf(f[3], sizeof f[3], "LOOPVISOR_WORKER=%s", w->name);
	n[4] = snprintf(f[4], sizeof f[4], "LOOPVISOR_WORKER_PID=%d", (int)w->proc.pid);
	n[5] = snprintf(f[5], sizeof f[5], "LOOPVISOR_STREAM=%s", stream_names[stream]);
	for (int i = 0; i < 6; i++) {
		iov[i + 1].iov_base = f[i];
		iov[i + 1].iov_len = n[i] < (int)sizeof f[i] ? (size_t)n[i] : sizeof f[i] - 1;
	}
	lv_journal_sendv(iov, 7);
}

/* One line to its sinks, stamped now; the file part waits for flush_file. */
static void capture(struct worker *w, enum lv_stream stream, const char *text, size_t len,
                    const struct timespec *now)
{
	struct supervisor *sup = w->pool->sup;
	int64_t time_ms = (int64_t)now->tv_sec * 1000 + now->tv_nsec / 1000000;
	struct log_rec *r;

	if (w->pool->log) {
		char head[160];
		size_t n = format_head(head, now, w->name, stream);

		if (logfile_write(w->pool->log, head, n, text, len) < 0)
			log_err("logs: %s: %s", w->pool->log->path, strerror(errno));
	} else if (lv_log_to_journal()) {
		to_journal(w, stream, text, len);
	} else {
		lv_logf(stream == LV_STREAM_STDERR ? LOG_WARNING : LOG_INFO, "%s[%d] %s: %.*s", w->name,
		        (int)w->proc.pid, stream_names[stream], (int)len, text);
	}
	++sup->log_seq;
	if ((r = ring_slot(w, len)) != NULL)
		fill_rec(r, sup->log_seq, time_ms, stream, w, text, len);
	if (lv_sinks_want_lines(&sup->sinks)) {
		struct log_rec *one = r;
		json_t *rec;

		if (!one && (one = malloc(sizeof *one + len)) != NULL) /* no ring: a temporary */
			fill_rec(one, sup->log_seq, time_ms, stream, w, text, len);
		rec = one ? rec_json(one) : NULL;
		if (one != r)
			free(one);
		if (rec)
			lv_sinks_line(&sup->sinks, rec, w->pool->cfg.name, w->name);
		json_decref(rec);
	}
}

/* Emits every complete line of in; with final, the rest too (a last line without '\n'). */
static void split_lines(struct worker *w, enum lv_stream stream, struct evbuffer *in, bool final)
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
		capture(w, stream, buf + at, take, &ts);
		at += take + skip;
	}
	evbuffer_drain(in, at);
}

/* The file gets what one read brought in one write: lines are gathered, not written one
 * by one, and nothing waits past the end of the callback. */
static void flush_file(struct worker *w)
{
	if (w->pool->log && logfile_flush(w->pool->log) < 0)
		log_err("logs: %s: %s", w->pool->log->path, strerror(errno));
}

void logs_line(struct worker *w, enum lv_stream stream, const char *text, size_t len)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	capture(w, stream, text, len, &ts);
	flush_file(w);
}

static enum lv_stream stream_of(const struct worker *w, const struct bufferevent *bev)
{
	return bev == w->log_bev[1] ? LV_STREAM_STDERR : LV_STREAM_STDOUT;
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct worker *w = arg;

	split_lines(w, stream_of(w, bev), bufferevent_get_input(bev), false);
	flush_file(w);
}

static void close_pipe(struct worker *w, int i)
{
	if (!w->log_bev[i])
		return;
	split_lines(w, i ? LV_STREAM_STDERR : LV_STREAM_STDOUT, bufferevent_get_input(w->log_bev[i]),
	            true);
	flush_file(w);
	bufferevent_free(w->log_bev[i]);
	w->log_bev[i] = NULL;
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct worker *w = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		close_pipe(w, bev == w->log_bev[1]);
}

void logs_attach(struct worker *w, int out_fd, int err_fd)
{
	int fds[2] = { out_fd, err_fd };

	for (int i = 0; i < 2; i++) {
		struct bufferevent *bev;

		evutil_make_socket_nonblocking(fds[i]);
		bev = bufferevent_socket_new(w->pool->sup->base, fds[i], BEV_OPT_CLOSE_ON_FREE);
		if (!bev) {
			close(fds[i]);
			continue;
		}
		w->log_bev[i] = bev;
		bufferevent_setcb(bev, on_read, NULL, on_event, w);
		bufferevent_setwatermark(bev, EV_READ, 0, 4 * LV_LOG_MAX_LINE);
		bufferevent_set_max_single_read(bev, 4 * LV_LOG_MAX_LINE); /* a full pipe at once */
		bufferevent_enable(bev, EV_READ);
	}
}

void logs_drain(struct worker *w)
{
	for (int i = 0; i < 2; i++) {
		struct bufferevent *bev = w->log_bev[i];

		if (!bev)
			continue;
		/* what the process wrote before it died is in the pipe: take all of it (the
		 * bufferevent keeps its input's end frozen for itself: we take over) */
		evbuffer_unfreeze(bufferevent_get_input(bev), 0);
		while (evbuffer_read(bufferevent_get_input(bev), bufferevent_getfd(bev), 65536) > 0)
			split_lines(w, i ? LV_STREAM_STDERR : LV_STREAM_STDOUT,
			            bufferevent_get_input(bev), false);
		close_pipe(w, i);
	}
}

static int by_seq(const void *a, const void *b)
{
	uint64_t x = (*(struct log_rec *const *)a)->seq, y = (*(struct log_rec *const *)b)->seq;

	return x < y ? -1 : x > y;
}

json_t *logs_tail(struct supervisor *sup, struct worker **ws, int n_ws, unsigned n)
{
	struct log_rec **v;
	json_t *out = json_array();
	size_t m = 0, total = 0;

	(void)sup;
	for (int k = 0; k < n_ws; k++)
		total += ws[k]->ring_len;
	if (!(v = malloc(total * sizeof *v + 1)))
		return json_pack("{s:o}", "lines", out);
	for (int k = 0; k < n_ws; k++) {
		const struct worker *w = ws[k];
		for (unsigned i = 0; i < w->ring_len; i++)
			v[m++] = w->ring[(w->ring_next + w->ring_cap - w->ring_len + i) % w->ring_cap];
	}
	/* several workers: interleave by sequence number; then keep the last n */
	qsort(v, m, sizeof *v, by_seq);
	for (size_t i = m > n ? m - n : 0; i < m; i++)
		json_array_append_new(out, rec_json(v[i]));
	free(v);
	return json_pack("{s:o}", "lines", out);
}

void logs_free_worker(struct worker *w)
{
	logs_drain(w);
	for (unsigned i = 0; w->ring && i < w->ring_cap; i++)
		free(w->ring[i]);
	free(w->ring);
	w->ring = NULL;
}
