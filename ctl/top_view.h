/* top_view: what loopvisorctl top shows, without a terminal: a model of the workers kept by
 * status replies and events, and the rows (sorted, filtered, per pool) and header built from it. */
#ifndef LV_CTL_TOP_VIEW_H
#define LV_CTL_TOP_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

enum top_sort { TOP_SORT_NAME, TOP_SORT_STATE, TOP_SORT_RESTARTS, TOP_SORT_LAG, TOP_SORT_UPTIME,
                TOP_SORT_N };

struct top_row {
	char name[128];       /* POOL:INDEX, or "POOL (N)" for a pool row */
	char pool[64];
	long long index;      /* -1 for a pool row */
	char state[16];       /* a pool row: the most troubled state of its workers */
	long long pid;        /* -1: no process (and for a pool row) */
	long long uptime_ms;  /* 0: no process; a pool row: its youngest */
	long long restarts;   /* a pool row: summed */
	long long lag_us;     /* -1: not known; a pool row: the worst */
	char last[128];
	json_t *counters;     /* owned; a pool row: summed per name */
	int workers;          /* 1, or a pool row's count */
};

struct top_view {
	enum top_sort sort;
	bool reverse;
	bool per_pool;
	const char *filter;   /* a substring of the worker's name; NULL or "": every worker */
};

/* The model: an object of worker name -> the worker's status object, plus "since_ms" (when
 * its process started, on the caller's clock) and "ran" (it had a process once). */
json_t *top_model_new(void);

/* A status result. full: take everything (the first one, or after events were lost); else
 * only what no event says (loop lag, uptime, counters) and which workers exist; what events
 * say (state, pid, restarts, last exit) is theirs. now_ms: the caller's clock. */
void top_model_take_status(json_t *model, const json_t *status, bool full, long long now_ms);

/* One event's params; true when it changed something the screen shows. */
bool top_model_take_event(json_t *model, const json_t *ev, long long now_ms);

/* The rows the view shows, in its order: *rows a new array (top_rows_free), the count
 * returned; 0 and *rows NULL when none or out of memory. */
size_t top_rows(const json_t *model, const struct top_view *v, long long now_ms,
                struct top_row **rows);
void top_rows_free(struct top_row *rows, size_t n);
/* How many workers the view's filter lets through. */
size_t top_count_filtered(const json_t *model, const char *filter);

/* "pools 2: 1 running, 1 stopped  workers 4: 3 running, 1 stopped" (a pool counts in the
 * state its most troubled worker is in). */
void top_format_counts(const json_t *model, char *buf, size_t len);
/* "850us", "1.2ms", "35ms", "1.5s"; "-" when not known (< 0). */
void top_format_lag(long long us, char *buf, size_t len);
/* The counters, compact: "req=12 err=3 bytes=1.2M"; "-" for none. */
void top_format_counters(const json_t *counters, char *buf, size_t len);
/* The loop lag of a status worker's "loop" (an object, or one per loop): the worst, or -1. */
long long top_loop_lag(const json_t *loop);
const char *top_sort_name(enum top_sort sort);

#endif
