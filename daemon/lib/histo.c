/* histo: fixed buckets, one comparison walk per observation (17 bounds). */
#include "daemon/lib/histo.h"

const uint64_t lv_histo_bounds_us[LV_HISTO_BUCKETS] = {
	50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000,
};

void lv_histo_observe(struct lv_histo *h, uint64_t us)
{
	unsigned i = 0;

	while (i < LV_HISTO_BUCKETS && us > lv_histo_bounds_us[i])
		i++;
	h->in[i]++;
	h->count++;
	h->sum_us += us;
}

uint64_t lv_histo_cumulative(const struct lv_histo *h, unsigned i)
{
	uint64_t n = 0;

	for (unsigned k = 0; k <= i && k < LV_HISTO_BUCKETS; k++)
		n += h->in[k];
	return n;
}
