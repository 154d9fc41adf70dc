/* histo: a histogram of durations with fixed buckets from 50 us to 10 s, as Prometheus
 * histograms are made (cumulative counts per upper bound, a count and a sum). */
#ifndef LV_HISTO_H
#define LV_HISTO_H

#include <stdint.h>

#define LV_HISTO_BUCKETS 17

/* The upper bounds, in microseconds: 50 us, 100 us, 250 us, ..., 5 s, 10 s. */
extern const uint64_t lv_histo_bounds_us[LV_HISTO_BUCKETS];

struct lv_histo {
	uint64_t in[LV_HISTO_BUCKETS + 1]; /* observations per bucket, the last one past 10 s */
	uint64_t count;
	uint64_t sum_us;
};

/* Counts one observation of us microseconds. */
void lv_histo_observe(struct lv_histo *h, uint64_t us);
/* How many observations were at most lv_histo_bounds_us[i] (le=...): cumulative. */
uint64_t lv_histo_cumulative(const struct lv_histo *h, unsigned i);

#endif
