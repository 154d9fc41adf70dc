/* logfile: one pool's log file: appends lines, rotates by size (pool.log -> pool.log.1 ...
 * pool.log.KEEP), and reopens on request after an external logrotate. */
#ifndef LV_LOGFILE_H
#define LV_LOGFILE_H

#include <stddef.h>
#include <sys/types.h>

struct logfile {
	char *path;
	int fd;
	off_t size;        /* bytes in the file, written or pending */
	off_t max_bytes;   /* 0: never rotate */
	unsigned keep;
	char *pending;     /* whole lines not yet written (LOGFILE_BATCH bytes) */
	size_t n_pending;
};

/* Opens (creating, mode 0640, O_NOFOLLOW) dir/NAME.log; -1 with errno on failure. */
int logfile_open(struct logfile *lf, const char *dir, const char *name, off_t max_bytes,
                 unsigned keep);
/* Appends one line, head then text (a newline is added), to what logfile_flush writes;
 * rotates first when it would not fit. */
int logfile_write(struct logfile *lf, const char *head, size_t head_len, const char *text,
                  size_t len);
/* Writes the pending lines in one write(2): a reader never sees half a line. */
int logfile_flush(struct logfile *lf);
/* Closes and opens the path again (SIGUSR1). */
int logfile_reopen(struct logfile *lf);
void logfile_close(struct logfile *lf);

#endif
