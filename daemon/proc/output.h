/* output: captures every worker's stdout and stderr through pipes, splits them into lines
 * tagged with worker and stream, and hands each line to the sinks: the pool's log file
 * (or the daemon's stderr without logs.dir), the worker's in-memory ring, and followers. */
#ifndef LV_LOGS_H
#define LV_LOGS_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon/core/supervisor.h"

#define LV_LOG_MAX_LINE (64 * 1024)   /* longer lines are split */

enum lv_stream { LV_STREAM_STDOUT, LV_STREAM_STDERR, LV_STREAM_LOG };

/* Makes the logs folder if it is missing and checks that only the daemon's user can write
 * it (owner, no group or world write, no symlink); -1 with err ("logs: DIR: refusing..."). */
int logs_prepare_dir(const char *dir, char *err, size_t errlen);
/* Opens the pool's log file if logs go to files; -1 with err. */
int logs_open_pool(struct supervisor *sup, struct pool *p, char *err, size_t errlen);
void logs_close_pool(struct pool *p);
/* Opens the pool's file again under the current logs settings (reload, SIGUSR1); when the
 * same file cannot be opened again the one in use stays. -1 with err. */
int logs_reopen_pool(struct supervisor *sup, struct pool *p, char *err, size_t errlen);
/* SIGUSR1: reopen every pool's file after an external rotation. */
void logs_reopen(struct supervisor *sup);

/* Takes the read ends of a new process's stdout and stderr pipes. */
void logs_attach(struct worker *w, int out_fd, int err_fd);
/* The process is gone: reads what it left in its pipes (a last line without a newline
 * included) and closes them. */
void logs_drain(struct worker *w);
/* One line from elsewhere (a job's lv_log): goes to the same sinks. */
void logs_line(struct worker *w, enum lv_stream stream, const char *text, size_t len);

/* The last lines of target's workers (at most n), oldest first: {"lines": [...]}. */
json_t *logs_tail(struct supervisor *sup, struct worker **ws, int n_ws, unsigned n);
void logs_free_worker(struct worker *w);

#endif
