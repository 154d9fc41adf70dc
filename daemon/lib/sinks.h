/* sinks: where the event stream and captured log lines go. The producers (out/events.c,
 * proc/output.c) hand them to every registered sink; the control socket registers one. */
#ifndef LV_SINKS_H
#define LV_SINKS_H

#include <stdbool.h>

#include <jansson.h>

#define LV_SINKS_MAX 4

struct lv_sink {
	/* an event (params not stolen) of pool/worker (either may be NULL) */
	void (*event)(void *ctx, int event, json_t *params, const char *pool, const char *worker);
	/* whether anyone wants log lines now (they are built as JSON only then) */
	bool (*wants_lines)(void *ctx);
	/* a log line (not stolen) of a worker */
	void (*line)(void *ctx, json_t *line, const char *pool, const char *worker);
	void *ctx;
};

struct lv_sinks {
	struct lv_sink sink[LV_SINKS_MAX];
	unsigned n;
};

int lv_sinks_add(struct lv_sinks *s, const struct lv_sink *sink);   /* 0, or -1 when full */
void lv_sinks_remove(struct lv_sinks *s, void *ctx);                 /* every sink of ctx */
void lv_sinks_event(const struct lv_sinks *s, int event, json_t *params, const char *pool,
                    const char *worker);
bool lv_sinks_want_lines(const struct lv_sinks *s);
void lv_sinks_line(const struct lv_sinks *s, json_t *line, const char *pool, const char *worker);

#endif
