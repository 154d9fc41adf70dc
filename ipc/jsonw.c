/* jsonw: compact JSON text without intermediate objects. */
#include "ipc/jsonw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/utf8.h"

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

void jsonw_str(struct jsonw *w, const char *s)
{
	bool ascii_only;
	size_t len;

	if (!s) {
		jsonw_lit(w, "null");
		return;
	}
	len = strlen(s);
	ascii_only = !lv_utf8_valid(s); /* like status did with jansson: non-ASCII becomes '?' */
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
