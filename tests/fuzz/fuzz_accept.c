/* fuzz_accept: the Accept header reader of the HTTP listener on arbitrary bytes, as the
 * header value evhttp hands over (a NUL-terminated string). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/http_accept.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	lv_http_accepts(text, "application/openmetrics-text");
	lv_http_accepts(text, "");
	free(text);
	return 0;
}
