/* jsonw: writes compact JSON text straight into a growing buffer, for replies too big to
 * build as jansson objects first (status of 10000 workers). The caller places commas and
 * braces; the writer escapes strings. An allocation failure sticks: jsonw_finish says so. */
#ifndef LV_JSONW_H
#define LV_JSONW_H

#include <stdbool.h>
#include <stddef.h>

struct jsonw {
	char *buf;
	size_t len, cap;
	bool failed;
};

void jsonw_raw(struct jsonw *w, const char *text, size_t len);
/* A string literal (keys, punctuation), never a pointer: jsonw_lit(w, "{\"name\":") */
#define jsonw_lit(w, s) jsonw_raw((w), "" s, sizeof(s) - 1)
/* A string value, quoted and escaped; bytes that are not UTF-8 become '?'; NULL is null. */
void jsonw_str(struct jsonw *w, const char *s);
void jsonw_int(struct jsonw *w, long long v);
/* v when present is true, else null. */
void jsonw_int_or_null(struct jsonw *w, bool present, long long v);
/* The text (malloc'd, NUL-terminated; the caller frees it), or NULL if memory ran out. */
char *jsonw_finish(struct jsonw *w);

#endif
