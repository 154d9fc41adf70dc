/* log: the supervisor's own messages, one line each on stderr with time and severity, or
 * to the journal (journal.c) when that is the target. */
#ifndef LV_DAEMON_LOG_H
#define LV_DAEMON_LOG_H

#include <stdbool.h>
#include <syslog.h>

#define LV_LOG_LINE_MAX  (65 * 1024)    /* longer messages are cut: a worker's line fits */
#define LV_LOG_QUEUE_MAX (1024 * 1024)  /* bytes of lines that wait for a slow stderr */

void lv_logf(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

enum lv_log_target { LV_LOG_AUTO, LV_LOG_STDERR, LV_LOG_JOURNAL };
/* Where messages go: the journal when stderr is connected to it (JOURNAL_STREAM) or when
 * forced, else stderr with <N> priority prefixes. */
void lv_log_set_target(enum lv_log_target target);
bool lv_log_to_journal(void);

/* Decides how stderr is written without ever waiting (see log.c); once, early in main. */
void lv_log_open(void);
struct event_base;
/* From now on lines stderr (or the journal) could not take are written from the loop when
 * it can, and a count of the lines dropped meanwhile follows them; detach before the base
 * is freed (what still waits gets up to a second). */
void lv_log_attach(struct event_base *base);
void lv_log_detach(void);

#define log_err(...)   lv_logf(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  lv_logf(LOG_WARNING, __VA_ARGS__)
#define log_info(...)  lv_logf(LOG_INFO, __VA_ARGS__)
#define log_debug(...) lv_logf(LOG_DEBUG, __VA_ARGS__)

#endif
