/* policy: restart decisions, exponential backoff and the start-limit window.
 * No clocks are read here: callers pass the time, so tests can drive every edge. */
#include "daemon/core/policy.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

bool lv_exit_is_clean(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status) == 0;
	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		return sig == SIGHUP || sig == SIGINT || sig == SIGTERM || sig == SIGPIPE;
	}
	return false;
}

bool lv_should_restart(enum lv_restart policy, int status)
{
	switch (policy) {
	case LV_RESTART_ALWAYS: return true;
	case LV_RESTART_ON_FAILURE: return !lv_exit_is_clean(status);
	case LV_RESTART_NEVER: return false;
	}
	return false;
}

unsigned lv_backoff_ms(unsigned quick_failures)
{
	unsigned delay = LV_BACKOFF_INITIAL_MS;

	if (quick_failures == 0)
		return 0;
	for (unsigned i = 1; i < quick_failures && delay < LV_BACKOFF_MAX_MS; i++)
		delay *= 2;
	return delay < LV_BACKOFF_MAX_MS ? delay : LV_BACKOFF_MAX_MS;
}

int lv_start_limit_init(struct lv_start_limit *sl, unsigned burst, unsigned interval_ms)
{
	sl->times = calloc(burst ? burst : 1, sizeof *sl->times);
	sl->burst = burst ? burst : 1;
	sl->interval_ms = interval_ms;
	sl->count = sl->next = 0;
	return sl->times ? 0 : -1;
}

void lv_start_limit_free(struct lv_start_limit *sl)
{
	free(sl->times);
	sl->times = NULL;
}

void lv_start_limit_reset(struct lv_start_limit *sl)
{
	sl->count = sl->next = 0;
}

bool lv_start_limit_hit(const struct lv_start_limit *sl, uint64_t now_ms)
{
	uint64_t oldest;

	if (sl->count < sl->burst)
		return false;
	oldest = sl->times[sl->next]; /* the ring is full: next is the oldest slot */
	return now_ms - oldest < sl->interval_ms;
}

void lv_start_limit_record(struct lv_start_limit *sl, uint64_t now_ms)
{
	sl->times[sl->next] = now_ms;
	sl->next = (sl->next + 1) % sl->burst;
	if (sl->count < sl->burst)
		sl->count++;
}
