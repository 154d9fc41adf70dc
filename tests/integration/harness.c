/* harness: starts loopvisord with a notify socket, waits for READY=1, talks JSON-RPC to
 * it and tears it and every worker group down, so no test leaks a process into ctest. */
#include "harness.h"

#include "cgbox.h"
#include "check_run.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* Every wait and window below stretches with CK_TIMEOUT_MULTIPLIER (test_ms). */
#define CALL_TIMEOUT_MS test_ms(30000)

const char *lvd_build_path(const char *rel)
{
	static char buf[8][512];
	static int next;
	const char *dir = getenv("LV_BUILD_DIR");
	char *out = buf[next++ % 8];

	snprintf(out, sizeof buf[0], "%s/%s", dir ? dir : "build", rel);
	return out;
}

static int notify_socket(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1;

	ck_assert_int_ge(fd, 0);
	ck_assert_uint_lt(strlen(path), sizeof sun.sun_path);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
	return fd;
}

static const char *extra_env[8];
static int n_extra_env;
static const char *wrapper[16];

void lvd_set_wrapper(const char *const *argv)
{
	int i = 0;

	for (; argv && argv[i] && i < 15; i++)
		wrapper[i] = argv[i];
	wrapper[i] = NULL;
}

void lvd_setenv(const char *assignment)
{
	if (n_extra_env < 8)
		extra_env[n_extra_env++] = assignment;
}

char *lvd_notify_next(struct lvd *d, int timeout_ms, pid_t *sender)
{
	struct pollfd pfd = { .fd = d->notify_fd, .events = POLLIN };
	char buf[4096];
	union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(struct ucred))]; } ctl;
	struct iovec iov = { buf, sizeof buf - 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl,
	                      .msg_controllen = sizeof ctl };
	ssize_t n;

	if (d->notify_fd < 0 || poll(&pfd, 1, test_ms(timeout_ms)) != 1 ||
	    (n = recvmsg(d->notify_fd, &msg, MSG_DONTWAIT)) < 0)
		return NULL;
	buf[n] = '\0';
	*sender = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS)
			*sender = ((struct ucred *)CMSG_DATA(c))->pid;
	return strdup(buf);
}

static pid_t spawn_daemon(struct lvd *d, const char *notify_path, int max_fds)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int log = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		int null = open("/dev/null", O_RDONLY);

		if (log < 0 || null < 0)
			_exit(120);
		dup2(null, 0);
		dup2(log, 1);
		dup2(log, 2);
		if (max_fds > 0) {
			struct rlimit rl = { (rlim_t)max_fds, (rlim_t)max_fds };
			setrlimit(RLIMIT_NOFILE, &rl);
		}
		cgbox_enter(d->cgroup);
		setenv("NOTIFY_SOCKET", notify_path, 1);
		for (int i = 0; i < n_extra_env; i++)
			putenv((char *)extra_env[i]);
		if (wrapper[0]) { /* e.g. valgrind, or unshare for a PID namespace */
			const char *argv[24];
			int n = 0;

			for (int i = 0; wrapper[i]; i++)
				argv[n++] = wrapper[i];
			argv[n++] = lvd_build_path("bin/loopvisord");
			argv[n++] = "-c";
			argv[n++] = d->config;
			argv[n++] = "-s";
			argv[n++] = d->sock;
			argv[n] = NULL;
			execvp(argv[0], (char *const *)argv);
			_exit(122);
		}
		execl(lvd_build_path("bin/loopvisord"), "loopvisord", "-c", d->config, "-s",
		      d->sock, (char *)NULL);
		_exit(121);
	}
	return pid;
}

/* Waits for READY=1 from the daemon, or its death; returns true when ready. */
static bool await_ready(struct lvd *d, int nfd)
{
	int pidfd = (int)syscall(SYS_pidfd_open, d->pid, 0);
	struct pollfd pfd[2] = { { .fd = nfd, .events = POLLIN }, { .fd = pidfd, .events = POLLIN } };
	bool ready = false;

	ck_assert_int_ge(pidfd, 0);
	while (!ready && poll(pfd, 2, test_ms(20000)) > 0) {
		char buf[4096];
		ssize_t n;

		if (pfd[1].revents) {
			waitpid(d->pid, &d->status, 0);
			d->pid = 0;
			break;
		}
		if ((n = recv(nfd, buf, sizeof buf - 1, 0)) > 0) {
			buf[n] = '\0';
			if ((ready = strstr(buf, "READY=1") != NULL))
				memcpy(d->ready_msg, buf, (size_t)n + 1);
		}
	}
	close(pidfd);
	return ready;
}

static void write_config(struct lvd *d, const char *config)
{
	FILE *f;
	char tmpl[] = "/tmp/lvtest.XXXXXX";

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	snprintf(d->dir, sizeof d->dir, "%s", tmpl);
	snprintf(d->sock, sizeof d->sock, "%s/control.sock", d->dir);
	snprintf(d->log, sizeof d->log, "%s/daemon.log", d->dir);
	snprintf(d->config, sizeof d->config, "%s/config.json", d->dir);
	f = fopen(d->config, "w");
	ck_assert_ptr_nonnull(f);
	fputs(config, f);
	fclose(f);
}

/* Starts the daemon on d's config and waits for READY=1; -1 if it died instead. */
bool lvd_under_valgrind(void)
{
	return getenv("LV_VALGRIND") != NULL;
}

static int launch(struct lvd *d, int max_fds)
{
	char notify_path[400];
	int nfd;
	bool ready;

	snprintf(notify_path, sizeof notify_path, "%s/notify.sock", d->dir);
	unlink(notify_path);
	if (!wrapper[0] && lvd_under_valgrind()) { /* make chaos: the suites under memcheck */
		static const char *const vg[] = { "valgrind", "-q", "--error-exitcode=99",
		                                  "--leak-check=full", "--errors-for-leak-kinds=definite",
		                                  NULL };
		lvd_set_wrapper(vg);
	}
	if (wrapper[0] && !strcmp(wrapper[0], "setpriv"))
		chmod(d->dir, 0777); /* the daemon runs as another user: it must make its socket */
	if (d->notify_fd > 0)
		close(d->notify_fd);
	nfd = notify_socket(notify_path);
	chmod(notify_path, 0666);
	d->notify_fd = nfd;
	snprintf(d->notify_path, sizeof d->notify_path, "%s", notify_path);
	if (!d->cgroup[0])
		cgbox_make(d->cgroup, sizeof d->cgroup);
	d->pid = spawn_daemon(d, notify_path, max_fds);
	ready = await_ready(d, nfd);
	if (!ready)
		return -1;
	d->c = lv_client_connect(d->sock);
	ck_assert_msg(d->c != NULL, "connect %s: %s", d->sock, strerror(errno));
	return 0;
}

static int start_common(struct lvd *d, const char *config, int max_fds)
{
	memset(d, 0, sizeof *d);
	write_config(d, config);
	return launch(d, max_fds);
}

void lvd_restart_after_kill(struct lvd *d)
{
	if (d->c)
		lv_client_close(d->c);
	d->c = NULL;
	ck_assert_msg(d->pid == 0, "the daemon is still running");
	if (launch(d, 0) < 0) {
		char *log = slurp(d->log);
		size_t len = log ? strlen(log) : 0;

		/* the tail, on one line: check carries neither many kilobytes nor a newline */
		for (size_t i = 0; i < len; i++)
			log[i] = log[i] == '\n' ? '|' : log[i];
		ck_abort_msg("loopvisord did not get ready again (status %d): %s", d->status,
		             log ? log + (len > 1500 ? len - 1500 : 0) : "(no log)");
	}
}

void lvd_write_config(struct lvd *d, const char *config)
{
	char tmp[400];
	FILE *f;

	snprintf(tmp, sizeof tmp, "%s.new", d->config);
	f = fopen(tmp, "w");
	ck_assert_ptr_nonnull(f);
	fputs(config, f);
	fclose(f);
	ck_assert_int_eq(rename(tmp, d->config), 0);
}

void lvd_start_limited(struct lvd *d, int max_fds, const char *config)
{
	if (start_common(d, config, max_fds) < 0) {
		char *log = slurp(d->log);
		size_t len = log ? strlen(log) : 0;

		if (d->pid)
			kill(d->pid, SIGKILL);
		if (lvd_wait_exit(d, 10000))
			cgbox_remove(d->cgroup);
		/* the end of the log: check's messages have a size limit */
		ck_abort_msg("loopvisord did not get ready: ...%s", log ? log + (len > 2000 ? len - 2000 : 0)
		                                                        : "(no log)");
	}
}

void lvd_start(struct lvd *d, const char *config_fmt, ...)
{
	char *config;
	va_list ap;

	va_start(ap, config_fmt);
	ck_assert_int_ge(vasprintf(&config, config_fmt, ap), 0);
	va_end(ap);
	lvd_start_limited(d, 0, config);
	free(config);
}

int lvd_try_start(struct lvd *d, const char *config, char *log_out, size_t log_len)
{
	char *log;

	if (start_common(d, config, 0) == 0)
		return 0;
	if (lvd_wait_exit(d, 10000))
		cgbox_remove(d->cgroup);
	log = slurp(d->log);
	snprintf(log_out, log_len, "%s", log ? log : "");
	free(log);
	return d->status;
}

bool lvd_wait_exit(struct lvd *d, int timeout_ms)
{
	if (!d->pid)
		return true;
	if (!pid_gone_within(d->pid, timeout_ms))
		return false;
	waitpid(d->pid, &d->status, 0);
	d->pid = 0;
	return true;
}

/* State, parent, process group and start time (clock ticks after boot) of pid, from
 * /proc/PID/stat; false if it is gone. */
static bool proc_stat_of(pid_t pid, char *state, pid_t *ppid, pid_t *pgrp, unsigned long long *start)
{
	char path[64], *text, *p;
	bool ok;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (!(text = slurp(path)))
		return false;
	/* after "(comm)": 3 state 4 ppid 5 pgrp, 6-21 skipped, 22 starttime */
	ok = (p = strrchr(text, ')')) != NULL &&
	     sscanf(p + 1, " %c %d %d %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
	            "%*s %*s %llu", state, ppid, pgrp, start) == 4;
	free(text);
	return ok;
}

/* The start time of pid if it descends from the daemon (a worker, or its zygote, a few
 * generations down), else 0: a number the daemon reports from inside a PID namespace, or
 * of a worker gone and reused since, names someone else's process. */
static unsigned long long start_of_daemon_descendant(const struct lvd *d, pid_t pid)
{
	unsigned long long start, ignored;
	pid_t up = pid, pgrp;
	char state;

	if (!proc_stat_of(pid, &state, &up, &pgrp, &start))
		return 0;
	for (int gen = 0; gen < 4 && up > 1; gen++) {
		if (up == d->pid)
			return start;
		if (!proc_stat_of(up, &state, &up, &pgrp, &ignored))
			return 0;
	}
	return 0;
}

/* Remembers every worker group, with its leader's start time, so teardown can kill what a
 * failed test left behind. */
static void note_groups(struct lvd *d, const json_t *result)
{
	json_t *workers = json_object_get(result, "workers"), *w;
	size_t i;

	json_array_foreach(workers, i, w) {
		json_t *pid = json_is_object(w) ? json_object_get(w, "pid") : NULL;
		unsigned long long start;
		bool known = false;

		if (!json_is_integer(pid) || json_integer_value(pid) <= 1)
			continue;
		for (int k = 0; k < d->n_groups; k++)
			known |= d->groups[k] == (pid_t)json_integer_value(pid);
		if (known || d->n_groups >= 256 ||
		    !(start = start_of_daemon_descendant(d, (pid_t)json_integer_value(pid))))
			continue;
		d->group_starts[d->n_groups] = start;
		d->groups[d->n_groups++] = (pid_t)json_integer_value(pid);
	}
}

/* Kills the groups whose leader is still the worker first seen (same pid, same start
 * time, still leading its group, a zombie at most: its pid, and so the group id, cannot
 * have been reused). A group whose leader was reaped is left alone: its number may be
 * anybody's now, and the daemon's reaper killed it anyway. */
static void kill_leftovers(struct lvd *d)
{
	for (int k = 0; k < d->n_groups; k++) {
		unsigned long long start;
		pid_t ppid, pgrp;
		char state;

		if (proc_stat_of(d->groups[k], &state, &ppid, &pgrp, &start) &&
		    start == d->group_starts[k] && pgrp == d->groups[k])
			kill(-d->groups[k], SIGKILL);
	}
}

void lvd_stop(struct lvd *d)
{
	json_t *r = NULL, *e = NULL;
	bool was_running = d->pid != 0, shutdown_answered = !was_running || !d->c;

	if (d->pid && d->c) {
		json_t *st = NULL;
		if (lv_client_call(d->c, "status", NULL, CALL_TIMEOUT_MS, &st, &e) == 0 && st)
			note_groups(d, st);
		json_decref(st);
		json_decref(e);
		e = NULL;
		shutdown_answered = lv_client_call(d->c, "shutdown", NULL, CALL_TIMEOUT_MS, &r, &e) == 0 &&
		                    r != NULL;
		json_decref(r);
		json_decref(e);
	}
	if (d->c)
		lv_client_close(d->c);
	d->c = NULL;
	if (!lvd_wait_exit(d, 30000)) {
		kill(d->pid, SIGKILL);
		lvd_wait_exit(d, 5000);
		kill_leftovers(d);
		cgbox_remove(d->cgroup);
		ck_abort_msg("loopvisord did not exit after shutdown");
	}
	kill_leftovers(d);
	cgbox_remove(d->cgroup);
	ck_assert_msg(!was_running || (WIFEXITED(d->status) && WEXITSTATUS(d->status) == 0),
	              "loopvisord exit status %d; log in %s", d->status, d->log);
	n_extra_env = 0;
	if (d->notify_fd > 0)
		close(d->notify_fd);
	d->notify_fd = -1;
	ck_assert_msg(shutdown_answered, "loopvisord did not answer shutdown; log in %s", d->log);
	remove_tree(d->dir); /* once a test passed; a failed one keeps it for the log */
}

static json_t *vcall(struct lvd *d, bool want_error, const char *method, const char *fmt,
                     va_list ap)
{
	json_t *params = NULL, *result = NULL, *error = NULL;
	char *text = NULL;

	if (fmt) {
		json_error_t jerr;
		ck_assert_int_ge(vasprintf(&text, fmt, ap), 0);
		params = json_loads(text, 0, &jerr);
		ck_assert_msg(params != NULL, "bad params in test: %s: %s", text, jerr.text);
	}
	ck_assert_msg(lv_client_call(d->c, method, params, CALL_TIMEOUT_MS, &result, &error) == 0,
	              "%s: call failed: %s", method, strerror(errno));
	if (want_error) {
		char *dump = result ? json_dumps(result, 0) : NULL;
		ck_assert_msg(error != NULL, "%s %s: expected an error, got %s", method,
		              text ? text : "", dump ? dump : "?");
		free(dump);
		json_decref(result);
		free(text);
		return error;
	}
	if (error) {
		char *dump = json_dumps(error, 0);
		ck_abort_msg("%s %s: error %s", method, text ? text : "", dump);
	}
	free(text);
	note_groups(d, result);
	return result;
}

json_t *lvd_call(struct lvd *d, const char *method, const char *params_fmt, ...)
{
	va_list ap;
	json_t *r;

	va_start(ap, params_fmt);
	r = vcall(d, false, method, params_fmt, ap);
	va_end(ap);
	return r;
}

json_t *lvd_call_error(struct lvd *d, const char *method, const char *params_fmt, ...)
{
	va_list ap;
	json_t *r;

	va_start(ap, params_fmt);
	r = vcall(d, true, method, params_fmt, ap);
	va_end(ap);
	return r;
}

json_t *lvd_wait(struct lvd *d, const char *target, const char *state, int restarts)
{
	/* state is a name, or a JSON array of names */
	bool list = state[0] == '[';

	return lvd_call(d, "wait", "{\"target\":\"%s\",\"state\":%s%s%s,\"restarts\":%d,"
	                "\"timeout_ms\":%d}", target, list ? "" : "\"", state, list ? "" : "\"",
	                restarts, test_ms(20000));
}

json_t *lvd_worker(struct lvd *d, const char *name)
{
	json_t *r = lvd_call(d, "status", "{\"target\":\"%s\"}", name);
	json_t *w = json_incref(json_array_get(json_object_get(r, "workers"), 0));

	json_decref(r);
	ck_assert_ptr_nonnull(w);
	return w;
}

json_t *lvd_next_notification(struct lv_client *c)
{
	char *line = lv_client_read_line(c, test_ms(20000));
	json_t *msg, *params;

	ck_assert_msg(line != NULL, "no notification within 20 s");
	msg = json_loads(line, 0, NULL);
	free(line);
	params = json_incref(json_object_get(msg, "params"));
	json_decref(msg);
	ck_assert_ptr_nonnull(params);
	return params;
}

json_t *first_worker(json_t *result)
{
	return json_array_get(json_object_get(result, "workers"), 0);
}

void lvd_expect_no_change(struct lvd *d, const char *target, const char *states, int ms)
{
	json_t *e = lvd_call_error(d, "wait", "{\"target\":\"%s\",\"state\":%s,\"timeout_ms\":%d}",
	                           target, states, test_ms(ms));

	ck_assert_int_eq(JINT(e, "code"), -32002);
	json_decref(e);
}

int lvd_run_suite(Suite *su)
{
	return lv_check_run(su);
}

pid_t lvd_worker_pid(struct lvd *d, const char *name)
{
	json_t *w = lvd_worker(d, name);
	pid_t pid = (pid_t)json_integer_value(json_object_get(w, "pid"));

	json_decref(w);
	return pid;
}

json_t *lvd_pids(struct lvd *d)
{
	json_t *st = lvd_call(d, "status", NULL), *out = json_object(), *w;
	size_t i;

	json_array_foreach(json_object_get(st, "workers"), i, w)
		json_object_set(out, JSTR(w, "name"), json_object_get(w, "pid"));
	json_decref(st);
	return out;
}
