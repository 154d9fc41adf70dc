/* ratewin: what a peer sent in the current one-second window (events and bytes), the one
 * arithmetic behind every "N per second" limit of the daemon. */
#ifndef LV_RATEWIN_H
#define LV_RATEWIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LV_RATEWIN_MS 1000

/* Zeroed: the first use starts a window. Times are lv_now_ms() readings. */
struct lv_ratewin {
	uint64_t start_ms;   /* when the current window began */
	unsigned count;      /* events charged in it */
	size_t bytes;        /* their bytes */
};

/* Whether the current window is over at now (LV_RATEWIN_MS since it began). */
bool lv_ratewin_ended(const struct lv_ratewin *w, uint64_t now);
/* Starts a new, empty window at now if the current one is over; true if it did. */
bool lv_ratewin_roll(struct lv_ratewin *w, uint64_t now);
/* Counts one event of bytes in the current window. */
void lv_ratewin_charge(struct lv_ratewin *w, size_t bytes);
/* Milliseconds left of the current window at now, 0 if it is over. */
uint64_t lv_ratewin_left_ms(const struct lv_ratewin *w, uint64_t now);
/* Counts one event in the window of now (rolled first); true if it is over max (count is
 * then max + 1 for the first of them). */
bool lv_ratewin_hit(struct lv_ratewin *w, uint64_t now, unsigned max);

#endif
