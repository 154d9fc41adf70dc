/* worker_main: what a child does right after fork, before it runs anything of its own:
 * drop everything inherited from the supervisor, lead its own session, then exec or host. */
#include "worker/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

_Noreturn void lv_worker_die(const struct lv_spawn *sp, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof msg)
		n = sizeof msg - 1;
	if (sp->error_fd >= 0 && write(sp->error_fd, msg, (size_t)n) < 0)
		_exit(126);
	_exit(127);
}

/* Every disposition back to default: SIG_IGN would survive exec, and the parent's
 * libevent handler would write into the supervisor's signal pipe. */
static void reset_signals(void)
{
	/* The kernel's own struct: glibc's sigaction() refuses signals 32 and 33, which it
	 * reserves, yet an ignored one would be inherited by every exec'd program. */
	struct { void *handler; unsigned long flags; void *restorer; unsigned long mask; } ksa;

	memset(&ksa, 0, sizeof ksa); /* SIG_DFL, no flags, empty mask */
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			syscall(SYS_rt_sigaction, s, &ksa, NULL, sizeof ksa.mask);
}

static void setup_env(const struct lv_spawn *sp)
{
	static const char *const drop[] = {
		"NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES",
		"WATCHDOG_PID", "WATCHDOG_USEC", NULL,
	};
	char index[16];

	for (size_t i = 0; drop[i]; i++)
		unsetenv(drop[i]);
	if (sp->notify_socket)
		setenv("NOTIFY_SOCKET", sp->notify_socket, 1);
	snprintf(index, sizeof index, "%u", sp->index);
	setenv("LOOPVISOR_POOL", sp->pool, 1);
	setenv("LOOPVISOR_WORKER", sp->worker, 1);
	setenv("LOOPVISOR_INDEX", index, 1);
	for (char *const *e = sp->env; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		char key[256];

		if (!eq || (size_t)(eq - *e) >= sizeof key)
			continue;
		memcpy(key, *e, (size_t)(eq - *e));
		key[eq - *e] = '\0';
		setenv(key, eq + 1, 1);
	}
}

/* Moves fd to exactly target, without close-on-exec (or with it, for cloexec). */
static void place_fd(int fd, int target, bool cloexec)
{
	if (fd == target) {
		if (fcntl(fd, F_SETFD, cloexec ? FD_CLOEXEC : 0) < 0)
			_exit(126);
	} else if (dup3(fd, target, cloexec ? O_CLOEXEC : 0) < 0) {
		_exit(126);
	}
}

/* Keeps stdout/stderr, /dev/null as stdin, the listening sockets from fd 3, one channel per
 * loop after them, then the error pipe; closes everything else the supervisor had open.
 * The channel fds array of the returned copy is rewritten in place. */
static struct lv_spawn setup_fds(const struct lv_spawn *sp, int *listen_out)
{
	struct lv_spawn out = *sp;
	int parked[LV_LISTEN_MAX + LV_LOOPS_MAX + 1], n = 0, next = LV_WORKER_FIRST_FD, null_fd;
	unsigned loops = sp->kind == LV_KIND_MODULE ? sp->loops : 0;
	/* just past the last target: parked there, nothing fits under a low RLIMIT_NOFILE */
	int above = LV_WORKER_FIRST_FD + (int)(sp->n_listen + loops) + 1;

	/* Park every fd to keep above all targets first so no dup can clobber another. */
	for (unsigned i = 0; i < sp->n_listen; i++)
		parked[n++] = fcntl(sp->listen_fds[i], F_DUPFD_CLOEXEC, above);
	for (unsigned i = 0; i < loops; i++)
		parked[n++] = fcntl(sp->channel_fds[i], F_DUPFD_CLOEXEC, above);
	parked[n++] = fcntl(sp->error_fd, F_DUPFD_CLOEXEC, above);
	for (int i = 0; i < n; i++)
		if (parked[i] < 0)
			_exit(126);
	/* stdout and stderr become the supervisor's log pipes (or /dev/null) */
	if (sp->output_null) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (null < 0 || dup2(null, STDOUT_FILENO) < 0 || dup2(null, STDERR_FILENO) < 0)
			_exit(126);
		close(null);
	}
	if ((sp->stdout_fd >= 0 && dup2(sp->stdout_fd, STDOUT_FILENO) < 0) ||
	    (sp->stderr_fd >= 0 && dup2(sp->stderr_fd, STDERR_FILENO) < 0))
		_exit(126);
	n = 0;
	for (unsigned i = 0; i < sp->n_listen; i++) {
		listen_out[i] = next;
		place_fd(parked[n++], next++, false); /* inherited across exec, like systemd's */
	}
	for (unsigned i = 0; i < loops; i++) {
		out.channel_fds[i] = next;
		place_fd(parked[n++], next++, true);
	}
	out.listen_fds = listen_out;
	out.error_fd = next;
	place_fd(parked[n], next++, true);
	close_range((unsigned)next, ~0U, 0);

	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null_fd >= 0 && null_fd != STDIN_FILENO) {
		dup2(null_fd, STDIN_FILENO);
		close(null_fd);
	}
	return out;
}

/* Limits first (RLIMIT_NPROC counts against the user it becomes), then the user, then
 * no_new_privs, so that nothing it execs can gain privileges again. */
static void apply_limits(const struct lv_spawn *sp)
{
	const struct lv_pool_config *l = sp->limits;
	struct rlimit nofile;

	/* the soft limit the daemon raised for itself, not for its workers' select() */
	if (sp->nofile_soft && getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
		nofile.rlim_cur = (rlim_t)sp->nofile_soft;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
	if (!l)
		return;
	for (unsigned i = 0; i < l->n_rlimits; i++) {
		struct rlimit rl = { (rlim_t)l->rlimits[i].value, (rlim_t)l->rlimits[i].value };
		if (setrlimit(l->rlimits[i].resource, &rl) < 0)
			lv_worker_die(sp, "setrlimit: %s", strerror(errno));
	}
	if (l->umask >= 0)
		umask((mode_t)l->umask);
}

static void drop_privileges(const struct lv_spawn *sp)
{
	apply_limits(sp);
	if (!sp->set_ids)
		goto nnp;
	if (sp->user ? initgroups(sp->user, sp->gid) < 0 : setgroups(0, NULL) < 0)
		lv_worker_die(sp, "setgroups: %s", strerror(errno));
	if (setgid(sp->gid) < 0)
		lv_worker_die(sp, "setgid %u: %s", (unsigned)sp->gid, strerror(errno));
	if (setuid(sp->uid) < 0)
		lv_worker_die(sp, "setuid %u: %s", (unsigned)sp->uid, strerror(errno));
nnp:
	if (sp->limits && sp->limits->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		lv_worker_die(sp, "no_new_privs: %s", strerror(errno));
}

/* execvp would run a file without a #! line through /bin/sh: search PATH here and
 * execve, so a pool's argv is run exactly as written or fails with a reason. */
static _Noreturn void exec_program(const struct lv_spawn *sp)
{
	const char *prog = sp->argv[0], *path = getenv("PATH");
	char file[4096];
	int err = ENOENT;
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (strchr(prog, '/')) {
		execve(prog, sp->argv, environ);
		lv_worker_die(sp, "exec %s: %s", prog, strerror(errno));
	}
	for (const char *dir = path ? path : "/usr/local/bin:/usr/bin:/bin"; dir; ) {
		const char *colon = strchr(dir, ':');
		size_t len = colon ? (size_t)(colon - dir) : strlen(dir);

		snprintf(file, sizeof file, "%.*s/%s", (int)len, len ? dir : ".", prog);
		execve(file, sp->argv, environ);
		if (errno != ENOENT && errno != ENOTDIR)
			err = errno; /* remember EACCES and the like over a later ENOENT */
		dir = colon ? colon + 1 : NULL;
	}
	lv_worker_die(sp, "exec %s: %s", prog, strerror(err));
}

/* sd_listen_fds(3): LISTEN_PID is this process, which the exec keeps. */
static void export_listen_fds(const struct lv_spawn *sp)
{
	char buf[32], names[LV_LISTEN_MAX * 72] = "";

	if (sp->n_listen == 0)
		return;
	snprintf(buf, sizeof buf, "%u", sp->n_listen);
	setenv("LISTEN_FDS", buf, 1);
	snprintf(buf, sizeof buf, "%d", (int)getpid());
	setenv("LISTEN_PID", buf, 1);
	for (unsigned i = 0; i < sp->n_listen; i++) {
		if (i)
			strcat(names, ":");
		strncat(names, sp->pool, 64);
	}
	setenv("LISTEN_FDNAMES", names, 1);
}

/* Into the worker's cgroup leaf before anything of its own runs, unless it was born there:
 * what it forks from now on is in the leaf too, and goes with it. */
static void join_cgroup(const struct lv_spawn *sp)
{
	int fd;

	if (sp->cgroup_fd < 0 || sp->cgroup_placed)
		return;
	fd = openat(sp->cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || write(fd, "0", 1) != 1)
		lv_worker_die(sp, "cannot join its cgroup: %s", strerror(errno));
	close(fd);
}

_Noreturn void lv_worker_main(const struct lv_spawn *args)
{
	int listen_fds[LV_LISTEN_MAX];
	struct lv_spawn sp;

	/* No libevent call on anything inherited: the epoll instance is the parent's. */
	reset_signals();
	join_cgroup(args);
	sp = setup_fds(args, listen_fds);
	/* Its own session (and group): no other process can join either, so only the
	 * worker and the descendants that stay in its session can speak for it. It fails
	 * for a group leader: the parent must not setpgid() it. */
	if (setsid() < 0)
		_exit(126);
	setup_env(&sp);
	drop_privileges(&sp);
	/* as the worker's user: root's chdir would hand it a folder it could not enter itself */
	if (sp.cwd && chdir(sp.cwd) < 0)
		lv_worker_die(&sp, "chdir %s: %s", sp.cwd, strerror(errno));
	/* After the last credential change, which clears it; then the parent may have died
	 * before it was set: the worker was reparented, and goes. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != sp.supervisor)
		_exit(126);
	if (sp.kind == LV_KIND_EXEC) {
		export_listen_fds(&sp);
		exec_program(&sp);
	}
	lv_module_run(&sp);
}
