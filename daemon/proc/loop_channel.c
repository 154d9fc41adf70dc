/* loop_channel: the supervisor's end of each worker loop's channel: reads ready, heartbeat,
 * log and inspect messages, and sends stop and inspect requests. It reports to its owner
 * through the hooks of struct loop_channels, and keeps a loop's lag and counters. */
#include "daemon/proc/loop_channel.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <sys/ioctl.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "daemon/lib/clock.h"
#include "daemon/lib/log.h"
#include "daemon/lib/ratewin.h"
#include "daemon/proc/output.h"
#include "ipc/channel.h"
#include "ipc/frame.h"

/* The loop misbehaves toward the daemon: its owner hears why (and evicts it). */
static void misbehaved(struct loop_channel *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void misbehaved(struct loop_channel *l, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	l->all->hooks.misbehaved(l->all->hooks.ctx, l->owner, why);
}

static void beat(struct loop_channel *l, int64_t lag_us, int64_t lag_max_us, int64_t events)
{
	l->lag_us = lag_us;
	l->lag_max_us = lag_max_us;
	l->events = events;
	l->all->hooks.beat(l->all->hooks.ctx, l->owner, l->index);
}

/* A heartbeat in any other spelling than the library's */
static void on_heartbeat(struct loop_channel *l, json_t *msg)
{
	json_t *counters = json_object_get(msg, "counters");

	if (json_is_object(counters)) {
		json_decref(l->counters);
		l->counters = json_incref(counters);
		free(l->counters_text);
		l->counters_text = NULL;
	}
	beat(l, json_integer_value(json_object_get(msg, "lag_us")),
	     json_integer_value(json_object_get(msg, "lag_max_us")),
	     json_integer_value(json_object_get(msg, "events")));
}

/* Counters as text: parsed only when they differ from the last ones (an idle job's do not);
 * false if they are not a JSON object. */
static bool take_counters_text(struct loop_channel *l, const char *text, size_t len)
{
	json_t *c;
	char *copy;

	if (l->counters_text && l->counters_len == len && memcmp(l->counters_text, text, len) == 0)
		return true;
	c = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(c) || !(copy = malloc(len))) {
		json_decref(c);
		return false;
	}
	memcpy(copy, text, len);
	free(l->counters_text);
	l->counters_text = copy;
	l->counters_len = len;
	json_decref(l->counters);
	l->counters = c;
	return true;
}

static void on_log(struct loop_channel *l, json_t *msg)
{
	json_t *text = json_object_get(msg, "msg");

	if (json_is_string(text))
		output_line(l->output, LV_STREAM_LOG, json_string_value(text),
		            json_string_length(text));
}

/* What one loop may send: generous for logging jobs, far below a flood. In bytes too: 60 KiB
 * messages under the message rate are over a gigabyte a second to parse. A busy logging
 * job (a thousand 2 KiB lv_log lines a second, or the full message rate of 200-byte ones)
 * and heartbeats with hundreds of counters every 10 ms stay well below 4 MiB/s. */
#define CHANNEL_MAX_PER_SECOND 20000
#define CHANNEL_MAX_BYTES_PER_SECOND (4 * 1024 * 1024)
#define CHANNEL_MAX_FLOOD_SECONDS 5
#define CHANNEL_FULL_READS 8 /* reads in a second that can tell a channel kept full */
/* libevent 2.1 reads at most this much at once from a socket with more waiting
 * (EVBUFFER_MAX_READ): a read of less found the socket emptied */
#define LIBEVENT_MAX_READ 4096
#define CHANNEL_MAX_INVALID 100
#define CHANNEL_MAX_OUTPUT (64 * 1024) /* unread bytes the daemon queues for one loop */

static void on_read(struct bufferevent *bev, void *arg);

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct loop_channel *l = arg;

	(void)fd;
	(void)what;
	if (!l->bev)
		return;
	bufferevent_enable(l->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_input(l->bev)) > 0)
		on_read(l->bev, l); /* what waited in the buffer */
}

/* Which budget the loop is over this second ("20000 messages", "4096 KiB"), or NULL. */
static const char *over_budget(const struct loop_channel *l)
{
	static char text[32];

	if (l->window.count > CHANNEL_MAX_PER_SECOND)
		snprintf(text, sizeof text, "%d messages", CHANNEL_MAX_PER_SECOND);
	else if (l->window.bytes > CHANNEL_MAX_BYTES_PER_SECOND)
		snprintf(text, sizeof text, "%d KiB", CHANNEL_MAX_BYTES_PER_SECOND / 1024);
	else
		return NULL;
	return text;
}

/* Did the loop keep the daemon's read side full this second: did every one of at least
 * CHANNEL_FULL_READS reads leave bytes in the socket? A daemon too slow (starved, under
 * valgrind) to read a flood at the budget's rate sees it so; a loop the daemon keeps up
 * with, however bursty, is read to the last byte at least once a second. */
static bool kept_full(const struct loop_channel *l)
{
	return l->window_reads >= CHANNEL_FULL_READS && l->window_left == l->window_reads;
}

/* One more second over budget or kept full: false if that makes CHANNEL_MAX_FLOOD_SECONDS
 * in a row and the worker is evicted. */
static bool count_flood_second(struct loop_channel *l, const char *how)
{
	if (++l->flood_seconds >= CHANNEL_MAX_FLOOD_SECONDS) {
		misbehaved(l, "flooding its channel: %s for %d s", how, CHANNEL_MAX_FLOOD_SECONDS);
		return false;
	}
	log_warn("%s: loop %u floods its channel: %s", l->name, l->index, how);
	return true;
}

/* Ends the second: one over budget was counted when it went over, one that kept the
 * channel full is counted now, any other ends a flood. False if the worker was evicted. */
static bool end_window(struct loop_channel *l, uint64_t now)
{
	if (!over_budget(l) && kept_full(l) && !count_flood_second(l, "kept it full"))
		return false;
	if (!over_budget(l) && !kept_full(l))
		l->flood_seconds = 0;
	lv_ratewin_roll(&l->window, now);
	l->window_reads = l->window_left = 0;
	return true;
}

/* Is the loop within its budget of messages and bytes this second? If not, its channel
 * waits for the next second; after CHANNEL_MAX_FLOOD_SECONDS such seconds in a row (or
 * seconds it kept the channel full) it is evicted. */
static bool within_budget(struct loop_channel *l)
{
	uint64_t now = lv_now_ms();
	char over[48];

	if (lv_ratewin_ended(&l->window, now) && !end_window(l, now))
		return false;
	if (!over_budget(l))
		return true;
	if (l->throttled_ms != l->window.start_ms) { /* once per second */
		l->throttled_ms = l->window.start_ms;
		snprintf(over, sizeof over, "over %s/s", over_budget(l));
		if (!count_flood_second(l, over))
			return false;
	}
	{
		struct timeval tv = { 0, (suseconds_t)(lv_ratewin_left_ms(&l->window, now) + 1) * 1000 };

		bufferevent_disable(l->bev, EV_READ);
		if (!l->resume)
			l->resume = evtimer_new(l->all->base, on_resume, l);
		if (l->resume)
			evtimer_add(l->resume, &tv);
	}
	return false;
}

/* After a read: were bytes left in the socket? (kept_full) */
static void note_unread(struct loop_channel *l, size_t got)
{
	size_t room = LV_CHANNEL_MAX_LINE + 1 - l->kept; /* what the read could take */
	size_t asked = (size_t)bufferevent_get_max_single_read(l->bev);
	int unread = 0;

	if (got == 0)
		return; /* no read: what waited in the buffer after a throttled second */
	l->window_reads++;
	if (asked > room)
		asked = room;
	if (asked > LIBEVENT_MAX_READ)
		asked = LIBEVENT_MAX_READ;
	/* a read that took less than it could emptied the socket: no system call to ask */
	if (got < asked)
		return;
	if (ioctl(bufferevent_getfd(l->bev), FIONREAD, &unread) == 0 && unread > 0)
		l->window_left++;
}

static void dispatch(void *arg, enum lv_msg_type type, json_t *msg)
{
	struct loop_channel *l = arg;

	lv_ratewin_charge(&l->window, 0); /* bytes: counted per read (on_read) */
	if (type == LV_MSG_INVALID && ++l->invalid_msgs == CHANNEL_MAX_INVALID) {
		misbehaved(l, "sent %d invalid channel messages", CHANNEL_MAX_INVALID);
		return;
	}
	switch (type) {
	case LV_MSG_READY:
		l->all->hooks.ready(l->all->hooks.ctx, l->owner, l->index);
		break;
	case LV_MSG_HEARTBEAT:
		on_heartbeat(l, msg);
		break;
	case LV_MSG_LOG:
		on_log(l, msg);
		break;
	case LV_MSG_INSPECTED:
		l->all->hooks.inspected(l->all->hooks.ctx, l->owner, l->index, msg);
		break;
	default:
		if (l->invalid_msgs < 3)
			log_warn("%s: ignoring an invalid channel message", l->name);
		break;
	}
}

/* A heartbeat in the library's fixed form, read without a parser (ipc/channel.h) */
static void scanned_heartbeat(void *arg, const struct lv_heartbeat *hb)
{
	struct loop_channel *l = arg;

	if (!take_counters_text(l, hb->counters, hb->counters_len)) {
		dispatch(l, LV_MSG_INVALID, NULL);
		return;
	}
	lv_ratewin_charge(&l->window, 0);
	beat(l, hb->lag_us, hb->lag_max_us, hb->events);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct loop_channel *l = arg;
	size_t before = evbuffer_get_length(bufferevent_get_input(bev));

	if (!within_budget(l)) {
		l->kept = before;
		return; /* the input waits in the buffer (and the socket) until the next second */
	}
	if (!lv_channel_read(bufferevent_get_input(bev), dispatch, scanned_heartbeat, l))
		log_warn("%s: channel line too long, dropped", l->name);
	if (!l->bev)
		return;
	l->window.bytes += before - evbuffer_get_length(bufferevent_get_input(l->bev));
	note_unread(l, before - l->kept);
	l->kept = evbuffer_get_length(bufferevent_get_input(l->bev));
	within_budget(l); /* over it now: wait before reading more */
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)arg;
	/* The worker closed its end; its exit arrives through SIGCHLD. */
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		bufferevent_disable(bev, EV_READ | EV_WRITE);
}

int loop_channel_open(struct loop_channel *l, int fd)
{
	evutil_make_socket_nonblocking(fd);
	l->bev = bufferevent_socket_new(l->all->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!l->bev) {
		close(fd);
		return -1;
	}
	bufferevent_setcb(l->bev, on_read, NULL, on_event, l);
	bufferevent_setwatermark(l->bev, EV_READ, 0, LV_CHANNEL_MAX_LINE + 1);
	bufferevent_enable(l->bev, EV_READ);
	return 0;
}

void loop_channel_close(struct loop_channel *l)
{
	if (l->resume) {
		event_free(l->resume);
		l->resume = NULL;
	}
	l->window.count = l->invalid_msgs = l->flood_seconds = l->window_reads = l->window_left = 0;
	l->kept = 0;
	l->window.bytes = 0;
	if (l->bev) {
		bufferevent_free(l->bev);
		l->bev = NULL;
	}
}

int loop_channel_send(struct loop_channel *l, enum lv_msg_type type, json_t *members)
{
	json_t *msg;
	int rc;

	/* a loop that does not read its channel gets no more than this queued (a stop always
	 * goes): readers asking it for inspect after inspect cannot grow the daemon */
	if (!l->bev || (type != LV_MSG_STOP &&
	                    evbuffer_get_length(bufferevent_get_output(l->bev)) > CHANNEL_MAX_OUTPUT)) {
		json_decref(members);
		return -1;
	}
	msg = lv_msg_new(type, members);
	rc = lv_frame_put_json(bufferevent_get_output(l->bev), msg);
	json_decref(msg);
	return rc;
}

void loop_channel_forget(struct loop_channel *l)
{
	json_decref(l->counters);
	l->counters = NULL;
	free(l->counters_text);
	l->counters_text = NULL;
	l->counters_len = 0;
	l->lag_us = l->lag_max_us = l->events = 0;
}
