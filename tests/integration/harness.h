/* harness: runs the real loopvisord in a temp dir for integration tests and talks to it
 * over its control socket. Every wait is on a state or an event, never a fixed sleep. */
#ifndef LV_HARNESS_H
#define LV_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>
#include <jansson.h>

#include <check.h>

#include "ctl/client.h"
#include "testutil.h"

#define JSTR(obj, key) json_string_value(json_object_get((obj), (key)))
#define JINT(obj, key) json_integer_value(json_object_get((obj), (key)))

struct lvd {
	char dir[256];        /* temp dir: config.json, control.sock, daemon.log */
	char sock[320];
	char log[320];
	char config[320];
	pid_t pid;            /* the daemon, 0 once reaped */
	int status;           /* its wait status once reaped */
	struct lv_client *c;  /* a connection for lvd_call */
	pid_t groups[256];    /* worker process groups seen, killed at teardown */
	unsigned long long group_starts[256]; /* their leaders' start times: still the same? */
	int n_groups;
	int notify_fd;        /* the daemon's NOTIFY_SOCKET, kept open for tests to read */
	char notify_path[400];
	char ready_msg[4096]; /* the datagram that said READY=1 */
	char cgroup[512];     /* the cgroup v2 folder it starts in (cgbox.h), or "" */
};

/* Is the daemon run under valgrind (LV_VALGRIND, make chaos)? It is then tens of times
 * slower: what measures its speed against a worker's cannot be tested. */
bool lvd_under_valgrind(void);

/* A command the daemon runs under from now on (NULL-terminated argv, e.g. valgrind). */
void lvd_set_wrapper(const char *const *argv);

/* Extra environment for the next daemon started (e.g. "WATCHDOG_USEC=200000"); cleared by
 * lvd_stop. */
void lvd_setenv(const char *assignment);
/* The next sd_notify datagram the daemon sent (malloc'd, NULL after test_ms(timeout_ms)), and the
 * pid the kernel says sent it. READY=1 of the start was consumed already. */
char *lvd_notify_next(struct lvd *d, int timeout_ms, pid_t *sender);

/* Path of a built file: lvd_path("bin/loopvisord"), lvd_path("tests/lv_testjob.so"). */
const char *lvd_build_path(const char *rel);

/* Writes config (printf-style, JSON) to the temp dir and starts the daemon; returns when
 * it says READY=1 on its notify socket. Fails the test if it does not. max_fds > 0 lowers
 * the daemon's RLIMIT_NOFILE. */
void lvd_start(struct lvd *d, const char *config_fmt, ...) __attribute__((format(printf, 2, 3)));
void lvd_start_limited(struct lvd *d, int max_fds, const char *config);
/* Same, but returns the daemon's exit status when it fails to start instead of failing. */
int lvd_try_start(struct lvd *d, const char *config, char *log_out, size_t log_len);

/* Replaces the config file (atomically), e.g. before a reload. */
void lvd_write_config(struct lvd *d, const char *config);
/* Starts the daemon again in the same folder with the same config, after it was killed
 * and reaped (lvd_wait_exit). */
void lvd_restart_after_kill(struct lvd *d);

/* Shuts the daemon down over the socket and checks it exited 0; kills leftovers. */
void lvd_stop(struct lvd *d);
/* Waits up to timeout_ms for the daemon to exit; returns true if it did. */
bool lvd_wait_exit(struct lvd *d, int timeout_ms);

/* Calls a method (params: JSON text or NULL) and returns the result; fails the test on an
 * error reply. lvd_call_error returns the error object instead (fails on success). */
json_t *lvd_call(struct lvd *d, const char *method, const char *params_fmt, ...)
	__attribute__((format(printf, 3, 4)));
json_t *lvd_call_error(struct lvd *d, const char *method, const char *params_fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Waits (server-side) until every worker of target is in state (a name, or a JSON array
 * of names) and has restarted at least `restarts` times; returns their status. */
json_t *lvd_wait(struct lvd *d, const char *target, const char *state, int restarts);
/* The status object of one worker ("POOL:INDEX"). */
json_t *lvd_worker(struct lvd *d, const char *name);
pid_t lvd_worker_pid(struct lvd *d, const char *name);
/* The pid of every worker, by name, as one JSON object (null for a worker without one). */
json_t *lvd_pids(struct lvd *d);

/* The first worker of a {"workers": [...]} result. */
json_t *first_worker(json_t *result);
/* Asserts that no worker of target reaches one of states (a JSON string or array) within
 * ms, stretched by test_ms: the daemon times the wait, so the test sleeps on nothing. */
void lvd_expect_no_change(struct lvd *d, const char *target, const char *states, int ms);
/* Runs a suite the way every test program does and returns its exit code. */
int lvd_run_suite(Suite *su);

/* The params of the next notification on a subscribed connection (fails after 20 s). */
json_t *lvd_next_notification(struct lv_client *c);

#endif
