/* frame: newline-delimited JSON framing on evbuffers.
 * jansson has no incremental parser, so whole lines are found here and parsed at once. */
#include "ipc/frame.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

enum lv_frame_result lv_frame_next(struct evbuffer *in, size_t max, const char **line,
                                   size_t *len)
{
	size_t eol_len = 0;
	struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);

	if (eol.pos < 0)
		return evbuffer_get_length(in) > max ? LV_FRAME_TOO_LONG : LV_FRAME_NONE;
	if ((size_t)eol.pos > max)
		return LV_FRAME_TOO_LONG;
	*len = (size_t)eol.pos;
	*line = (const char *)evbuffer_pullup(in, eol.pos + (ssize_t)eol_len);
	return LV_FRAME_LINE;
}

void lv_frame_consume(struct evbuffer *in, size_t len)
{
	evbuffer_drain(in, len + 1);
}

int lv_frame_put_json(struct evbuffer *out, const struct json_t *json)
{
	char *text = json_dumps(json, JSON_COMPACT);
	int rc;

	if (!text)
		return -1;
	rc = evbuffer_add(out, text, strlen(text)) == 0 && evbuffer_add(out, "\n", 1) == 0 ? 0 : -1;
	free(text);
	return rc;
}
