/* supervisor: the daemon's core types (supervisor, pool, worker) and the operations the
 * control methods and event callbacks use on them. One libevent loop, one thread. */
#ifndef LV_SUPERVISOR_H
#define LV_SUPERVISOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include <event2/event.h>
#include <jansson.h>

#include "config/config.h"
#include "daemon/core/fsm.h"
#include "daemon/core/outlet.h"
#include "daemon/lib/clock.h"
#include "daemon/lib/histo.h"
#include "daemon/lib/ratewin.h"
#include "daemon/lib/sinks.h"
#include "daemon/proc/loop_channel.h"
#include "daemon/proc/notify_socket.h"
#include "daemon/proc/output.h"
#include "daemon/proc/procs.h"
#include "daemon/core/policy.h"
#include "daemon/core/probes.h"
#include "daemon/core/worker_env.h"

struct pool;
struct supervisor;

/* One event loop of a worker, as the supervisor sees it through heartbeats. Exec workers
 * have one, fed by WATCHDOG=1 when they speak the notify protocol. */
struct worker_loop {
	struct worker *w;
	unsigned index;
	struct loop_channel ch;              /* module: its channel, its lag and counters */
	bool ready;
	uint64_t last_beat_ms;               /* 0 until the first heartbeat */
	struct event *hang_timer;            /* fires when heartbeats stop */
};

struct worker {
	struct pool *pool;
	unsigned index;
	char name[LV_POOL_NAME_MAX + 16];    /* "POOL:INDEX" */
	enum worker_state state;
	struct process proc;                 /* its process, as the process layer sees it */
	uint64_t started_ms;                 /* when the current process was forked */
	uint64_t ready_ms;                   /* when it became running */
	unsigned restarts;                   /* spawns after the first */
	uint64_t ran_seq;                    /* sup->run_seq when it last became running, 0 never */
	unsigned spawns;
	unsigned quick_failures;             /* consecutive short runs, for backoff */
	bool want_running;                   /* desired state, as left by commands/policy */
	bool stop_requested;                 /* we asked the current process to stop */
	bool removing;                       /* scaled away: freed once stopped */
	bool ready_early;                    /* READY=1 read before its pid was handed on */
	bool held;                           /* stopped by an operator: stays so across restarts */
	int last_status;                     /* waitpid status of the last exit */
	bool has_exited;
	char *last_error;                    /* why the last process ended badly, or NULL */
	char *exit_error;                    /* the current process's error, moved at exit */
	bool hung;                           /* the current process missed its heartbeats */
	bool start_timed_out;                /* ... or was not ready within start_timeout_ms */
	unsigned char end_reason;            /* enum lv_restart_reason of the last process's end */
	struct notify_peer notify;           /* what a notify worker says (notify_socket.h) */
	struct lv_start_limit start_limit;
	struct event *timer;                 /* backoff, start, stop or hang-kill timeout */
	uint64_t deadline_ms;                /* when it is due, by lv_now_ms() */
	struct worker_loop *loops;
	unsigned n_loops;
	struct output output;                /* its captured stdout, stderr and lv_log lines */
	struct worker_env env;               /* argv, env and cwd of the start being sent */
	struct worker_probes *probes;        /* its probes (probes.h) */
	bool ready;                          /* running, and its readiness probe (if any) says so */
	uint64_t ready_seq;                  /* sup->run_seq when it last became ready, 0 never */
	enum fsm_fault fault;                /* its process is stopped for a fault... */
	unsigned char fault_reason;          /* ...enum lv_restart_reason: probe or memory */
	uint64_t oom_kills;                  /* processes of its leaf the OOM killer ended */
};

/* Why a worker's process was started again (loopvisor_pool_restarts_total's reason). */
enum lv_restart_reason { LV_RR_EXIT, LV_RR_SIGNAL, LV_RR_HANG, LV_RR_START_TIMEOUT,
	                     LV_RR_COMMAND, LV_RR_RELOAD, LV_RR_PROBE, LV_RR_MEMORY, LV_RR_OOM,
	                     LV_RR_COUNT };

/* What a pool counts for /metrics, from its start (a removed pool's go with it). */
struct pool_stats {
	uint64_t restarts[LV_RR_COUNT];
	uint64_t hangs;                      /* loops found hung */
	uint64_t log_lines[3];               /* by enum lv_stream */
	uint64_t log_dropped;                /* lines its log file could not take */
	struct lv_histo lag;                 /* every heartbeat's loop lag */
	struct lv_histo spawn;               /* process made to running */
	uint64_t probe_results[LV_PROBE_ROLES][2]; /* by role, failure [0] and success [1] */
	struct lv_histo probe_duration[LV_PROBE_ROLES];
};

struct pool {
	struct supervisor *sup;
	struct lv_pool_config cfg;
	char *module_path;                   /* resolved at spawn time */
	int listen_fds[LV_LISTEN_MAX];       /* bound once, shared by every worker */
	struct output_file *log;                 /* logs.dir/NAME.log, or NULL */
	struct output departed;              /* the last lines of workers scaled away */
	struct worker **workers;             /* index -> worker; n_slots entries */
	unsigned n_slots;
	unsigned running;                    /* workers in WS_RUNNING */
	unsigned ready;                      /* workers ready (struct worker's ready) */
	unsigned config_workers;             /* what its config (or add) says; cfg.workers is
	                                      * what runs, other while a scale overrides it */
	bool removing;                       /* freed once its last worker is gone */
	struct lv_pool_config *readd;        /* a reload wants it back: added once it is gone */
	bool restored;                       /* which workers run came from the state file */
	bool draining;                       /* shutdown has stopped this pool's workers */
	bool changed;                        /* a worker changed state this loop iteration */
	LIST_HEAD(waiter_list, waiter) waiters; /* requests parked on it or its workers */
	struct timeval hang_tv;              /* hang_timeout_ms as a libevent common timeout */
	unsigned hang_tv_ms;
	struct pool_stats stats;
	struct pool_roll {                   /* a rolling restart (roll.c) */
		bool active;                 /* under way ... */
		bool reload;                 /* begun by a reload (else by a command) */
		bool started;                /* ... and slot `index` is being replaced */
		unsigned index;
		unsigned done, total;        /* replaced so far, of the workers running at its start */
		uint64_t since;              /* run clock when slot `index` was restarted */
		char *error;                 /* why the last roll stopped short, NULL if it did not */
		char culprit[LV_POOL_NAME_MAX + 16];
	} roll;
};

struct waiter;
struct control;
struct notify;
struct output_file;
struct service;
struct inspect;
struct http;

struct supervisor {
	struct event_base *base;
	struct lv_config *cfg;
	const char *socket_arg;              /* -s, which beats the config file */
	struct passed_fd { char *name; int fd; } *passed; /* sockets systemd handed over */
	size_t n_passed;
	char **job_path;                     /* effective search path for modules */
	struct pool **pools;
	size_t n_pools;
	struct procs procs;                  /* pid table, zygotes, live count (proc/procs.h) */
	struct loop_channels channels;       /* what module workers' loop channels share */
	struct waiter_list waiters;          /* parked requests whose pool is gone, to judge */
	unsigned n_waiters;                  /* parked requests in all */
	unsigned config_gen;                 /* bumped each time cfg is replaced (reload) */
	struct core_outlet outlet;           /* where changes leave the core (outlet.h) */
	struct lv_sinks sinks;               /* who takes events and log lines (sinks.h) */
	struct control *control;
	struct event *sigchld, *sigterm, *sigint, *sighup, *sigusr1;
	struct event *settle;                /* judges waiters and followers of changed pools */
	struct notify *notify;               /* datagram socket of "ready": "notify" workers */
	LIST_HEAD(inspect_list, inspect) inspects; /* requests waiting for their loops */
	struct service *service;             /* systemd notification state */
	bool shutting_down;
	uint64_t event_seq;                  /* last event number sent */
	struct outputs outputs;              /* what all workers' output shares (output.h) */
	uint64_t run_seq;                    /* run clock: bumped each time a worker becomes running */
	unsigned long nofile_soft;           /* RLIMIT_NOFILE soft limit it started with */
	int64_t started_wall_ms;             /* when it started, ms since the epoch (metrics) */
	char cgroup_state[4200];             /* "on: PATH" or "off: WHY" (proc/cgroup.h) */
	struct http *http;                   /* the "http" listener, or NULL (control/http.h) */
	struct probe_hooks probe_hooks;      /* what probes ask of workers (probes.h) */
	int exit_code;
};


/* pool.c */
int pool_add(struct supervisor *sup, const struct lv_pool_config *cfg, char *err,
                        size_t errlen);
struct pool *pool_find(struct supervisor *sup, const char *name);
/* Resolves "POOL" or "POOL:INDEX" into workers; returns the count or -1 if unknown or not
 * in the canonical syntax. *out is malloc'd (free it) and lists live slots only. */
int pool_resolve_target(struct supervisor *sup, const char *target, struct worker ***out);
/* Whether target is in the one accepted syntax: POOL or POOL:INDEX, INDEX decimal without
 * sign, spaces or leading zeros. */
bool pool_target_valid(const char *target);
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
/* Starts the pool's workers from slot `from` on (those not scaled away). */
void pool_start_from(struct pool *pool, unsigned from);
/* Starts what a new pool should run: what the state file says the operator left running
 * (restored pools), else every worker if it autostarts. */
void pool_autostart(struct pool *pool);
/* Stops every worker of the pool and frees it once they are gone (possibly at once). */
void pool_remove(struct pool *pool);
/* Frees a removed pool whose workers are all gone; true if it did (pool is invalid then).
 * A pool a reload wants back (readd) is then added again from that config. */
bool pool_forget_if_gone(struct pool *pool);
/* Forgets that a reload wants the pool back after its removal. */
void pool_drop_readd(struct pool *pool);
/* Whether the pool's worker count is a runtime override of what its config says. */
bool pool_overridden(const struct pool *pool);
/* Workers stopped by a command, which stay so across reloads and restarts until a start. */
unsigned pool_held(const struct pool *pool);
/* roll.c: restarts the pool's running workers one at a time (why: "reload", "restart");
 * pool_roll advances it on each change of the pool. */
void pool_start_rolling(struct pool *pool, const char *why);
void pool_roll(struct pool *pool);

/* worker.c: commands and events of the state machine */
struct worker *worker_new(struct pool *pool, unsigned index);
void worker_free(struct worker *w);
void worker_start(struct worker *w);          /* command: start (resets failed/backoff) */
void worker_stop(struct worker *w);           /* command: stop, stays stopped */
/* Should it run (after a restart, for /readyz)? Yes unless an operator stopped it, or it
 * was never started (autostart off) or ended by policy without a failure. */
bool worker_should_run(const struct worker *w);
void worker_restart(struct worker *w);        /* command: stop then start */
void worker_resume(struct worker *w);         /* the pools it waited for are running */
void worker_ready(struct worker *w);          /* the process reported readiness */
/* A startup or liveness probe failed past its threshold (detail: which, and why). */
void worker_probe_failed(struct worker *w, const char *detail);
/* its memory passed memory_restart: stopped gracefully, restarted with reason memory */
void worker_memory_over(struct worker *w, const char *detail);
void worker_loop_ready(struct worker_loop *l);/* one loop reported readiness */
void worker_heartbeat(struct worker_loop *l); /* a loop is alive: push its hang deadline */
/* The worker misbehaves toward the supervisor: log, kill its group, restart by policy. */
void worker_evict(struct worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void worker_set_exit_error(struct worker *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void worker_exited(struct worker *w, int status);
void worker_spawned(struct worker *w, const struct spawn_io *io); /* its process exists */
void worker_spawn_failed(struct worker *w, const char *why);
void worker_set_error(struct worker *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* worker_spawn.c: the worker's process, made and ended through the process layer */
/* What any process of w's is made as, from env (argv, env, cwd): w's identity (pool, name,
 * user, group, limits), exec, its output inherited; the caller adds the rest. */
void worker_spawn_identity(const struct worker *w, const struct worker_env *env,
                           struct lv_spawn *sp);
void worker_spawn(struct worker *w);   /* asks for it: worker_spawned or _spawn_failed follow */
/* What the process is made from, at the moment it is made (struct proc_hooks.describe). */
int worker_describe(struct worker *w, struct lv_spawn *sp, char *err, size_t errlen);
/* Its process exists (pid set): take the daemon's ends of its pipes and channels. */
void worker_take_io(struct worker *w, const struct spawn_io *io);
/* Closes the start-error pipe (a running module worker reports no start error). */
void worker_close_error(struct worker *w);
void worker_close_process(struct worker *w);  /* drops channel, pipes, watch events */
/* Reads a pending exec/start error at exit; true if it had exec'd and owes no READY=1. */
bool worker_drain_error(struct worker *w);
/* worker.c: signals the worker's process or its group (procs_kill); 0 or -errno. */
int worker_kill(struct worker *w, int sig, bool group);
/* Asks the process to stop gracefully: "stop" on the channel, or the pool's stop signal. */
void worker_ask_stop(struct worker *w);

/* reload.c: re-reads the config file and applies the difference; -1 with err changes
 * nothing. *result gets {"added", "removed", "changed", "scaled", "unchanged"}. */
struct reload_hook {
	/* what else must take the new config (the control socket's path and mode); 0 or -1
	 * with err, which fails the reload */
	int (*prepare)(void *ctx, const struct lv_config *next, char *err, size_t errlen);
	void (*undo)(void *ctx);   /* after prepare was called, if the reload failed */
	void *ctx;
};
int reload_apply(struct supervisor *sup, const struct reload_hook *hook, json_t **result,
                      char *err, size_t errlen);

#endif
