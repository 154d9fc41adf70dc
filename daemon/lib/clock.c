/* clock: CLOCK_MONOTONIC in milliseconds (see clock.h). libevent's own clock is coarser
 * (CLOCK_MONOTONIC_COARSE): deadlines that must hold are kept by this one. */
#include "daemon/lib/clock.h"

#include <time.h>

uint64_t lv_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t lv_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
