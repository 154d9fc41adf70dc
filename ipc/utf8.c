/* utf8: validity as jansson judges it, and repairing text cut by a fixed-size buffer so
 * that jansson takes it (it refuses a whole string for one bad byte). */
#include "ipc/utf8.h"

size_t lv_utf8_seq(const unsigned char *s)
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
			return 0; /* a NUL ends the loop here too: never reads past the string */
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

bool lv_utf8_valid(const char *s)
{
	for (size_t n; *s; s += n)
		if (!(n = lv_utf8_seq((const unsigned char *)s)))
			return false;
	return true;
}

/* True if s is a lead byte followed only by continuation bytes, too few of them, and then
 * the end: a character a buffer cut in two. */
static bool cut_short(const unsigned char *s)
{
	size_t need = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0, i = 1;

	while (i < need && (s[i] & 0xc0) == 0x80)
		i++;
	return need && i < need && s[i] == '\0';
}

char *lv_utf8_fix(char *s)
{
	unsigned char *p = (unsigned char *)s;
	size_t n;

	while (*p) {
		if ((n = lv_utf8_seq(p))) {
			p += n;
		} else if (cut_short(p)) {
			*p = '\0';
		} else {
			*p++ = '?';
		}
	}
	return s;
}
