/* channel: messages on the supervisor-worker socketpair, one compact JSON object per line
 * with a "t" (type) member. Encoding and decoding only; both sides frame with ipc/frame. */
#ifndef LV_CHANNEL_H
#define LV_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#define LV_CHANNEL_MAX_LINE (64 * 1024)

enum lv_msg_type {
	LV_MSG_INVALID = 0,
	LV_MSG_READY,     /* worker -> supervisor: this loop's job started and serves */
	LV_MSG_HEARTBEAT, /* worker -> supervisor: {"lag_us", "lag_max_us", "events", "counters"} */
	LV_MSG_LOG,       /* worker -> supervisor: {"level", "msg"} */
	LV_MSG_INSPECTED, /* worker -> supervisor: {"id", loop stats, "job"} */
	LV_MSG_STOP,      /* supervisor -> worker: stop gracefully */
	LV_MSG_INSPECT,   /* supervisor -> worker: {"id"} */
};

/* Parses one line; on success returns the type and, if body != NULL, a new reference to
 * the whole message object. Unknown types and malformed lines give LV_MSG_INVALID. */
enum lv_msg_type lv_msg_parse(const char *line, size_t len, json_t **body);

/* Builds a message of the given type with optional extra members (stolen, may be NULL). */
json_t *lv_msg_new(enum lv_msg_type type, json_t *members);

const char *lv_msg_type_name(enum lv_msg_type type);

/* A heartbeat's members. The worker library writes heartbeats in one fixed form that the
 * supervisor reads without a JSON parser: at 10,000 workers they are most of what it
 * reads, and a parse cost more than the rest of their handling together. Any other
 * spelling of a heartbeat is still a heartbeat, read through lv_msg_parse. */
struct lv_heartbeat {
	unsigned loop;
	long long lag_us, lag_max_us, events;
	const char *counters; /* JSON text of the job's counters object (not checked by scan) */
	size_t counters_len;
};

/* {"t":"hb","loop":L,"lag_us":N,"lag_max_us":N,"events":N,"counters":C} and a newline into
 * buf; its length, or 0 if it does not fit. */
size_t lv_heartbeat_format(char *buf, size_t size, const struct lv_heartbeat *hb);
/* Reads a line (without its newline) in exactly that form: true with hb filled, its
 * counters pointing into line; false for anything else. */
bool lv_heartbeat_scan(const char *line, size_t len, struct lv_heartbeat *hb);

struct evbuffer;
/* Reads every complete message in `in` and hands it to handle (msg may be NULL for an
 * invalid one, which then has type LV_MSG_INVALID); heartbeats in the fixed form go to
 * heartbeat instead when it is not NULL. A line over LV_CHANNEL_MAX_LINE is dropped with
 * the rest of the buffer; returns false then. */
bool lv_channel_read(struct evbuffer *in, void (*handle)(void *arg, enum lv_msg_type type,
                     json_t *msg), void (*heartbeat)(void *arg, const struct lv_heartbeat *hb),
                     void *arg);

#endif
