/* supervisor: the daemon's core types (supervisor, pool, worker) and the operations the
 * control methods and event callbacks use on them. One libevent loop, one thread. */
#ifndef LV_SUPERVISOR_H
#define LV_SUPERVISOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>
#include <jansson.h>

#include "config/config.h"
#include "daemon/pidmap.h"
#include "daemon/policy.h"

enum worker_state {
	WS_STOPPED = 0,
	WS_STARTING,
	WS_RUNNING,
	WS_STOPPING,
	WS_BACKOFF,
	WS_FAILED,
};
#define WS_COUNT 6

struct pool;
struct supervisor;

/* One event loop of a worker, as the supervisor sees it through heartbeats. Exec workers
 * have one, fed by WATCHDOG=1 when they speak the notify protocol. */
struct worker_loop {
	struct worker *w;
	unsigned index;
	struct bufferevent *channel;         /* module: supervisor end of this loop's socketpair */
	bool ready;
	int64_t lag_us, lag_max_us, events;
	uint64_t last_beat_ms;               /* 0 until the first heartbeat */
	json_t *counters;                    /* as last reported, or NULL */
	char *counters_text;                 /* their JSON text, when read without a parser */
	size_t counters_len;
	struct event *hang_timer;            /* fires when heartbeats stop */
	uint64_t window_ms, throttled_ms;    /* rate limiting of what the loop sends: */
	unsigned window_msgs, invalid_msgs;  /* messages this second, invalid ones in all */
	size_t window_bytes;                 /* bytes of messages this second */
	unsigned window_reads, window_left;  /* reads this second, those that left bytes unread */
	unsigned flood_seconds;              /* consecutive seconds over budget or kept full */
	struct event *resume;                /* reads again after a throttled second */
};

struct worker {
	struct pool *pool;
	unsigned index;
	char name[LV_POOL_NAME_MAX + 16];    /* "POOL:INDEX" */
	enum worker_state state;
	pid_t pid;                           /* 0 when no process */
	unsigned zygote;                     /* the zygote that forked it (zygote.h), 0: the daemon */
	bool reaped;                         /* its exit is known, not handled yet: pid is stale */
	uint64_t started_ms;                 /* when the current process was forked */
	uint64_t ready_ms;                   /* when it became running */
	unsigned restarts;                   /* spawns after the first */
	uint64_t ran_seq;                    /* sup->run_seq when it last became running, 0 never */
	unsigned spawns;
	unsigned quick_failures;             /* consecutive short runs, for backoff */
	bool want_running;                   /* desired state, as left by commands/policy */
	bool stop_requested;                 /* we asked the current process to stop */
	bool removing;                       /* scaled away: freed once stopped */
	bool held;                           /* stopped by an operator: stays so across restarts */
	bool waiting_deps;                   /* starting, held back by its pool's "after" */
	int last_status;                     /* waitpid status of the last exit */
	bool has_exited;
	char *last_error;                    /* why the last process ended badly, or NULL */
	char *exit_error;                    /* the current process's error, moved at exit */
	bool hung;                           /* the current process missed its heartbeats */
	char *notify_status;                 /* STATUS= of a notify worker */
	bool notify_stopping;                /* it said STOPPING=1 */
	uid_t notify_uid;                    /* whose notify socket it was given */
	uint64_t notify_window_ms;           /* notify datagrams counted this second */
	unsigned notify_count;
	struct lv_start_limit start_limit;
	struct event *timer;                 /* backoff, start, stop or hang-kill timeout */
	uint64_t deadline_ms;                /* when it is due, by lv_now_ms() */
	struct event *exec_watch;            /* exec: error pipe, EOF = exec succeeded */
	int error_fd;                        /* read end of the error pipe, or -1 */
	struct worker_loop *loops;
	unsigned n_loops;
	struct bufferevent *log_bev[2];      /* read ends of the process's stdout and stderr */
	struct log_rec **ring;               /* its last log lines (logs.c) */
	unsigned ring_next, ring_len, ring_cap;
};

struct pool {
	struct supervisor *sup;
	struct lv_pool_config cfg;
	char *module_path;                   /* resolved at spawn time */
	int listen_fds[LV_LISTEN_MAX];       /* bound once, shared by every worker */
	struct logfile *log;                 /* logs.dir/NAME.log, or NULL */
	struct worker **workers;             /* index -> worker; n_slots entries */
	unsigned n_slots;
	unsigned running;                    /* workers in WS_RUNNING */
	unsigned config_workers;             /* what its config (or add) says; cfg.workers is
	                                      * what runs, other while a scale overrides it */
	bool removing;                       /* freed once its last worker is gone */
	struct lv_pool_config *readd;        /* a reload wants it back: added once it is gone */
	bool restored;                       /* which workers run came from the state file */
	bool draining;                       /* shutdown has stopped this pool's workers */
	bool changed;                        /* a worker changed state this loop iteration */
	struct waiter *waiters;              /* requests parked on it or its workers */
	struct timeval hang_tv;              /* hang_timeout_ms as a libevent common timeout */
	unsigned hang_tv_ms;
	bool rolling, roll_started;          /* a rolling restart is under way ... */
	unsigned roll_index;                 /* ... at this worker */
};

struct waiter;
struct control;
struct notify;
struct logfile;
struct service;
struct inspect;

struct supervisor {
	struct event_base *base;
	struct lv_config *cfg;
	const char *socket_arg;              /* -s, which beats the config file */
	struct passed_fd { char *name; int fd; } *passed; /* sockets systemd handed over */
	size_t n_passed;
	char **job_path;                     /* effective search path for modules */
	struct pool **pools;
	size_t n_pools;
	struct lv_pidmap pids;
	struct waiter *waiters;              /* parked requests whose pool is gone, to judge */
	unsigned n_waiters;                  /* parked requests in all */
	unsigned config_gen;                 /* bumped each time cfg is replaced (reload) */
	struct control *control;
	struct event *sigchld, *sigterm, *sigint, *sighup, *sigusr1;
	struct event *settle;                /* judges waiters and followers of changed pools */
	struct zygote_set *zygotes;          /* the fork servers (zygote.h), or NULL */
	struct notify *notify;               /* datagram socket of "ready": "notify" workers */
	struct inspect *inspects;            /* inspect requests waiting for their loops */
	struct service *service;             /* systemd notification state */
	bool shutting_down;
	uint64_t event_seq;                  /* last event number sent */
	uint64_t log_seq;                    /* last log line number */
	uint64_t run_seq;                    /* run clock: bumped each time a worker becomes running */
	unsigned live;                       /* workers with a process */
	unsigned long nofile_soft;           /* RLIMIT_NOFILE soft limit it started with */
	int exit_code;
};

uint64_t lv_now_ms(void);
const char *worker_state_name(enum worker_state s);
int worker_state_from_name(const char *name);

/* pool.c */
int supervisor_add_pool(struct supervisor *sup, const struct lv_pool_config *cfg, char *err,
                        size_t errlen);
struct pool *supervisor_find_pool(struct supervisor *sup, const char *name);
/* Resolves "POOL" or "POOL:INDEX" into workers; returns the count or -1 if unknown or not
 * in the canonical syntax. *out is malloc'd (free it) and lists live slots only. */
int supervisor_resolve(struct supervisor *sup, const char *target, struct worker ***out);
/* Whether target is in the one accepted syntax: POOL or POOL:INDEX, INDEX decimal without
 * sign, spaces or leading zeros. */
bool supervisor_target_valid(const char *target);
int pool_scale(struct pool *pool, unsigned workers);
/* A worker of p changed state: its waiters and the pools that follow it are judged once
 * per loop iteration, not per change (a start of 10000 workers makes 20000 changes). */
void pool_changed(struct pool *p);
void pool_free(struct pool *pool);
/* A listening socket for a listen address: bound now, or one systemd passed ("fd:NAME"). */
int pool_listen_open(struct supervisor *sup, const char *spec, char *err, size_t errlen);
/* A deep copy, so the pool outlives the config file it came from. */
int pool_copy_config(struct lv_pool_config *dst, const struct lv_pool_config *src);
/* Frees a scaled-away worker once it has stopped. */
void pool_drop_stopped(struct pool *pool, struct worker *w);
/* Stops every worker of the pool and frees it once they are gone (possibly at once). */
void supervisor_remove_pool(struct pool *pool);
/* Frees a removed pool whose workers are all gone; true if it did (pool is invalid then).
 * A pool a reload wants back (readd) is then added again from that config. */
bool pool_forget_if_gone(struct pool *pool);
/* Forgets that a reload wants the pool back after its removal. */
void pool_drop_readd(struct pool *pool);
/* Whether the pool's worker count is a runtime override of what its config says. */
bool pool_overridden(const struct pool *pool);
/* Restarts the pool's workers one at a time (see pool.c); pool_roll advances it. */
void pool_start_rolling(struct pool *pool);
void pool_roll(struct pool *pool);
/* Finds NAME.so on the job path, or takes a path as is; 0 or -1 with err. */
int pool_resolve_module(struct pool *pool, char *err, size_t errlen);

/* worker.c: commands and events of the state machine */
struct worker *worker_new(struct pool *pool, unsigned index);
void worker_free(struct worker *w);
void worker_start(struct worker *w);          /* command: start (resets failed/backoff) */
void worker_stop(struct worker *w);           /* command: stop, stays stopped */
void worker_restart(struct worker *w);        /* command: stop then start */
void worker_resume(struct worker *w);         /* the pools it waited for are running */
void worker_ready(struct worker *w);          /* the process reported readiness */
void worker_loop_ready(struct worker_loop *l);/* one loop reported readiness */
void worker_heartbeat(struct worker_loop *l); /* a loop is alive: push its hang deadline */
/* The worker misbehaves toward the supervisor: log, kill its group, restart by policy. */
void worker_evict(struct worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void worker_set_exit_error(struct worker *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void worker_exited(struct worker *w, int status);
void worker_set_error(struct worker *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* spawn.c */
int worker_spawn(struct worker *w);           /* 0, or -1 with last_error set */
/* Closes the start-error pipe (a running module worker reports no start error). */
void worker_close_error(struct worker *w);
void worker_close_process(struct worker *w);  /* drops channel, pipes, watch events */
void worker_drain_error(struct worker *w);    /* reads a pending exec/start error */
/* Signals the worker's process (or its whole process group); 0 or -errno. Only the process
 * that reaps the worker sends it, and only before the reap, so a reused pid is never hit:
 * the worker's zygote if it has one (asked on its socket, no answer awaited), else the
 * daemon, after making sure the pid is still an unreaped child of its own. */
int worker_kill(struct worker *w, int sig, bool group);
/* Asks the process to stop gracefully: "stop" on the channel, or the pool's stop signal. */
void worker_ask_stop(struct worker *w);

/* reap.c */
void supervisor_reap(struct supervisor *sup);
/* A child of the daemon exited with status: its worker or zygote, if any, learns. */
void supervisor_child_exited(struct supervisor *sup, pid_t pid, int status);
/* The worker's process exited (reaped by the daemon or reported by its zygote). */
void supervisor_worker_exited(struct supervisor *sup, struct worker *w, int status);
/* The worker whose process holds pid now: exits its zygote reported are taken first, so a
 * worker whose pid was reaped and given to another process is never the answer. */
struct worker *supervisor_worker_by_pid(struct supervisor *sup, pid_t pid);

/* lifecycle (main.c) */
char **supervisor_job_path(const struct lv_config *cfg);
void lv_strv_free(char **v);
int supervisor_socket_path(const struct supervisor *sup, const struct lv_config *cfg, char *buf,
                           size_t len);
/* reload.c: re-reads the config file and applies the difference; -1 with err changes
 * nothing. *result gets {"added", "removed", "changed", "scaled", "unchanged"}. */
int supervisor_reload(struct supervisor *sup, json_t **result, char *err, size_t errlen);
void supervisor_shutdown(struct supervisor *sup);
void supervisor_check_done(struct supervisor *sup);

/* waiters.c: parked requests woken by state changes */
void waiters_notify(struct supervisor *sup, struct pool *pool);
/* Judges the waiters of pools freed since (pool_free hands them over). */
void waiters_notify_all(struct supervisor *sup);

/* status.c */
json_t *worker_to_json(const struct worker *w);
/* {"code": N} or {"signal": "NAME"} for a waitpid status. */
json_t *exit_status_json(int status);
struct jsonw;
/* The status shapes of docs/protocol.md, written as text (status of many workers) */
void status_write_worker(struct jsonw *o, const struct worker *w, uint64_t now);
void status_write_pool(struct jsonw *o, const struct pool *p);

#endif
