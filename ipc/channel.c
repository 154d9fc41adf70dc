/* channel: the supervisor-worker message vocabulary and its JSON form.
 * Untrusted input from workers is parsed here with the same strictness as control lines. */
#include "ipc/channel.h"

#include <stdio.h>
#include <string.h>

#include "ipc/frame.h"

static const char *const names[] = {
	[LV_MSG_READY] = "ready",
	[LV_MSG_HEARTBEAT] = "hb",
	[LV_MSG_LOG] = "log",
	[LV_MSG_INSPECTED] = "inspected",
	[LV_MSG_STOP] = "stop",
	[LV_MSG_INSPECT] = "inspect",
};

const char *lv_msg_type_name(enum lv_msg_type type)
{
	if (type <= LV_MSG_INVALID || (size_t)type >= sizeof names / sizeof names[0])
		return "invalid";
	return names[type];
}

enum lv_msg_type lv_msg_parse(const char *line, size_t len, json_t **body)
{
	json_t *msg, *t;
	enum lv_msg_type type = LV_MSG_INVALID;

	if (len > LV_CHANNEL_MAX_LINE)
		return LV_MSG_INVALID;
	msg = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(msg))
		goto out;
	t = json_object_get(msg, "t");
	if (!json_is_string(t))
		goto out;
	for (size_t i = 1; i < sizeof names / sizeof names[0]; i++)
		if (names[i] && strcmp(names[i], json_string_value(t)) == 0)
			type = (enum lv_msg_type)i;
out:
	if (type != LV_MSG_INVALID && body)
		*body = json_incref(msg);
	json_decref(msg);
	return type;
}

#define HB_HEAD "{\"t\":\"hb\",\"loop\":"

size_t lv_heartbeat_format(char *buf, size_t size, const struct lv_heartbeat *hb)
{
	int n = snprintf(buf, size, HB_HEAD "%u,\"lag_us\":%lld,\"lag_max_us\":%lld,\"events\":%lld,"
	                 "\"counters\":%.*s}\n", hb->loop, hb->lag_us, hb->lag_max_us, hb->events,
	                 (int)hb->counters_len, hb->counters);

	return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

/* Matches lit at *p, then a non-negative decimal of at most 18 digits into *v. */
static bool scan_member(const char **p, const char *end, const char *lit, long long *v)
{
	size_t n = strlen(lit);
	int digits = 0;

	if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
		return false;
	*p += n;
	*v = 0;
	while (*p < end && **p >= '0' && **p <= '9' && digits++ < 18)
		*v = *v * 10 + (*(*p)++ - '0');
	return digits > 0 && digits <= 18;
}

bool lv_heartbeat_scan(const char *line, size_t len, struct lv_heartbeat *hb)
{
	const char *p = line, *end = line + len;
	long long loop;

	if (!scan_member(&p, end, HB_HEAD, &loop) || loop > 1000 ||
	    !scan_member(&p, end, ",\"lag_us\":", &hb->lag_us) ||
	    !scan_member(&p, end, ",\"lag_max_us\":", &hb->lag_max_us) ||
	    !scan_member(&p, end, ",\"events\":", &hb->events) ||
	    (size_t)(end - p) < sizeof ",\"counters\":{}}" - 1 ||
	    memcmp(p, ",\"counters\":{", sizeof ",\"counters\":{" - 1) != 0 || end[-1] != '}' ||
	    end[-2] != '}')
		return false;
	hb->loop = (unsigned)loop;
	hb->counters = p + sizeof ",\"counters\":" - 1;
	hb->counters_len = (size_t)(end - 1 - hb->counters);
	return true;
}

bool lv_channel_read(struct evbuffer *in, void (*handle)(void *arg, enum lv_msg_type type,
                     json_t *msg), void (*heartbeat)(void *arg, const struct lv_heartbeat *hb),
                     void *arg)
{
	enum lv_frame_result r;
	const char *line;
	size_t len;

	while ((r = lv_frame_next(in, LV_CHANNEL_MAX_LINE, &line, &len)) == LV_FRAME_LINE) {
		json_t *msg = NULL;
		struct lv_heartbeat hb;
		enum lv_msg_type type;

		if (heartbeat && lv_heartbeat_scan(line, len, &hb)) {
			heartbeat(arg, &hb); /* hb points into the line: consumed after */
			lv_frame_consume(in, len);
			continue;
		}
		type = lv_msg_parse(line, len, &msg);
		lv_frame_consume(in, len);
		handle(arg, type, msg);
		json_decref(msg);
	}
	if (r == LV_FRAME_TOO_LONG) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return false;
	}
	return true;
}

json_t *lv_msg_new(enum lv_msg_type type, json_t *members)
{
	json_t *msg = members ? members : json_object();

	json_object_set_new(msg, "t", json_string(lv_msg_type_name(type)));
	return msg;
}
