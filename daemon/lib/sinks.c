/* sinks: a short table of consumers of events and log lines (see sinks.h); producers do
 * not know who listens. */
#include "daemon/lib/sinks.h"

int lv_sinks_add(struct lv_sinks *s, const struct lv_sink *sink)
{
	if (s->n == LV_SINKS_MAX)
		return -1;
	s->sink[s->n++] = *sink;
	return 0;
}

void lv_sinks_remove(struct lv_sinks *s, void *ctx)
{
	unsigned k = 0;

	for (unsigned i = 0; i < s->n; i++)
		if (s->sink[i].ctx != ctx)
			s->sink[k++] = s->sink[i];
	s->n = k;
}

void lv_sinks_event(const struct lv_sinks *s, int event, json_t *params, const char *pool,
                    const char *worker)
{
	for (unsigned i = 0; i < s->n; i++)
		if (s->sink[i].event)
			s->sink[i].event(s->sink[i].ctx, event, params, pool, worker);
}

bool lv_sinks_want_lines(const struct lv_sinks *s)
{
	for (unsigned i = 0; i < s->n; i++)
		if (s->sink[i].wants_lines && s->sink[i].wants_lines(s->sink[i].ctx))
			return true;
	return false;
}

void lv_sinks_line(const struct lv_sinks *s, json_t *line, const char *pool, const char *worker)
{
	for (unsigned i = 0; i < s->n; i++)
		if (s->sink[i].line)
			s->sink[i].line(s->sink[i].ctx, line, pool, worker);
}
