/* channels: the supervisor's end of each worker loop's channel: reads ready, heartbeat,
 * log and inspect messages, and sends stop and inspect requests. */
#include "daemon/channels.h"

#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "daemon/inspect.h"
#include "daemon/log.h"
#include "daemon/logs.h"
#include "ipc/channel.h"
#include "ipc/frame.h"

static void on_heartbeat(struct worker_loop *l, json_t *msg)
{
	json_t *counters = json_object_get(msg, "counters");

	l->lag_us = json_integer_value(json_object_get(msg, "lag_us"));
	l->lag_max_us = json_integer_value(json_object_get(msg, "lag_max_us"));
	l->events = json_integer_value(json_object_get(msg, "events"));
	if (json_is_object(counters)) {
		json_decref(l->counters);
		l->counters = json_incref(counters);
	}
	worker_heartbeat(l);
}

static void on_log(struct worker_loop *l, json_t *msg)
{
	json_t *text = json_object_get(msg, "msg");

	if (json_is_string(text))
		logs_line(l->w, LV_STREAM_LOG, json_string_value(text), json_string_length(text));
}

static void dispatch(void *arg, enum lv_msg_type type, json_t *msg)
{
	struct worker_loop *l = arg;

	switch (type) {
	case LV_MSG_READY:
		worker_loop_ready(l);
		break;
	case LV_MSG_HEARTBEAT:
		on_heartbeat(l, msg);
		break;
	case LV_MSG_LOG:
		on_log(l, msg);
		break;
	case LV_MSG_INSPECTED:
		inspect_reply(l->w->pool->sup, l, msg);
		break;
	default:
		log_warn("%s: ignoring an invalid channel message", l->w->name);
		break;
	}
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct worker_loop *l = arg;

	if (!lv_channel_read(bufferevent_get_input(bev), dispatch, l))
		log_warn("%s: channel line too long, dropped", l->w->name);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)arg;
	/* The worker closed its end; its exit arrives through SIGCHLD. */
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		bufferevent_disable(bev, EV_READ | EV_WRITE);
}

int channel_open(struct worker_loop *l, int fd)
{
	struct supervisor *sup = l->w->pool->sup;

	evutil_make_socket_nonblocking(fd);
	l->channel = bufferevent_socket_new(sup->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!l->channel) {
		close(fd);
		return -1;
	}
	bufferevent_setcb(l->channel, on_read, NULL, on_event, l);
	bufferevent_setwatermark(l->channel, EV_READ, 0, LV_CHANNEL_MAX_LINE + 1);
	bufferevent_enable(l->channel, EV_READ);
	return 0;
}

void channel_close(struct worker_loop *l)
{
	if (l->channel) {
		bufferevent_free(l->channel);
		l->channel = NULL;
	}
}

int channel_send(struct worker_loop *l, enum lv_msg_type type, json_t *members)
{
	json_t *msg = lv_msg_new(type, members);
	int rc = l->channel ? lv_frame_put_json(bufferevent_get_output(l->channel), msg) : -1;

	json_decref(msg);
	return rc;
}
