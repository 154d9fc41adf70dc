/* log: the supervisor's own messages, one line each on stderr with time and severity.
 * The journal integration of the systemd issue plugs in here. */
#ifndef LV_DAEMON_LOG_H
#define LV_DAEMON_LOG_H

#include <syslog.h>

void lv_logf(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)   lv_logf(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  lv_logf(LOG_WARNING, __VA_ARGS__)
#define log_info(...)  lv_logf(LOG_INFO, __VA_ARGS__)
#define log_debug(...) lv_logf(LOG_DEBUG, __VA_ARGS__)

#endif
