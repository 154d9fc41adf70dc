/* http_accept: what an HTTP Accept header asks for, as far as the daemon's listener needs
 * to know: whether it takes one media type. Pure, and fuzzed (fuzz_http). */
#ifndef LV_HTTP_ACCEPT_H
#define LV_HTTP_ACCEPT_H

#include <stdbool.h>

/* Whether accept (a header value, or NULL) has a media range naming type ("a/b", compared
 * without case) whose q is not 0: "text/plain;q=0.5, application/openmetrics-text". A
 * wildcard does not count: the one asked for by name is what changes the answer. */
bool lv_http_accepts(const char *accept, const char *type);

#endif
