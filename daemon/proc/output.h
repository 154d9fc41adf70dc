/* output: captures every worker's stdout and stderr through pipes, splits them into lines
 * tagged with worker and stream, and hands each line on: the pool's log file (or the
 * daemon's log or the journal without logs.dir), the worker's in-memory ring, the sinks. */
#ifndef LV_OUTPUT_H
#define LV_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>
#include <jansson.h>

#define LV_LOG_MAX_LINE (64 * 1024)   /* longer lines are split */

enum lv_stream { LV_STREAM_STDOUT, LV_STREAM_STDERR, LV_STREAM_LOG };

struct lv_sinks;
struct output_file;
struct log_rec;

/* What every worker's output shares. */
struct outputs {
	struct event_base *base;
	struct lv_sinks *sinks;     /* followers of log lines */
	uint64_t seq;               /* the last line's number */
	unsigned ring_lines;        /* lines a worker's ring keeps (logs.ring) */
};

/* One worker's output, as the capture sees it. */
struct output {
	struct outputs *all;
	const char *name;                 /* "POOL:INDEX" */
	const char *pool;                 /* its pool's name */
	const pid_t *pid;                 /* its process's pid, 0 between processes */
	struct output_file *const *file;      /* its pool's log file, or NULL: the daemon's log */
	struct bufferevent *bev[2];       /* read ends of the process's stdout and stderr */
	uint64_t *lines;                  /* its pool's lines per stream, or NULL (metrics) */
	uint64_t *dropped;                /* its pool's lines its log file did not take */
	void (*watch)(void *arg, const char *text, size_t len); /* sees each line, or NULL */
	void *watch_arg;
	struct log_rec **ring;            /* its last lines */
	unsigned ring_next, ring_len, ring_cap;
};

/* Makes the logs folder if it is missing and checks that only the daemon's user can write
 * it (owner, no group or world write, no symlink); -1 with err ("logs: DIR: refusing..."). */
int output_prepare_dir(const char *dir, char *err, size_t errlen);

/* Takes the read ends of a new process's stdout and stderr pipes. */
void output_attach(struct output *o, int out_fd, int err_fd);
/* The process is gone: reads what it left in its pipes (a last line without a newline
 * included) and closes them. */
void output_drain(struct output *o);
/* One line from elsewhere (a job's lv_log): goes the same way. */
void output_line(struct output *o, enum lv_stream stream, const char *text, size_t len);
/* The last lines of these outputs (at most n), oldest first: {"lines": [...]}. */
json_t *output_tail(struct output *const *os, int n_os, unsigned n);
/* A worker scaled away: its last lines move to keeper, its pool's ring of removed workers'
 * lines (logs.ring long, the oldest give way), marked "removed" in a tail. */
void output_retire(struct output *keeper, struct output *o);
/* Drains, then frees the ring. */
void output_free(struct output *o);

#endif
