/* fuzz_http_response: the http probes' reader of answers (ipc/http_response.c) on arbitrary
 * bytes, as a server under a worker's control may send them. The first byte says how the
 * rest arrives (in pieces of 1 to 256 bytes); the verdict must be the same as when it
 * arrives whole, and the reader must stay inside its bounds either way. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/http_response.h"

#define BODY_MAX 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	enum lv_http_rc rc;
	size_t used;
	unsigned status;
	bool reusable;
	char body[BODY_MAX + 1];
};

static void read_in(struct lv_http_response *r, const char *text, size_t len, size_t step,
                    struct seen *s)
{
	size_t off = 0;

	lv_http_response_init(r, s->body, BODY_MAX);
	s->rc = LV_HTTP_MORE;
	while (off < len && s->rc == LV_HTTP_MORE) {
		size_t n = len - off > step ? step : len - off, used;

		s->rc = lv_http_response_feed(r, text + off, n, &used);
		if (used > n || (s->rc == LV_HTTP_MORE && used != n))
			abort();
		off += used;
	}
	if (s->rc == LV_HTTP_MORE)
		s->rc = lv_http_response_eof(r);
	s->used = off;
	s->status = r->status;
	s->reusable = r->reusable;
	if (r->body_len > BODY_MAX || strlen(s->body) > r->body_len)
		abort();
	if (s->rc == LV_HTTP_DONE && (s->status < 200 || s->status > 599))
		abort();
	if (s->rc == LV_HTTP_ERROR && !r->error[0])
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct lv_http_response r;
	struct seen whole = { 0 }, pieces = { 0 };

	if (!size)
		return 0;
	read_in(&r, (const char *)data + 1, size - 1, size, &whole);
	read_in(&r, (const char *)data + 1, size - 1, (size_t)data[0] + 1, &pieces);
	if (whole.rc != pieces.rc)
		abort();
	if (whole.rc == LV_HTTP_DONE &&
	    (whole.used != pieces.used || whole.status != pieces.status || whole.reusable != pieces.reusable ||
	     memcmp(whole.body, pieces.body, BODY_MAX + 1)))
		abort();
	return 0;
}
