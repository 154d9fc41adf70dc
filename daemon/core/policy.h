/* policy: the restart arithmetic, as pure functions of times and counts: whether an exit
 * is restarted, how long to back off, and when the start limit puts a worker in failed. */
#ifndef LV_POLICY_H
#define LV_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"

#define LV_BACKOFF_INITIAL_MS 100
#define LV_BACKOFF_MAX_MS     30000
/* A run at least this long counts as stable: the next restart is immediate. */
#define LV_STABLE_RUN_MS      1000

/* True for exits that on-failure treats as clean: code 0, or death by HUP/INT/TERM/PIPE
 * (the signals a service stopped on purpose dies of). status is from waitpid. */
bool lv_exit_is_clean(int status);

/* Whether policy restarts a worker after an exit it was not asked for. */
bool lv_should_restart(enum lv_restart policy, int status);

/* Delay before the next start after `quick_failures` consecutive short runs
 * (0: immediate, then 100 ms doubling up to LV_BACKOFF_MAX_MS). */
unsigned lv_backoff_ms(unsigned quick_failures);

/* Start-limit bookkeeping: a ring of the last `burst` start times (ms). */
struct lv_start_limit {
	uint64_t *times;
	unsigned burst, interval_ms, count, next;
};

int lv_start_limit_init(struct lv_start_limit *sl, unsigned burst, unsigned interval_ms);
void lv_start_limit_free(struct lv_start_limit *sl);
void lv_start_limit_reset(struct lv_start_limit *sl);
/* True when `burst` starts already happened within interval_ms before now: one more
 * start would exceed the limit. */
bool lv_start_limit_hit(const struct lv_start_limit *sl, uint64_t now_ms);
void lv_start_limit_record(struct lv_start_limit *sl, uint64_t now_ms);

#endif
