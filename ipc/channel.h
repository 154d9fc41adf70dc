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

struct evbuffer;
/* Reads every complete message in `in` and hands it to handle (msg may be NULL for an
 * invalid one, which then has type LV_MSG_INVALID). A line over LV_CHANNEL_MAX_LINE is
 * dropped with the rest of the buffer; returns false then. */
bool lv_channel_read(struct evbuffer *in, void (*handle)(void *arg, enum lv_msg_type type,
                     json_t *msg), void *arg);

#endif
