/* clock: the daemon's one reading of time for durations: CLOCK_MONOTONIC in milliseconds (or microseconds),
 * untouched by changes of the wall clock. */
#ifndef LV_CLOCK_H
#define LV_CLOCK_H

#include <stdint.h>

uint64_t lv_now_ms(void);
uint64_t lv_now_us(void);    /* the same clock in microseconds, for short durations */

#endif
