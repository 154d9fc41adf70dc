/* request_stats: what the control socket answered, for /metrics: calls per method and
 * code, and how long each method took from its dispatch to its answer. */
#ifndef LV_REQUEST_STATS_H
#define LV_REQUEST_STATS_H

#include <stdint.h>

#include "daemon/lib/histo.h"
#include "ipc/jsonrpc.h"

#define LV_REQUEST_METHODS_MAX 32  /* methods of the table, and one for "unknown" */
#define LV_REQUEST_PAIRS_MAX   256 /* (method, code) pairs counted; more go uncounted */

struct request_stats {
	const struct lv_rpc_method *methods;           /* the control socket's table */
	struct lv_histo duration[LV_REQUEST_METHODS_MAX];
	struct request_count {
		unsigned char method;                      /* index into methods, or "unknown" */
		int code;                                  /* 0: a result */
		uint64_t n;
	} counts[LV_REQUEST_PAIRS_MAX];
	unsigned n_counts;
};

/* Counts one answered call (m NULL: the request named no method of the table). */
void request_stats_count(struct request_stats *st, const struct lv_rpc_method *m, int code,
                         uint64_t us);
/* The method name of an index ("unknown" past the table). */
const char *request_stats_method(const struct request_stats *st, unsigned index);

#endif
