/* jsonw: compact JSON text without intermediate objects. */
#include "ipc/jsonw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool reserve(struct jsonw *w, size_t more)
{
	char *grown;
	size_t cap;

	if (w->failed)
		return false;
	if (w->len + more < w->cap)
		return true;
	for (cap = w->cap ? w->cap : 4096; cap <= w->len + more; cap *= 2)
		;
	if (!(grown = realloc(w->buf, cap))) {
		w->failed = true;
		return false;
	}
	w->buf = grown;
	w->cap = cap;
	return true;
}

void jsonw_raw(struct jsonw *w, const char *text, size_t len)
{
	if (!reserve(w, len))
		return;
	memcpy(w->buf + w->len, text, len);
	w->len += len;
}

/* Length of the valid UTF-8 sequence at s, or 0 (overlong forms, surrogates and code
 * points past U+10FFFF are invalid, as jansson judges them). */
static size_t utf8_seq(const unsigned char *s)
{
	unsigned c = s[0], cp;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

static bool utf8_valid(const char *s)
{
	for (size_t n; *s; s += n)
		if (!(n = utf8_seq((const unsigned char *)s)))
			return false;
	return true;
}

void jsonw_str(struct jsonw *w, const char *s)
{
	bool ascii_only;
	size_t len;

	if (!s) {
		jsonw_lit(w, "null");
		return;
	}
	len = strlen(s);
	ascii_only = !utf8_valid(s); /* like status did with jansson: non-ASCII becomes '?' */
	if (!reserve(w, len * 6 + 2)) /* the worst case: every byte as \u00XX */
		return;
	w->buf[w->len++] = '"';
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		char *out = w->buf + w->len;

		if (*c == '"' || *c == '\\') {
			out[0] = '\\';
			out[1] = (char)*c;
			w->len += 2;
		} else if (*c < 0x20) {
			w->len += (size_t)snprintf(out, 7, "\\u%04x", *c);
		} else {
			*out = ascii_only && *c >= 0x80 ? '?' : (char)*c;
			w->len++;
		}
	}
	w->buf[w->len++] = '"';
}

void jsonw_int(struct jsonw *w, long long v)
{
	char num[24];

	jsonw_raw(w, num, (size_t)snprintf(num, sizeof num, "%lld", v));
}

void jsonw_int_or_null(struct jsonw *w, bool present, long long v)
{
	if (present)
		jsonw_int(w, v);
	else
		jsonw_lit(w, "null");
}

char *jsonw_finish(struct jsonw *w)
{
	if (!reserve(w, 1)) {
		free(w->buf);
		w->buf = NULL;
		return NULL;
	}
	w->buf[w->len] = '\0';
	return w->buf;
}
