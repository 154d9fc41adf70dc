/* template: expands {index}, {index+N}, {pool}, {name}, {{ and }} (see template.h). */
#include "config/template.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sink {
	char *out;
	size_t outlen;
	size_t len;                  /* what the whole expansion needs, without the NUL */
};

static void put(struct sink *s, const char *text, size_t n)
{
	if (s->len < s->outlen) {
		size_t room = s->outlen - 1 - s->len;

		memcpy(s->out + s->len, text, n < room ? n : room);
	}
	s->len += n;
}

/* {index+N}: N is digits only, no sign or spaces, at most LV_TEMPLATE_OFFSET_MAX. */
static int parse_offset(const char *digits, size_t n, unsigned long *out)
{
	unsigned long v = 0;

	if (n == 0 || n > 7)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)digits[i]))
			return -1;
		v = v * 10 + (unsigned long)(digits[i] - '0');
	}
	if (v > LV_TEMPLATE_OFFSET_MAX)
		return -1;
	*out = v;
	return 0;
}

/* One placeholder, the text between { and }: 0, or -1 with why. */
static int placeholder(struct sink *s, const char *name, size_t n,
                       const struct lv_template_vars *v, char *why, size_t whylen)
{
	char num[32];
	unsigned long offset = 0;

	if (n == 4 && !memcmp(name, "pool", 4)) {
		put(s, v->pool, strlen(v->pool));
		return 0;
	}
	if (n == 4 && !memcmp(name, "name", 4)) {
		put(s, v->name, strlen(v->name));
		return 0;
	}
	if (n >= 5 && !memcmp(name, "index", 5)) {
		if (n > 5 && (name[5] != '+' || parse_offset(name + 6, n - 6, &offset) < 0)) {
			snprintf(why, whylen, "bad placeholder {%.*s}: write {index+N} with N a number "
			         "from 0 to %d", (int)(n > 40 ? 40 : n), name, LV_TEMPLATE_OFFSET_MAX);
			return -1;
		}
		snprintf(num, sizeof num, "%lu", (unsigned long)v->index + offset);
		put(s, num, strlen(num));
		return 0;
	}
	snprintf(why, whylen, "unknown placeholder {%.*s%s}: known are {index}, {index+N}, {pool}, "
	         "{name}; {{ is a literal {", (int)(n > 40 ? 40 : n), name, n > 40 ? "..." : "");
	return -1;
}

long lv_template_expand(const char *in, const struct lv_template_vars *vars, char *out,
                        size_t outlen, char *why, size_t whylen)
{
	struct sink s = { out, outlen, 0 };
	const char *p = in;

	while (*p) {
		const char *open = strpbrk(p, "{}"), *close;

		if (!open) {
			put(&s, p, strlen(p));
			break;
		}
		put(&s, p, (size_t)(open - p));
		if (open[1] == open[0] || open[0] == '}') { /* {{ and }} are one brace; a lone } too */
			put(&s, open, 1);
			p = open + 1 + (open[1] == open[0]);
			continue;
		}
		if (!(close = strchr(open + 1, '}'))) {
			snprintf(why, whylen, "unclosed placeholder \"%.40s\" (write {{ for a literal {)",
			         open);
			return -1;
		}
		if (placeholder(&s, open + 1, (size_t)(close - open - 1), vars, why, whylen) < 0)
			return -1;
		p = close + 1;
	}
	if (outlen)
		out[s.len < outlen ? s.len : outlen - 1] = '\0';
	return (long)s.len;
}

char *lv_template_dup(const char *in, const struct lv_template_vars *vars, char *why,
                      size_t whylen)
{
	long n = lv_template_expand(in, vars, NULL, 0, why, whylen);
	char *out;

	if (n < 0)
		return NULL;
	if (!(out = malloc((size_t)n + 1))) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	lv_template_expand(in, vars, out, (size_t)n + 1, why, whylen);
	return out;
}

char *lv_template_escape(const char *text)
{
	size_t n = strlen(text), braces = 0;
	char *out, *o;

	for (const char *c = text; *c; c++)
		braces += *c == '{' || *c == '}';
	if (!(o = out = malloc(n + braces + 1)))
		return NULL;
	for (const char *c = text; *c; c++) {
		*o++ = *c;
		if (*c == '{' || *c == '}')
			*o++ = *c;
	}
	*o = '\0';
	return out;
}
