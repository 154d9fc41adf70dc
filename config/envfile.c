/* envfile: parses systemd EnvironmentFile= text (see envfile.h). */
#include "config/envfile.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct buf {
	char *s;
	size_t len, cap;
};

static int buf_put(struct buf *b, char c)
{
	if (b->len + 1 >= b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		char *s = realloc(b->s, cap);

		if (!s)
			return -1;
		b->s = s;
		b->cap = cap;
	}
	b->s[b->len++] = c;
	b->s[b->len] = '\0';
	return 0;
}

static bool key_char(char c, bool first)
{
	return c == '_' || isalpha((unsigned char)c) || (!first && isdigit((unsigned char)c));
}

static int append(char ***vars, size_t *n, const char *key, size_t keylen, const char *value)
{
	char **v;
	char *entry;

	if (!(v = realloc(*vars, (*n + 2) * sizeof *v)))
		return -1;
	*vars = v;
	if (asprintf(&entry, "%.*s=%s", (int)keylen, key, value ? value : "") < 0)
		return -1;
	v[(*n)++] = entry;
	v[*n] = NULL;
	return 0;
}

/* The value from *pp to the end of its logical line into b; advances *pp and *line. */
static int parse_value(const char **pp, const char *end, unsigned *line, struct buf *b,
                       char *why, size_t whylen)
{
	const char *p = *pp;
	unsigned opened = *line;     /* where a quote opened, for an unclosed one */
	size_t keep = 0; /* length up to the last quoted or escaped character: never cut */
	int rc = 0;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (rc == 0 && p < end && *p != '\n') {
		char c = *p++;

		if (c == '\\') {
			if (p == end)
				break;
			if (*p == '\n') {
				(*line)++;
				p++;
				continue;
			}
			rc = buf_put(b, *p++);
			keep = b->len;
		} else if (c == '\'') {
			opened = *line;
			while (rc == 0 && p < end && *p != '\'') {
				*line += *p == '\n';
				rc = buf_put(b, *p++);
			}
			if (p == end) {
				snprintf(why, whylen, "line %u: unclosed '", opened);
				return -1;
			}
			p++;
			keep = b->len;
		} else if (c == '"') {
			opened = *line;
			while (rc == 0 && p < end && *p != '"') {
				if (*p == '\\' && p + 1 < end && p[1] == '\n') {
					(*line)++;
					p += 2;
					continue;
				}
				if (*p == '\\' && p + 1 < end && strchr("\"\\`$", p[1]))
					p++;
				*line += *p == '\n';
				rc = buf_put(b, *p++);
			}
			if (p == end) {
				snprintf(why, whylen, "line %u: unclosed \"", opened);
				return -1;
			}
			p++;
			keep = b->len;
		} else {
			rc = buf_put(b, c);
			if (c != ' ' && c != '\t' && c != '\r')
				keep = b->len;
		}
	}
	if (rc < 0) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	if (b->s)
		b->s[keep] = '\0';
	*pp = p;
	return 0;
}

/* Length of the UTF-8 sequence at p (at most n bytes), or 0 if it is not one: overlong
 * forms, surrogates and code points past U+10FFFF are not. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	size_t len = p[0] < 0x80 ? 1 : (p[0] & 0xe0) == 0xc0 ? 2 : (p[0] & 0xf0) == 0xe0 ? 3
	             : (p[0] & 0xf8) == 0xf0 ? 4 : 0;
	unsigned long cp;

	if (len == 0 || len > n)
		return 0;
	cp = len == 1 ? p[0] : p[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* The text must be UTF-8 without NUL: what reaches a worker goes through JSON (zygotes). */
static int check_text(const char *text, size_t len, char *why, size_t whylen)
{
	unsigned line = 1;

	for (size_t i = 0, k; i < len; i += k) {
		if (text[i] == '\0') {
			snprintf(why, whylen, "line %u: contains a NUL byte", line);
			return -1;
		}
		if (!(k = utf8_seq((const unsigned char *)text + i, len - i))) {
			snprintf(why, whylen, "line %u: not valid UTF-8", line);
			return -1;
		}
		line += text[i] == '\n';
	}
	return 0;
}

int lv_envfile_parse(const char *text, size_t len, char ***vars, size_t *n, char *why,
                     size_t whylen)
{
	const char *p = text, *end = text + len;
	unsigned line = 1, added = 0;

	if (check_text(text, len, why, whylen) < 0)
		return -1;
	while (p < end) {
		const char *key;
		size_t keylen;
		struct buf b = { 0 };
		int rc;

		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
			p++;
		if (p < end && (*p == '#' || *p == ';' || *p == '\n')) {
			while (p < end && *p != '\n')
				p++;
			p += p < end;
			line++;
			continue;
		}
		if (p == end)
			break;
		key = p;
		while (p < end && key_char(*p, p == key))
			p++;
		keylen = (size_t)(p - key);
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (keylen == 0 || p == end || *p != '=') {
			snprintf(why, whylen, "line %u: not KEY=VALUE (a KEY is letters, digits and _, "
			         "not starting with a digit)", line);
			return -1;
		}
		if (keylen > LV_ENVFILE_KEY_MAX) {
			snprintf(why, whylen, "line %u: name longer than %d", line, LV_ENVFILE_KEY_MAX);
			return -1;
		}
		if (++added > LV_ENVFILE_MAX_VARS) {
			snprintf(why, whylen, "line %u: more than %d variables", line,
			         LV_ENVFILE_MAX_VARS);
			return -1;
		}
		p++;
		rc = parse_value(&p, end, &line, &b, why, whylen);
		if (rc == 0 && append(vars, n, key, keylen, b.s) < 0) {
			snprintf(why, whylen, "out of memory");
			rc = -1;
		}
		free(b.s);
		if (rc < 0)
			return -1;
		p += p < end; /* the newline */
		line++;
	}
	return 0;
}
