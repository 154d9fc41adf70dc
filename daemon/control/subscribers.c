/* subscribers: who receives the daemon's streams: event subscriptions with their filters
 * and overflow, log followers that skip what they cannot take, and the end of a stream
 * whose peer a reload left without a role. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "daemon/control/control_int.h"
#include "daemon/lib/log.h"

int subscribers_subscribe(void *client_io, unsigned mask, const char *target)
{
	struct client *cl = client_io;
	char *copy = target ? strdup(target) : NULL;

	if (target && !copy)
		return -1;
	free(cl->sub_target);
	cl->sub_target = copy;
	cl->sub_mask = mask;
	return 0;
}

bool subscribers_target_matches(const char *target, const char *pool, const char *worker)
{
	if (!target)
		return true;
	if (strchr(target, ':'))
		return worker && !strcmp(target, worker);
	return pool && !strcmp(target, pool);
}

void subscribers_close_after_notice(struct client *cl)
{
	struct timeval tv = { 30, 0 };

	cl->sub_mask = 0;
	cl->closing = 1;
	bufferevent_disable(cl->bev, EV_READ);
	if (!cl->linger)
		cl->linger = evtimer_new(cl->ctl->sup->base, control_on_linger, cl);
	if (cl->linger)
		evtimer_add(cl->linger, &tv);
}

/* A subscriber that does not read gets one last "overflow" event, then is disconnected:
 * the daemon neither blocks on it nor keeps queueing for it. */
static void overflow(struct client *cl)
{
	log_warn("control: a subscriber stopped reading its events: disconnecting it");
	lv_rpc_session_notify(cl->session, "event", json_pack("{s:s}", "event", "overflow"));
	subscribers_close_after_notice(cl);
}

/* Whether a subscriber or follower may still receive: a reload can take its role away,
 * and then the stream ends with a -32003 notice. */
bool subscribers_may_stream(struct client *cl)
{
	if (control_client_role(cl) != LV_ROLE_NONE)
		return true;
	log_warn("control: uid %u (pid %d) has no role any more: ending its stream",
	         (unsigned)cl->peer.uid, (int)cl->peer.pid);
	lv_rpc_session_send_error(cl->session, LV_RPC_PERMISSION_DENIED,
	                          "permission denied: the access list gives this peer no role now");
	subscribers_close_after_notice(cl);
	return false;
}

static void publish_event(void *ctx, int event, json_t *params, const char *pool,
                          const char *worker)
{
	struct control *ctl = ctx;
	struct client *cl;

	LIST_FOREACH(cl, &ctl->clients, link) {
		if (!(cl->sub_mask & (1u << event)) || cl->closing ||
		    !subscribers_target_matches(cl->sub_target, pool, worker) || !subscribers_may_stream(cl))
			continue;
		if (evbuffer_get_length(bufferevent_get_output(cl->bev)) > LV_SUBSCRIBER_MAX_QUEUE)
			overflow(cl);
		else
			lv_rpc_session_notify(cl->session, "event", json_incref(params));
	}
}

/* A follower that fell behind hears how many lines it missed before the next one. */
void subscribers_send_skipped(struct client *cl)
{
	lv_rpc_session_notify(cl->session, "log",
	                      json_pack("{s:I}", "skipped", (json_int_t)cl->skipped));
	cl->skipped = 0;
}

int subscribers_follow(void *client_io, const char *target)
{
	struct client *cl = client_io;
	char *copy = target ? strdup(target) : NULL;

	if (cl->follows) {
		free(copy);
		return -EALREADY; /* one follow per connection: replacing it silently lost lines */
	}
	if (target && !copy)
		return -ENOMEM;
	cl->follow_target = copy;
	cl->ctl->n_follows++;
	cl->follows = true;
	return 0;
}

static bool has_followers(void *ctx)
{
	const struct control *ctl = ctx;

	return ctl->n_follows > 0;
}

static void publish_line(void *ctx, json_t *line, const char *pool, const char *worker)
{
	struct control *ctl = ctx;
	size_t limit = lv_follower_limit(ctl->n_follows);
	struct client *cl;

	LIST_FOREACH(cl, &ctl->clients, link) {
		size_t queued;

		if (!cl->follows || cl->closing ||
		    !subscribers_target_matches(cl->follow_target, pool, worker) || !subscribers_may_stream(cl))
			continue;
		queued = evbuffer_get_length(bufferevent_get_output(cl->bev));
		if (cl->skipped && queued <= limit / 2)
			subscribers_send_skipped(cl); /* it has read half: lines go to it again */
		if (cl->skipped || queued > limit)
			cl->skipped++;
		else
			lv_rpc_session_notify(cl->session, "log", json_incref(line));
	}
}

struct lv_sink subscribers_sink(struct control *ctl)
{
	return (struct lv_sink){ .event = publish_event, .wants_lines = has_followers,
	                         .line = publish_line, .ctx = ctl };
}
