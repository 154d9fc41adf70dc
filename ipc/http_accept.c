/* http_accept: media ranges of an Accept header (RFC 9110 12.5.1), comma-separated, each
 * "type/sub" with parameters after ';', of which only q matters here. */
#include "ipc/http_accept.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Skips blanks (space, tab) from p up to end. */
static const char *blank(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* The q of the parameters in [p, end): 1 unless a "q=" says otherwise (0 when unreadable). */
static double q_of(const char *p, const char *end)
{
	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p)), *stop = semi ? semi : end;

		p = blank(p, stop);
		if (stop - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
			char num[16];
			size_t n = (size_t)(stop - p - 2);
			char *after;
			double q;

			if (n == 0 || n >= sizeof num)
				return 0;
			memcpy(num, p + 2, n);
			num[n] = '\0';
			q = strtod(num, &after);
			return after == num || q < 0 || q > 1 ? 0 : q; /* q=1.5 or q=x: not a q */
		}
		p = stop + (stop < end);
	}
	return 1;
}

/* Whether the media range [p, end) names type with a q above 0. */
static bool range_accepts(const char *p, const char *end, const char *type)
{
	const char *tok, *semi;

	p = blank(p, end);
	for (tok = p; tok < end && *tok != ';' && *tok != ' ' && *tok != '\t'; tok++)
		;
	if ((size_t)(tok - p) != strlen(type) || strncasecmp(p, type, (size_t)(tok - p)) != 0)
		return false;
	semi = memchr(tok, ';', (size_t)(end - tok));
	if (blank(tok, semi ? semi : end) != (semi ? semi : end))
		return false; /* something else after the type */
	return q_of(semi ? semi + 1 : end, end) > 0;
}

bool lv_http_accepts(const char *accept, const char *type)
{
	const char *p = accept;

	while (p && *p) {
		const char *comma = strchr(p, ','), *end = comma ? comma : p + strlen(p);

		if (range_accepts(p, end, type))
			return true;
		p = comma ? comma + 1 : NULL;
	}
	return false;
}
