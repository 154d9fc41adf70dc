/* fuzz_http: what the HTTP listener reads of a request itself, on arbitrary bytes: the
 * first line is an Accept header value (as evhttp hands it over, NUL-terminated), the rest a
 * request target, parsed as evhttp parses it, then routed, and its query read as /api/tail
 * and /api/inspect read theirs. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "ipc/http_accept.h"
#include "ipc/http_query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void request_target(const char *text)
{
	struct evhttp_uri *uri = evhttp_uri_parse_with_flags(text, EVHTTP_URI_NONCONFORMANT);
	char name[80];
	unsigned long n = 50;

	if (!uri)
		return;
	(void)lv_http_route(evhttp_uri_get_path(uri));
	lv_http_query_params(evhttp_uri_get_query(uri), "target", name, sizeof name, "lines", 0,
	                     1000, &n);
	lv_http_query_params(evhttp_uri_get_query(uri), "worker", name, sizeof name,
	                     "timeout_ms", 1, 60000, &n);
	evhttp_uri_free(uri);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *nl;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if ((nl = strchr(text, '\n')))
		*nl = '\0';
	lv_http_accepts(text, "application/openmetrics-text");
	lv_http_accepts(text, "");
	request_target(nl ? nl + 1 : "");
	free(text);
	return 0;
}
