/* metrics: what GET /metrics answers: the daemon's process, its pools, workers and loops,
 * in Prometheus text format 0.0.4, or OpenMetrics 1.0 for a scraper that asks for it. */
#ifndef LV_METRICS_H
#define LV_METRICS_H

#include <stdbool.h>

#include "daemon/core/supervisor.h"

#define METRICS_TYPE_TEXT "text/plain; version=0.0.4; charset=utf-8"
#define METRICS_TYPE_OPENMETRICS "application/openmetrics-text; version=1.0.0; charset=utf-8"

struct evbuffer;

/* Appends every series to b; 0, or -1 when memory ran out. */
int metrics_write(struct evbuffer *b, const struct supervisor *sup, bool openmetrics);

#endif
