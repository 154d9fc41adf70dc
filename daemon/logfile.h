/* logfile: one pool's log file: appends lines, rotates by size (pool.log -> pool.log.1 ...
 * pool.log.KEEP), and reopens on request after an external logrotate. */
#ifndef LV_LOGFILE_H
#define LV_LOGFILE_H

#include <stddef.h>
#include <sys/types.h>

struct logfile {
	char *path;
	int fd;
	off_t size;
	off_t max_bytes;   /* 0: never rotate */
	unsigned keep;
};

/* Opens (creating, mode 0640, O_NOFOLLOW) dir/NAME.log; -1 with errno on failure. */
int logfile_open(struct logfile *lf, const char *dir, const char *name, off_t max_bytes,
                 unsigned keep);
/* Appends one line (a newline is added); rotates first when it would not fit. */
int logfile_write(struct logfile *lf, const char *line, size_t len);
/* Closes and opens the path again (SIGUSR1). */
int logfile_reopen(struct logfile *lf);
void logfile_close(struct logfile *lf);

#endif
