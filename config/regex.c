/* regex (config): how much a POSIX extended regex costs glibc's regcomp before it is
 * compiled. regcomp copies what a repetition repeats: x+ is built as x x*, x{3} as x x x,
 * so each '+' on top of another doubles the tree and nested intervals multiply; and what it
 * then computes for nodes that match the empty string ('*', '?') grows faster than their
 * count (2,000 copies of "((a*)*)" took 2.4 s, 10,000 of "(a*)" 774 MiB). A probe's log
 * regex of 50 chained '+' took 2 GiB (found by fuzz_config): a pool any admin may add must
 * not make the root daemon do that. Hence a bound on the nodes, operators counted. */
#include "config/config.h"

#include <ctype.h>
#include <stdlib.h>

#define CAP (LV_REGEX_COST_MAX + 1ULL) /* saturates here: bigger is as bad */

static unsigned long long add(unsigned long long a, unsigned long long b)
{
	return a + b > CAP ? CAP : a + b;
}

static unsigned long long mul(unsigned long long a, unsigned long long b)
{
	return b && a > CAP / b ? CAP : a * b > CAP ? CAP : a * b;
}

/* "{m}", "{m,}", "{m,n}" at *p: the largest count, and *p past it; 0 if it is not one (a
 * literal brace). */
static unsigned long long interval(const char **p)
{
	const char *s = *p + 1;
	unsigned long long m = 0, n;
	char *end;

	if (!isdigit((unsigned char)*s))
		return 0;
	m = strtoull(s, &end, 10);
	n = m;
	if (*end == ',') {
		s = end + 1;
		n = isdigit((unsigned char)*s) ? strtoull(s, &end, 10) : m;
		if (!isdigit((unsigned char)*s))
			end = (char *)s;
	}
	if (*end != '}')
		return 0;
	*p = end;
	return (n > m ? n : m) ? (n > m ? n : m) : 1;
}

unsigned long long lv_regex_cost(const char *re)
{
	/* per open group: the size of what it holds so far, and of its last atom */
	unsigned long long sum[LV_REGEX_DEPTH_MAX + 1] = { 0 }, last[LV_REGEX_DEPTH_MAX + 1] = { 0 };
	unsigned depth = 0;

	for (const char *p = re; *p; p++) {
		unsigned long long atom = 1;

		switch (*p) {
		case '(':
			if (++depth > LV_REGEX_DEPTH_MAX)
				return CAP;
			sum[depth] = last[depth] = 0;
			continue;
		case ')':
			if (depth == 0)
				break; /* a literal, as regcomp takes it */
			atom = sum[depth] ? sum[depth] : 1;
			depth--;
			break;
		case '+': /* x+ is x x* */
			sum[depth] = add(sum[depth], last[depth]);
			last[depth] = mul(last[depth], 2);
			continue;
		case '*': /* one node more, around the last atom */
		case '?':
			sum[depth] = add(sum[depth], 1);
			last[depth] = add(last[depth], 1);
			continue;
		case '|':
			sum[depth] = add(sum[depth], 1);
			continue;
		case '{': {
			const char *q = p;
			unsigned long long n = interval(&q);

			if (n == 0)
				break; /* a literal brace */
			p = q; /* x{n} is n copies of x */
			sum[depth] = add(sum[depth], mul(last[depth], n - 1));
			last[depth] = mul(last[depth], n);
			continue;
		}
		case '[': /* a bracket expression is one node: to its closing ']' */
			p += p[1] == '^';
			p += p[1] == ']';
			while (p[1] && p[1] != ']')
				p++;
			p += p[1] == ']';
			break;
		case '\\':
			p += p[1] != '\0';
			break;
		}
		sum[depth] = add(sum[depth], atom);
		last[depth] = atom;
	}
	while (depth > 0) { /* an open group: regcomp refuses it anyway */
		sum[depth - 1] = add(sum[depth - 1], sum[depth]);
		depth--;
	}
	return sum[0];
}
