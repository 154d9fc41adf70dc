/* ratewin: one-second windows of events and bytes (see ratewin.h). Windows are fixed, not
 * sliding: a new one starts at the first event after the last one ended. */
#include "daemon/lib/ratewin.h"

bool lv_ratewin_ended(const struct lv_ratewin *w, uint64_t now)
{
	return now - w->start_ms >= LV_RATEWIN_MS;
}

bool lv_ratewin_roll(struct lv_ratewin *w, uint64_t now)
{
	if (!lv_ratewin_ended(w, now))
		return false;
	w->start_ms = now;
	w->count = 0;
	w->bytes = 0;
	return true;
}

void lv_ratewin_charge(struct lv_ratewin *w, size_t bytes)
{
	w->count++;
	w->bytes += bytes;
}

uint64_t lv_ratewin_left_ms(const struct lv_ratewin *w, uint64_t now)
{
	return lv_ratewin_ended(w, now) ? 0 : LV_RATEWIN_MS - (now - w->start_ms);
}

bool lv_ratewin_hit(struct lv_ratewin *w, uint64_t now, unsigned max)
{
	lv_ratewin_roll(w, now);
	return ++w->count > max;
}
