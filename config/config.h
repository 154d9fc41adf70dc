/* config: the daemon's configuration as plain C structs, parsed and validated from JSON.
 * Pure code: no processes, no event loops; every error names the key path that is wrong. */
#ifndef LV_CONFIG_H
#define LV_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <jansson.h>

#define LV_POOL_NAME_MAX     64
#define LV_POOL_WORKERS_MAX  10000
#define LV_ERRBUF            512

enum lv_pool_kind { LV_KIND_EXEC, LV_KIND_MODULE };
enum lv_restart { LV_RESTART_ALWAYS, LV_RESTART_ON_FAILURE, LV_RESTART_NEVER };

/* "probes": how a worker is checked besides its process being alive (docs/probes.md). */
enum lv_probe_kind { LV_PROBE_NONE = 0, LV_PROBE_HTTP, LV_PROBE_TCP, LV_PROBE_EXEC, LV_PROBE_LOG };
enum lv_probe_role { LV_PROBE_STARTUP, LV_PROBE_LIVENESS, LV_PROBE_READINESS };
#define LV_PROBE_ROLES 3

struct lv_probe_config {
	enum lv_probe_kind kind;     /* LV_PROBE_NONE: this probe is not configured */
	char *target;                /* http: "http://HOST:PORT/PATH?QUERY", tcp: "HOST:PORT",
	                              * both templates (config/template.h) whose HOST is an IP
	                              * literal ([v6] in brackets) or localhost; log: the POSIX
	                              * extended regex a captured line must match */
	char **argv;                 /* exec: NULL-terminated templates, as a pool's exec */
	unsigned status_min, status_max; /* http: accepted status codes, default 200..399 */
	char *body;                  /* http: POSIX extended regex the body must match, or NULL */
	unsigned period_ms;          /* default 10000 */
	unsigned timeout_ms;         /* default 1000, at most period_ms */
	unsigned initial_delay_ms;   /* default 0: from the process's start */
	unsigned failure_threshold;  /* default 3 consecutive failures */
	unsigned success_threshold;  /* default 1 consecutive successes; readiness only */
};

struct lv_pool_config {
	char name[LV_POOL_NAME_MAX + 1];
	enum lv_pool_kind kind;
	char **argv;                 /* exec: NULL-terminated, argv[0] is the program; each a
	                              * template (config/template.h), argv[0] absolute if it
	                              * has a '/' */
	char *module;                /* module: a name, or an absolute path if it had a '/' */
	json_t *params;              /* module: owned reference to an object, never NULL */
	unsigned workers;            /* 0 .. LV_POOL_WORKERS_MAX, default 1 */
	enum lv_restart restart;     /* default LV_RESTART_ALWAYS */
	bool autostart;              /* default true */
	int stop_signal;             /* default SIGTERM */
	unsigned stop_timeout_ms;    /* default 10000 */
	unsigned start_limit_burst;  /* default 5 starts ... */
	unsigned start_limit_interval_ms; /* ... within 10000 ms */
	char **env;                  /* extra "KEY=VALUE" entries, NULL-terminated, never NULL;
	                              * values are templates */
	char *cwd;                   /* absolute path or NULL (inherit); a template */
	char **env_files;            /* absolute paths, "-" first when optional; never NULL */
	char *user, *group;          /* as written, or NULL */
	uid_t uid;                   /* valid when user != NULL */
	gid_t gid;                   /* valid when user or group != NULL */
	unsigned loops;              /* module: threads with a loop each, 1..64, default 1 */
	unsigned heartbeat_ms;       /* module: heartbeat period, default 1000 */
	unsigned hang_timeout_ms;    /* no heartbeat this long = hung; default 10000, 0 = off */
	unsigned start_timeout_ms;   /* starting longer than this fails the start; default 60000 */
	bool ready_notify;           /* exec: running on READY=1 ("ready": "notify") */
	bool python;                 /* "python": a module pool of the "python" job (python.c) */
	bool python_ready_late;      /* ... running once the app calls ctx.ready() */
	enum lv_output { LV_OUTPUT_CAPTURE, LV_OUTPUT_INHERIT, LV_OUTPUT_NULL } output;
	                             /* stdout/stderr: pipes to the log sinks (2 descriptors in
	                              * the daemon per worker), the daemon's own, or /dev/null */
	char **listen;               /* "tcp:HOST:PORT" / "unix:/abs/path", NULL-terminated, never NULL */
	size_t n_listen;
	char **after;                /* pools that must be running before this one starts */
	bool no_new_privs;           /* PR_SET_NO_NEW_PRIVS; default on unless it runs as root */
	int umask;                   /* -1: inherit */
	struct lv_rlimit { int resource; unsigned long long value; } rlimits[16];
	unsigned n_rlimits;
	struct lv_probe_config probes[LV_PROBE_ROLES]; /* by enum lv_probe_role */
	/* "limits" and "memory_restart": written to the worker's own cgroup v2 leaf
	 * (docs/cgroups.md); plain values, so a struct copy copies them */
	struct lv_cgroup_limits {
		unsigned long long memory_max;   /* bytes, 0: none */
		unsigned long long memory_high;  /* bytes, 0: none */
		unsigned pids_max;               /* 0: none */
		unsigned cpu_max_pct;            /* percent of one CPU (may exceed 100: 250 = 2.5 CPUs), 0: none */
		unsigned cpu_weight;             /* 1..10000, 0: unset */
		int memory_oom_group;            /* -1 unset, 0 false, 1 true */
		unsigned long long memory_restart; /* bytes, 0: none */
	} limits;
	json_t *source;              /* the POOL object as written (owned), to compare and save */
};

#define LV_LOOPS_MAX 64
#define LV_LISTEN_MAX 16

#define LV_HTTP_LISTEN_MAX 8

/* "http": the read-only metrics, health and status listener; off when listen is NULL. */
struct lv_http_config {
	char **listen;               /* "tcp:HOST:PORT" or "unix:/abs/path", NULL-terminated */
	unsigned worker_series_max;  /* per-worker series only up to this many workers */
	bool allow_remote;           /* TCP addresses other than loopback allowed */
};

enum lv_cgroup_mode { LV_CGROUP_AUTO, LV_CGROUP_OFF };

struct lv_config {
	char *path;                  /* absolute path of the file it came from, or NULL */
	char *dir;                   /* folder that relative paths resolve against */
	char *control_socket;        /* absolute path, or NULL when the file names none */
	mode_t control_mode;         /* default 0600 */
	bool control_has_group;      /* control.group: the socket's group */
	gid_t control_gid;
	struct lv_access {           /* control.access: who may do what */
		bool is_group;
		uid_t uid;
		gid_t gid;
		int role;                /* 1 read, 2 admin (enum lv_rpc_role) */
	} *access;
	size_t n_access;
	char **job_path;             /* absolute folders, NULL-terminated, never NULL */
	char *state_dir;             /* where runtime changes are saved, or NULL for nowhere */
	char *logs_dir;              /* per-pool log files, or NULL: the daemon's stderr */
	unsigned long logs_max_bytes;/* rotate a file past this size, default 10 MiB; 0: never */
	unsigned logs_keep;          /* rotated files kept, default 5 */
	unsigned logs_ring;          /* lines kept in memory per worker for tail, default 200 */
	int log_target;              /* 0 auto, 1 stderr, 2 journal ("logs": {"target"}) */
	struct lv_http_config http;
	enum lv_cgroup_mode cgroup;  /* "cgroup": default auto */
	struct lv_pool_config *pools;
	size_t n_pools;
};

/* http.c: parses root's "http" into cfg->http; clears it. */
void lv_http_config_clear(struct lv_http_config *h);
/* Whether a listen spec serves this host only (unix:, or TCP on 127.0.0.0/8 or ::1). */
bool lv_listen_spec_is_loopback(const char *spec);

/* Reads and validates FILE. On failure returns -1 and writes a message such as
 * "pools[1].wrokers: unknown key" into err. */
int lv_config_load(const char *file, struct lv_config **out, char *err, size_t errlen);

/* Validates an already parsed document; relative paths resolve against base_dir. */
int lv_config_from_json(const json_t *root, const char *base_dir, struct lv_config **out,
                        char *err, size_t errlen);

/* Validates one POOL object (as in "pools") into *out; key paths in messages start with
 * prefix (e.g. "pools[2]" or "pool"). Used by the config file and by runtime "add". */
int lv_pool_config_from_json(const json_t *obj, const char *base_dir, const char *prefix,
                             struct lv_pool_config *out, char *err, size_t errlen);

void lv_pool_config_clear(struct lv_pool_config *pool);

/* probes.c: a POOL's "probes" object (NULL: none) into pool->probes, for a pool whose kind,
 * name and output are already parsed; key paths start with prefix ("pools[2].probes...").
 * Unconfigured roles stay LV_PROBE_NONE and zero. Timings, thresholds and (http) status get
 * their defaults (an unwritten timeout_ms is 1000, or period_ms when shorter); an http
 * target without a path gets "/"; regexes were compiled once to check them (callers compile
 * their own); HOST has no placeholders, but a PORT is only checked for worker 0: expand and
 * check it again per worker. On failure pool->probes is cleared and err says why. */
int lv_probes_from_json(const json_t *probes, const char *base_dir, const char *prefix,
                        struct lv_pool_config *pool, char *err, size_t errlen);
/* Frees what the probes own and zeroes them (LV_PROBE_NONE). */
void lv_probes_clear(struct lv_probe_config probes[LV_PROBE_ROLES]);
/* A deep copy into dst (whatever dst held is not freed); -1 and dst cleared on no memory. */
int lv_probes_copy(struct lv_probe_config dst[LV_PROBE_ROLES],
                   const struct lv_probe_config src[LV_PROBE_ROLES]);
/* regex.c: how many nodes glibc's regcomp may build for a POSIX extended regex (what
 * repetitions copy, multiplied out), saturating past LV_REGEX_COST_MAX; a regex past it, or
 * with groups nested deeper than LV_REGEX_DEPTH_MAX, is refused before regcomp sees it. */
#define LV_REGEX_COST_MAX 1000
#define LV_REGEX_DEPTH_MAX 32
unsigned long long lv_regex_cost(const char *re);

/* python.c: a POOL object's "python" (if any), after its env and stop timeout were parsed:
 * LOOPVISOR_PYTHON_* entries added to p->env for the "python" job; 0 or -1 with err. */
int lv_python_from_json(const json_t *pool, const char *base_dir, const char *prefix,
                        struct lv_pool_config *p, char *err, size_t errlen);

/* limits.c: a POOL object's "limits" object and "memory_restart" key (both optional) into
 * *out; key paths start with prefix ("pools[2].limits.memory_max"). Unset limits are 0, and
 * memory_oom_group -1; a percentage memory_restart is stored as bytes of memory_high. On
 * failure *out is zeroed and err says why. */
int lv_cgroup_limits_from_json(const json_t *pool, const char *prefix,
                               struct lv_cgroup_limits *out, char *err, size_t errlen);
/* Splits a target expanded for one worker: "http://HOST:PORT[/PATH]" (path "/" when absent)
 * or, for tcp, "HOST:PORT". HOST is an IPv4 literal, [IPv6] or localhost, never a name to
 * look up; host gets the literal without brackets (localhost: 127.0.0.1), port 1..65535 (a
 * worker past 0 may get one out of range from {index+N}), path the rest (tcp: ""). 0, or -1
 * with why. */
/* "startup", "liveness" or "readiness": the role's key in the config, and its name in
 * status, events and metrics. */
const char *lv_probe_role_name(enum lv_probe_role role);
int lv_probe_target_split(enum lv_probe_kind kind, const char *target, char *host,
                          size_t hostlen, unsigned *port, char *path, size_t pathlen,
                          char *why, size_t whylen);

/* True when a and b differ in more than their worker count (a restart is needed). */
bool lv_pool_config_differs(const struct lv_pool_config *a, const struct lv_pool_config *b);
void lv_config_free(struct lv_config *cfg);

/* Checks that every "after" names a pool of cfg and that they form no cycle. */
int lv_config_check_after(const struct lv_config *cfg, char *err, size_t errlen);

/* Index of the pool called name, or -1. */
int lv_config_find_pool(const struct lv_config *cfg, const char *name);

/* True when name matches [A-Za-z0-9_.-]{1,64}. */
bool lv_pool_name_valid(const char *name);

#endif
