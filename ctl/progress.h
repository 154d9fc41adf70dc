/* progress: the one updating line a terminal shows while start, stop or restart waits
 * ("412/1000 running"), from the daemon's event stream. Never used without a terminal. */
#ifndef LV_CTL_PROGRESS_H
#define LV_CTL_PROGRESS_H

#include <stdbool.h>
#include <stdio.h>
#include <jansson.h>

struct lv_client;
struct progress;

/* Subscribes on a new connection to socket and counts the workers of targets (POOL or
 * POOL:INDEX names) by a status on c. cmd is start, stop or restart (rolling: --rolling).
 * NULL if any of it fails: the command then goes on without progress. */
struct progress *progress_begin(FILE *tty, const char *socket, struct lv_client *c,
                                const char *cmd, bool rolling, const json_t *targets);
/* The commands are sent: what streamed in before does not count for a restart. */
void progress_sent(struct progress *p);
/* Takes the events that arrived and redraws the line (at most every 100 ms). */
void progress_pump(struct progress *p);
/* Clears the line, to print something else; the next pump draws it again. */
void progress_clear(struct progress *p);
/* Clears the line and closes the connection (p may be NULL). */
void progress_end(struct progress *p);

#endif
