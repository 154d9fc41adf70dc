/* testutil: helpers for processes, files and ports that the integration tests share. */
#ifndef LV_TESTUTIL_H
#define LV_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A time a test waits or watches, stretched by check's CK_TIMEOUT_MULTIPLIER (make chaos
 * runs the daemon under valgrind, tens of times slower): the one place it is read. Every
 * fixed window and bound in the tests goes through it (the harness's own waits do). */
int test_ms(int ms);

/* Reads a whole file (malloc'd) or NULL. */
char *slurp(const char *path);

/* Waits until an arbitrary pid (not our child) is gone, through a pidfd (timeout_ms is
 * stretched by test_ms, as is group_gone_within's). */
bool pid_gone_within(pid_t pid, int timeout_ms);

/* Waits until done(arg) is true, asking it again each time path (a file, or a folder's
 * entries) changes (inotify), at most timeout_ms (stretched); returns done's last answer. */
bool until_changed(const char *path, bool (*done)(void *arg), void *arg, int timeout_ms);

/* Waits until no process of process group pgid is still running (zombies count as gone). */
bool group_gone_within(pid_t pgid, int timeout_ms);

/* Runs argv[0] (a path) with argv, stdin from /dev/null; collects stdout and stderr
 * (small outputs) and returns the exit code. */
int run_program(const char *const argv[], char *out, size_t out_len, char *err, size_t err_len);

/* How many descriptors pid has open, or -1. */
int count_fds(pid_t pid);

/* A loopback TCP port nothing listens on right now. */
int free_port(void);

/* A number field of /proc/PID/status ("VmRSS:" gives KiB), or -1. */
long proc_status_value(pid_t pid, const char *field);

/* True (after printing that what is skipped) when not root: users cannot be made. */
bool skip_unless_root(const char *what);
/* Makes a system user (no home, no shell) unless it exists; fails the test otherwise. */
void ensure_user(const char *name);

/* GET /metrics from a daemon's Unix HTTP listener at path: the whole answer (malloc'd). */
char *scrape_metrics(const char *path);

/* A new folder /tmp/lv-NAME.XXXXXX (mode 0755) into dir; remove_tree removes it whole. */
void make_temp_dir(char *dir, size_t len, const char *name);
void remove_tree(const char *dir);
/* dir/NAME.py with header then body (the Python suites' apps). */
void write_python(const char *dir, const char *name, const char *header, const char *body);

#endif
