/* fuzz_envfile: the env_file parser on arbitrary bytes, and the template expander on the
 * same bytes as a string. Each must fail with a message or succeed, and free what it made. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/envfile.h"
#include "config/template.h"
#include "daemon/lib/strv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct lv_template_vars v = { .pool = "p", .name = "p:7", .index = 7 };
	char **vars = NULL, why[512], small[16], *text, *out;
	size_t n = 0;
	long len;

	lv_envfile_parse((const char *)data, size, &vars, &n, why, sizeof why);
	if (lv_strv_len(vars) != n)
		abort();
	lv_strv_free(vars);
	if (!(text = malloc(size + 1)))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	len = lv_template_expand(text, &v, small, sizeof small, why, sizeof why);
	if (len >= 0 && strlen(small) != (size_t)(len < 15 ? len : 15))
		abort();
	if ((out = lv_template_dup(text, &v, why, sizeof why)) && (long)strlen(out) != len)
		abort();
	free(out);
	free(text);
	return 0;
}
