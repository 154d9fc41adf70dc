/* frame: newline-delimited framing over a libevent evbuffer (control socket and channel).
 * Pure buffer work, no event loop: the caller drains what it consumed. */
#ifndef LV_FRAME_H
#define LV_FRAME_H

#include <stddef.h>
#include <event2/buffer.h>

enum lv_frame_result {
	LV_FRAME_NONE = 0,    /* no complete line yet */
	LV_FRAME_LINE = 1,    /* line and len point at one line (without its newline) */
	LV_FRAME_TOO_LONG = -1 /* more than max bytes without a newline */
};

/* Finds the next line in in. On LV_FRAME_LINE the line is contiguous in the buffer and
 * stays valid until lv_frame_consume(in, len) drains it (with its newline). */
enum lv_frame_result lv_frame_next(struct evbuffer *in, size_t max, const char **line,
                                   size_t *len);
void lv_frame_consume(struct evbuffer *in, size_t len);

/* Appends json (compact) and a newline; returns 0 or -1 when it cannot be encoded. */
struct json_t;
int lv_frame_put_json(struct evbuffer *out, const struct json_t *json);

#endif
