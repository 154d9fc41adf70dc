/* request_stats: counting answered control calls; the label set stays bounded: methods come
 * from the table (a client's own method name is "unknown"), codes are the daemon's. */
#include "daemon/control/request_stats.h"

static unsigned method_index(const struct request_stats *st, const struct lv_rpc_method *m)
{
	unsigned n = 0;

	while (st->methods[n].name && n < LV_REQUEST_METHODS_MAX - 1)
		n++;
	if (!m || m < st->methods || m >= st->methods + n)
		return n; /* "unknown" */
	return (unsigned)(m - st->methods);
}

const char *request_stats_method(const struct request_stats *st, unsigned index)
{
	for (unsigned i = 0; i <= index && i < LV_REQUEST_METHODS_MAX; i++)
		if (!st->methods[i].name)
			return "unknown";
	return st->methods[index].name;
}

void request_stats_count(struct request_stats *st, const struct lv_rpc_method *m, int code,
                         uint64_t us)
{
	unsigned i = method_index(st, m);

	lv_histo_observe(&st->duration[i], us);
	for (unsigned k = 0; k < st->n_counts; k++)
		if (st->counts[k].method == i && st->counts[k].code == code) {
			st->counts[k].n++;
			return;
		}
	if (st->n_counts < LV_REQUEST_PAIRS_MAX)
		st->counts[st->n_counts++] = (struct request_count){ i, code, 1 };
}
