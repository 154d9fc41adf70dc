/* http_response: reads one HTTP/1.x response as its bytes arrive (the http probes' client).
 * Pure: no I/O, no allocation. It takes what a GET may get back: interim 1xx answers
 * (skipped), a body by Content-Length, chunked or up to the close, none for 204 and 304, and
 * says whether the connection may carry the next request. What the peer sends is untrusted:
 * lines, header count and sizes are bounded, and anything ambiguous (two lengths, a folded
 * header, a bad chunk size) is an error, never a guess. */
#ifndef LV_HTTP_RESPONSE_H
#define LV_HTTP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LV_HTTP_LINE_MAX 8192   /* a status, header or chunk-size line */
#define LV_HTTP_HEADERS_MAX 100 /* header lines of one response (trailers included) */

enum lv_http_rc { LV_HTTP_MORE, LV_HTTP_DONE, LV_HTTP_ERROR };

struct lv_http_response {
	/* the answer, once DONE */
	unsigned status;     /* the final status code, 200..599 */
	bool reusable;       /* the connection may carry another request */
	char *body;          /* the body's first body_max bytes (NUL-terminated), or NULL */
	size_t body_len, body_max;
	char error[96];      /* what was wrong, after an LV_HTTP_ERROR */
	/* the reader's own */
	int state;
	char line[LV_HTTP_LINE_MAX];
	size_t line_len;
	unsigned headers, interim;
	bool started;        /* a byte came */
	bool http10, close, chunked, has_length, to_eof;
	uint64_t length, left;
};

/* Readies r for a response; body: where its first body_max bytes go (body_max + 1 bytes, for
 * the NUL), or NULL when the body does not matter. */
void lv_http_response_init(struct lv_http_response *r, char *body, size_t body_max);
/* Reads len more bytes. MORE: the response goes on. DONE: it is complete, in the first *used
 * bytes (what follows is not part of it). ERROR: r->error says why. */
enum lv_http_rc lv_http_response_feed(struct lv_http_response *r, const char *data, size_t len,
                                      size_t *used);
/* The peer closed the connection: DONE when that ends the body, else ERROR. */
enum lv_http_rc lv_http_response_eof(struct lv_http_response *r);

#endif
