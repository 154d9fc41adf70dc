/* hostile: what the chaos suite's hostile scenarios share: figures of the daemon under
 * attack (CPU, RSS, control ping latency) and one line that prints them. */
#ifndef LV_HOSTILE_H
#define LV_HOSTILE_H

#include <check.h>

#include "harness.h"

struct hostile_figures {
	double cpu_pct;         /* of one core, over the quiet window */
	long rss_kib;           /* VmRSS at the end of the window */
	long long ping_p50_us, ping_p99_us, ping_max_us;
	int pings;
};

/* Measures the daemon's CPU share over window_ms with no client of the test talking to it,
 * then pings it over a fresh connection for another window_ms, back to back, and its RSS.
 * The fixed window is an observation period, not a wait for an event. An unanswered ping
 * fails the test. */
void hostile_measure(struct lvd *d, int window_ms, struct hostile_figures *f);

/* Prints "hostile: SCENARIO: calm ... / under attack ..." (make chaos keeps these lines). */
void hostile_report(const char *scenario, const struct hostile_figures *calm,
                    const struct hostile_figures *attacked);

/* Each scenario file (hostile_*.c) provides one test case; test_hostile.c runs those that
 * are linked in. */
TCase *hostile_paths_tcase(void);
TCase *hostile_control_tcase(void);
TCase *hostile_worker_tcase(void);
TCase *hostile_backpressure_tcase(void);

#endif
