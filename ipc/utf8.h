/* utf8: what jansson accepts as UTF-8, and how to make a byte string acceptable: cut on a
 * character boundary, invalid bytes replaced. For messages built with snprintf. */
#ifndef LV_UTF8_H
#define LV_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the valid UTF-8 sequence at s (NUL-terminated), or 0: overlong forms,
 * surrogates and code points past U+10FFFF are invalid, as jansson judges them. */
size_t lv_utf8_seq(const unsigned char *s);
bool lv_utf8_valid(const char *s);
/* Makes s valid UTF-8 in place and returns it: a character cut short at the end (by a
 * fixed-size buffer) is removed, any other invalid byte becomes '?'. */
char *lv_utf8_fix(char *s);

#endif
