/* strv: NULL-terminated vectors of malloc'd strings (see strv.h). The config, the pools'
 * private copies of it and the job path all hold their lists of strings this way. */
#include "daemon/lib/strv.h"

#include <stdlib.h>
#include <string.h>

size_t lv_strv_len(char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

char **lv_strv_dup(char *const *v)
{
	size_t n = lv_strv_len(v);
	char **out = calloc(n + 1, sizeof *out);

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!(out[i] = strdup(v[i]))) {
			lv_strv_free(out);
			return NULL;
		}
	return out;
}

void lv_strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* Edits between a and b (insert, delete, replace, swap neighbours), stopping at 3. */
static size_t edits(const char *a, const char *b)
{
	size_t n = strlen(a), m = strlen(b), d[3][64];

	if (n > 62 || m > 62 || (n > m ? n - m : m - n) > 2)
		return 3;
	for (size_t j = 0; j <= m; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= n; i++) {
		size_t *row = d[i % 3], *up = d[(i + 2) % 3], *up2 = d[(i + 1) % 3];

		row[0] = i;
		for (size_t j = 1; j <= m; j++) {
			size_t best = up[j - 1] + (a[i - 1] != b[j - 1]);

			if (up[j] + 1 < best)
				best = up[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    up2[j - 2] + 1 < best)
				best = up2[j - 2] + 1;
			row[j] = best;
		}
	}
	return d[n % 3][m];
}

const char *lv_strv_closest(const char *word, const char *const *candidates)
{
	const char *best = NULL;
	size_t best_edits = 3;

	for (const char *const *c = candidates; c && *c; c++) {
		size_t e = edits(word, *c);

		if (e < best_edits && e < strlen(word)) {
			best = *c;
			best_edits = e;
		}
	}
	return best;
}
