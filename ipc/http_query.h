/* http_query: what the HTTP listener reads of a request's target itself, besides what
 * evhttp parses: which endpoint a path names, and the parameters of /api/tail and
 * /api/inspect. Pure, and fuzzed (fuzz_http). */
#ifndef LV_HTTP_QUERY_H
#define LV_HTTP_QUERY_H

#include <stddef.h>

enum lv_http_route {
	LV_ROUTE_NONE = 0, LV_ROUTE_UI, LV_ROUTE_METRICS, LV_ROUTE_HEALTHZ, LV_ROUTE_READYZ,
	LV_ROUTE_STATUS, LV_ROUTE_TAIL, LV_ROUTE_INSPECT, LV_ROUTE_EVENTS,
};

/* The endpoint path names exactly (no trailing slash, no case folding), or LV_ROUTE_NONE. */
enum lv_http_route lv_http_route(const char *path);

/* From query (the part after '?', or NULL): the value of name_key into name (required, at
 * most namelen - 1 bytes), and that of number_key (optional: *number is left as it is) as a
 * decimal in min..max. 0, or -1 when one is missing, too long or out of range. */
int lv_http_query_params(const char *query, const char *name_key, char *name, size_t namelen,
                         const char *number_key, unsigned long min, unsigned long max,
                         unsigned long *number);

#endif
