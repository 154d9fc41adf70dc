/* spawn: the plain struct the supervisor hands to a freshly forked child, and the child's
 * entry point. Nothing else crosses from supervisor to worker at start. */
#ifndef LV_WORKER_SPAWN_H
#define LV_WORKER_SPAWN_H

#include <stdbool.h>
#include <signal.h>
#include <sys/types.h>
#include <jansson.h>

#include "config/config.h"

/* In the child, listening sockets come first at fd 3 (the sd_listen_fds layout), then one
 * channel per loop (module workers), then the error pipe. */
#define LV_WORKER_FIRST_FD 3

struct lv_spawn {
	enum lv_pool_kind kind;
	const char *pool;
	unsigned index;
	const char *worker;          /* "POOL:INDEX" */
	pid_t supervisor;            /* getpid() of the parent, for the death check */
	char *const *argv;           /* exec */
	char *const *env;            /* extra "KEY=VALUE" entries */
	const char *cwd;             /* or NULL */
	bool set_ids;
	uid_t uid;
	gid_t gid;
	const char *user;            /* for initgroups, or NULL */
	const char *module_path;     /* module: resolved path of the .so */
	const json_t *params;        /* module */
	unsigned loops;              /* module: loops (threads), each with its own channel */
	unsigned heartbeat_ms;       /* module */
	int *channel_fds;            /* module: worker ends of the socketpairs, one per loop */
	const int *listen_fds;       /* the pool's listening sockets */
	char *const *listen_names;
	unsigned n_listen;
	const char *notify_socket;   /* exec with "ready": "notify": NOTIFY_SOCKET to set */
	int error_fd;                /* write end of the CLOEXEC error pipe */
	int stdout_fd, stderr_fd;    /* write ends of the log pipes, or -1 to inherit */
	bool output_null;            /* stdout and stderr go to /dev/null instead */
	const struct lv_pool_config *limits; /* no_new_privs, umask, rlimits */
	unsigned long nofile_soft;   /* RLIMIT_NOFILE soft limit to give back (0: keep) */
	int cgroup_fd;               /* the worker's cgroup v2 leaf (a directory), or -1 */
	bool cgroup_placed;          /* the child was born in it (clone3): no need to join */
};

/* Runs in the child right after fork with every signal blocked; never returns. It calls
 * setsid() before it runs anything of its own: its pid becomes its session and group id. */
_Noreturn void lv_worker_main(const struct lv_spawn *sp);

/* Module workers, after the reset: build a loop, load the job, run it; never returns. */
_Noreturn void lv_module_run(const struct lv_spawn *sp);

/* Reports a start error to the supervisor over the error pipe and exits 127. */
_Noreturn void lv_worker_die(const struct lv_spawn *sp, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
