/* log: formats supervisor log lines with a wall-clock timestamp and a severity word.
 * One write(2) per line, so lines from the supervisor and workers never interleave. */
#include "daemon/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

static bool to_journal;

/* JOURNAL_STREAM=DEV:INO names the stream systemd connected; it counts only if stderr is
 * still that stream (not redirected since). */
static bool stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return v && sscanf(v, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
	       (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void lv_log_set_target(enum lv_log_target target)
{
	to_journal = target == LV_LOG_JOURNAL || (target == LV_LOG_AUTO && stderr_is_journal());
}

bool lv_log_to_journal(void)
{
	return to_journal;
}

static const char *severity(int priority)
{
	switch (priority) {
	case LOG_EMERG: case LOG_ALERT: case LOG_CRIT: case LOG_ERR: return "error";
	case LOG_WARNING: return "warning";
	case LOG_DEBUG: return "debug";
	default: return "info";
	}
}

void lv_logf(int priority, const char *fmt, ...)
{
	char line[2048], stamp[32];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n, m;

	if (to_journal) {
		va_start(ap, fmt);
		vsnprintf(line, sizeof line, fmt, ap);
		va_end(ap);
		sd_journal_send("MESSAGE=%s", line, "PRIORITY=%i", priority,
		                "SYSLOG_IDENTIFIER=loopvisord", NULL);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	/* <N>: journald and other syslog-aware readers take the priority from it */
	n = snprintf(line, sizeof line, "<%d>%s.%03ld loopvisord[%d] %s: ", priority & 7, stamp,
	             ts.tv_nsec / 1000000, (int)getpid(), severity(priority));
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n > sizeof line - 2)
		n = sizeof line - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return; /* stderr is gone: nothing else to tell */
}
