/* http_query: endpoints and query parameters of the HTTP listener (see http_query.h). */
#include "ipc/http_query.h"

#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

static const struct { const char *path; enum lv_http_route route; } routes[] = {
	{ "/", LV_ROUTE_UI }, { "/ui", LV_ROUTE_UI }, { "/metrics", LV_ROUTE_METRICS },
	{ "/healthz", LV_ROUTE_HEALTHZ }, { "/readyz", LV_ROUTE_READYZ },
	{ "/api/status", LV_ROUTE_STATUS }, { "/api/tail", LV_ROUTE_TAIL },
	{ "/api/inspect", LV_ROUTE_INSPECT }, { "/events", LV_ROUTE_EVENTS },
};

enum lv_http_route lv_http_route(const char *path)
{
	for (size_t i = 0; path && i < sizeof routes / sizeof routes[0]; i++)
		if (!strcmp(path, routes[i].path))
			return routes[i].route;
	return LV_ROUTE_NONE;
}

/* A decimal without sign, spaces or a leading zero (but "0"), in min..max. */
static int parse_number(const char *text, unsigned long min, unsigned long max,
                        unsigned long *out)
{
	char *end;
	unsigned long n;

	if (!*text || *text < '0' || *text > '9' || (text[0] == '0' && text[1]) ||
	    strlen(text) > 10)
		return -1;
	n = strtoul(text, &end, 10);
	if (*end || n < min || n > max)
		return -1;
	*out = n;
	return 0;
}

int lv_http_query_params(const char *query, const char *name_key, char *name, size_t namelen,
                         const char *number_key, unsigned long min, unsigned long max,
                         unsigned long *number)
{
	struct evkeyvalq q;
	const char *v;
	int rc = -1;

	TAILQ_INIT(&q);
	if (evhttp_parse_query_str(query ? query : "", &q) == 0 &&
	    (v = evhttp_find_header(&q, name_key)) && strlen(v) < namelen) {
		strcpy(name, v);
		rc = 0;
		if ((v = evhttp_find_header(&q, number_key)) && parse_number(v, min, max, number) < 0)
			rc = -1;
	}
	evhttp_clear_headers(&q);
	return rc;
}
