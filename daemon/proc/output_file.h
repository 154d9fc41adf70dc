/* output_file: one pool's log file: appends lines, rotates by size (pool.log -> pool.log.1 ...
 * pool.log.KEEP), and reopens on request after an external logrotate. */
#ifndef LV_LOGFILE_H
#define LV_LOGFILE_H

#include <stddef.h>
#include <sys/types.h>

struct output_file {
	char *dir;         /* the folder, checked to be the daemon's own at every open */
	char *name;        /* NAME.log, opened relative to the folder */
	char *path;        /* dir/NAME.log, for messages */
	int fd;
	off_t size;        /* bytes in the file, written or pending */
	off_t max_bytes;   /* 0: never rotate */
	unsigned keep;
	char *pending;     /* whole lines not yet written (LOGFILE_BATCH bytes) */
	size_t n_pending;
};

/* Opens (creating, mode 0640) dir/NAME.log: dir must be owned by the daemon's user and not
 * writable by group or others, NAME.log a regular file (no link, FIFO or device); -1 with
 * err on failure. */
int output_file_open(struct output_file *lf, const char *dir, const char *name, off_t max_bytes,
                 unsigned keep, char *err, size_t errlen);
/* Appends one line, head then text (a newline is added), to what output_file_flush writes;
 * rotates first when it would not fit. */
int output_file_write(struct output_file *lf, const char *head, size_t head_len, const char *text,
                  size_t len);
/* Writes the pending lines in one write(2): a reader never sees half a line. */
int output_file_flush(struct output_file *lf);
/* Opens the path again (SIGUSR1, reload); on failure (-1 with err) the file in use stays. */
int output_file_reopen(struct output_file *lf, char *err, size_t errlen);
void output_file_close(struct output_file *lf);

#endif
