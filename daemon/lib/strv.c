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
