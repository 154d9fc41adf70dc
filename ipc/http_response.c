/* http_response: one HTTP/1.x response read incrementally (see http_response.h). */
#include "ipc/http_response.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum { S_STATUS, S_HEADER, S_BODY, S_CHUNK_SIZE, S_CHUNK_DATA, S_CHUNK_END, S_TRAILER, S_TO_EOF,
       S_DONE, S_ERROR };

#define INTERIM_MAX 8 /* 1xx answers before the final one */

static enum lv_http_rc fail(struct lv_http_response *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static enum lv_http_rc fail(struct lv_http_response *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->error, sizeof r->error, fmt, ap);
	va_end(ap);
	r->state = S_ERROR;
	return LV_HTTP_ERROR;
}

static void new_head(struct lv_http_response *r)
{
	r->state = S_STATUS;
	r->status = 0;
	r->http10 = r->close = r->chunked = r->has_length = r->to_eof = false;
	r->length = r->left = 0;
}

void lv_http_response_init(struct lv_http_response *r, char *body, size_t body_max)
{
	r->body = body;
	r->body_max = body ? body_max : 0;
	r->body_len = 0;
	r->reusable = false;
	if (body)
		body[0] = '\0';
	r->error[0] = '\0';
	r->line_len = 0;
	r->headers = 0;
	r->interim = 0;
	r->started = false;
	new_head(r);
}

static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Whether the comma-separated list `v` (n bytes) holds the token `tok`, in any case. */
static bool list_has(const char *v, size_t n, const char *tok)
{
	size_t toklen = strlen(tok);

	while (n) {
		size_t len = 0, end;

		while (n && (*v == ' ' || *v == '\t' || *v == ',')) {
			v++;
			n--;
		}
		while (len < n && v[len] != ',')
			len++;
		for (end = len; end && (v[end - 1] == ' ' || v[end - 1] == '\t'); end--)
			;
		if (end == toklen && !strncasecmp(v, tok, toklen))
			return true;
		v += len;
		n -= len;
	}
	return false;
}

/* The last element of the list `v`: the transfer coding applied last. */
static bool last_is_chunked(const char *v, size_t n)
{
	const char *comma = memrchr(v, ',', n);

	if (comma) {
		n -= (size_t)(comma + 1 - v);
		v = comma + 1;
	}
	return list_has(v, n, "chunked");
}

static enum lv_http_rc status_line(struct lv_http_response *r, const char *l, size_t n)
{
	if (n < 12 || memcmp(l, "HTTP/1.", 7) || (l[7] != '0' && l[7] != '1') || l[8] != ' ' ||
	    l[9] < '1' || l[9] > '5' || l[10] < '0' || l[10] > '9' || l[11] < '0' || l[11] > '9' ||
	    (n > 12 && l[12] != ' '))
		return fail(r, "not an HTTP/1.x status line");
	r->http10 = l[7] == '0';
	r->close = r->http10; /* unless it says keep-alive */
	r->status = (unsigned)((l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0'));
	if (r->status == 101)
		return fail(r, "status 101: a protocol switch, asked for by no probe");
	r->state = S_HEADER;
	return LV_HTTP_MORE;
}

static enum lv_http_rc content_length(struct lv_http_response *r, const char *v, size_t n)
{
	uint64_t len = 0;

	if (!n || n > 18 || strspn(v, "0123456789") < n)
		return fail(r, "a bad Content-Length");
	for (size_t i = 0; i < n; i++)
		len = len * 10 + (uint64_t)(v[i] - '0');
	if (r->has_length && len != r->length)
		return fail(r, "two different Content-Length headers");
	r->has_length = true;
	r->length = len;
	return LV_HTTP_MORE;
}

static enum lv_http_rc header_line(struct lv_http_response *r, const char *l, size_t n)
{
	const char *colon = memchr(l, ':', n), *v;
	size_t namelen, vlen;

	if (l[0] == ' ' || l[0] == '\t')
		return fail(r, "a folded header line");
	if (!colon || colon == l)
		return fail(r, "a header line without a name");
	namelen = (size_t)(colon - l);
	for (size_t i = 0; i < namelen; i++)
		if (!is_tchar(l[i]))
			return fail(r, "a bad header name");
	v = colon + 1;
	vlen = n - namelen - 1;
	while (vlen && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	if (r->state == S_TRAILER)
		return LV_HTTP_MORE; /* trailers change nothing here */
	if (namelen == 14 && !strncasecmp(l, "Content-Length", 14))
		return content_length(r, v, vlen);
	if (namelen == 17 && !strncasecmp(l, "Transfer-Encoding", 17)) {
		if (r->chunked)
			return fail(r, "a coding after chunked");
		r->chunked = last_is_chunked(v, vlen);
		r->to_eof = !r->chunked; /* another coding last: the body ends at the close */
	} else if (namelen == 10 && !strncasecmp(l, "Connection", 10)) {
		if (list_has(v, vlen, "close"))
			r->close = true;
		else if (r->http10 && list_has(v, vlen, "keep-alive"))
			r->close = false;
	}
	return LV_HTTP_MORE;
}

/* The empty line after the headers: what the body is. */
static enum lv_http_rc head_end(struct lv_http_response *r)
{
	if (r->status < 200) { /* interim: the final answer follows */
		if (++r->interim > INTERIM_MAX)
			return fail(r, "more than %d interim (1xx) answers", INTERIM_MAX);
		new_head(r);
		return LV_HTTP_MORE;
	}
	if (r->status == 204 || r->status == 304) {
		r->state = S_DONE;
	} else if (r->chunked || r->to_eof) {
		if (r->has_length) /* Transfer-Encoding wins; the peer is odd: not kept */
			r->close = true;
		r->state = r->chunked ? S_CHUNK_SIZE : S_TO_EOF;
	} else if (r->has_length) {
		r->left = r->length;
		r->state = r->left ? S_BODY : S_DONE;
	} else {
		r->to_eof = true;
		r->state = S_TO_EOF;
	}
	return LV_HTTP_MORE;
}

static enum lv_http_rc chunk_size(struct lv_http_response *r, const char *l, size_t n)
{
	uint64_t size = 0;
	size_t i;

	for (i = 0; i < n && l[i] && strchr("0123456789abcdefABCDEF", l[i]); i++) {
		if (i == 15)
			return fail(r, "a chunk size too big");
		size = size * 16 + (uint64_t)(l[i] <= '9' ? l[i] - '0' : (l[i] | 0x20) - 'a' + 10);
	}
	while (i < n && (l[i] == ' ' || l[i] == '\t'))
		i++;
	if (!i || (i < n && l[i] != ';'))
		return fail(r, "a bad chunk size");
	r->left = size;
	r->state = size ? S_CHUNK_DATA : S_TRAILER;
	return LV_HTTP_MORE;
}

static enum lv_http_rc line(struct lv_http_response *r, const char *l, size_t n)
{
	if (n && l[n - 1] == '\r')
		n--;
	if (memchr(l, '\r', n) || memchr(l, '\0', n))
		return fail(r, "a stray CR or NUL in a line");
	switch (r->state) {
	case S_STATUS:
		return status_line(r, l, n);
	case S_HEADER:
	case S_TRAILER:
		if (!n) {
			if (r->state == S_TRAILER) {
				r->state = S_DONE;
				return LV_HTTP_MORE;
			}
			return head_end(r);
		}
		if (++r->headers > LV_HTTP_HEADERS_MAX)
			return fail(r, "more than %d header lines", LV_HTTP_HEADERS_MAX);
		return header_line(r, l, n);
	case S_CHUNK_SIZE:
		return chunk_size(r, l, n);
	default: /* S_CHUNK_END */
		if (n)
			return fail(r, "a chunk longer than its size");
		r->state = S_CHUNK_SIZE;
		return LV_HTTP_MORE;
	}
}

static void keep_body(struct lv_http_response *r, const char *data, size_t n)
{
	size_t room = r->body_max - r->body_len;

	if (!r->body || !room)
		return;
	if (n > room)
		n = room;
	memcpy(r->body + r->body_len, data, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
}

enum lv_http_rc lv_http_response_feed(struct lv_http_response *r, const char *data, size_t len,
                                      size_t *used)
{
	size_t i = 0;

	*used = 0;
	if (r->state == S_ERROR)
		return LV_HTTP_ERROR;
	r->started |= len > 0;
	while (i < len && r->state != S_DONE) {
		if (r->state == S_BODY || r->state == S_CHUNK_DATA || r->state == S_TO_EOF) {
			size_t n = len - i;

			if (r->state != S_TO_EOF && n > r->left)
				n = (size_t)r->left;
			keep_body(r, data + i, n);
			i += n;
			if (r->state == S_TO_EOF)
				continue;
			if (!(r->left -= n))
				r->state = r->state == S_BODY ? S_DONE : S_CHUNK_END;
			continue;
		}
		const char *nl = memchr(data + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (data + i)) : len - i;

		if (r->line_len + n >= sizeof r->line)
			return fail(r, "a line longer than %d bytes", LV_HTTP_LINE_MAX);
		memcpy(r->line + r->line_len, data + i, n);
		r->line_len += n;
		i += n + (nl != NULL);
		if (!nl)
			break;
		n = r->line_len;
		r->line_len = 0;
		if (line(r, r->line, n) == LV_HTTP_ERROR)
			return LV_HTTP_ERROR;
	}
	*used = i;
	if (r->state != S_DONE)
		return LV_HTTP_MORE;
	r->reusable = !r->close && !r->to_eof;
	return LV_HTTP_DONE;
}

enum lv_http_rc lv_http_response_eof(struct lv_http_response *r)
{
	if (r->state == S_ERROR)
		return LV_HTTP_ERROR;
	if (r->state == S_TO_EOF) {
		r->state = S_DONE;
		r->reusable = false;
		return LV_HTTP_DONE;
	}
	if (r->state == S_DONE)
		return LV_HTTP_DONE;
	return fail(r, r->started ? "the connection closed before the answer was complete"
	                          : "the connection closed with no answer");
}
