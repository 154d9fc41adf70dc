/* module_host: a module worker's process: loads the job once, runs one loop per thread
 * (loop 0 in the main thread), turns SIGTERM/SIGINT into a graceful stop of every loop,
 * and exits when all loops are done. What its job starts inherits no signal state. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "worker/loop.h"
#include "worker/proctitle.h"

static struct lv_ctx *loops;
static unsigned n_loops;

static const struct lv_job *load_job(const struct lv_spawn *sp)
{
	void *handle = dlopen(sp->module_path, RTLD_NOW | RTLD_LOCAL);
	const struct lv_job *job;

	if (!handle)
		lv_worker_die(sp, "dlopen: %s", dlerror());
	job = dlsym(handle, LV_JOB_SYMBOL);
	if (!job)
		lv_worker_die(sp, "%s: no %s symbol: not a loopvisor job module", sp->module_path,
		              LV_JOB_SYMBOL);
	if (job->abi_version < 1 || job->abi_version > LV_JOB_ABI_VERSION)
		lv_worker_die(sp, "%s: job ABI version %u, this loopvisord supports 1 to %u",
		              sp->module_path, job->abi_version, LV_JOB_ABI_VERSION);
	if (!job->start)
		lv_worker_die(sp, "%s: job has no start callback", sp->module_path);
	return job;
}

static void on_stop_signal(evutil_socket_t fd, short what, void *arg)
{
	uint64_t n;

	(void)what;
	(void)arg;
	while (read(fd, &n, sizeof n) == (ssize_t)sizeof n)
		;
	for (unsigned i = 0; i < n_loops; i++)
		lv_loop_request_stop(&loops[i]);
}

static int stop_fd = -1;
static pid_t host_pid;

static void set_disposition(int sig, void (*handler)(int))
{
	struct sigaction sa = { .sa_handler = handler, .sa_flags = SA_RESTART };

	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

/* SIGTERM and SIGINT: a stop request for loop 0's eventfd. A process the job forked that
 * did not run the atfork hook (vfork, clone) takes the default action instead. */
static void on_stop_handler(int sig)
{
	int saved = errno;
	uint64_t one = 1;

	if (getpid() != host_pid) {
		set_disposition(sig, SIG_DFL);
		raise(sig); /* delivered once this handler returns */
	} else if (write(stop_fd, &one, sizeof one) < 0) {
		/* the counter is full: a stop is pending anyway */
	}
	errno = saved;
}

/* SIGPIPE: a write to a closed pipe or socket fails with EPIPE instead of killing the
 * worker. A handler that does nothing rather than SIG_IGN, which exec would pass on. */
static void on_sigpipe(int sig)
{
	(void)sig;
}

/* What the job forks starts with default dispositions (exec resets handlers by itself). */
static void reset_in_child(void)
{
	set_disposition(SIGTERM, SIG_DFL);
	set_disposition(SIGINT, SIG_DFL);
	set_disposition(SIGPIPE, SIG_DFL);
}

/* The stop signals arrive through handlers that write to an eventfd loop 0 watches, not
 * through a blocked mask and a signalfd: a mask is inherited by everything the job forks or
 * spawns (posix_spawn, system() and popen() included, which run no atfork hooks), while
 * handlers go back to SIG_DFL at exec. No signal stays blocked. */
static int stop_signal_fd(const struct lv_spawn *sp)
{
	sigset_t none;
	int rc;

	host_pid = getpid();
	if ((stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		lv_worker_die(sp, "eventfd: %s", strerror(errno));
	if ((rc = pthread_atfork(NULL, NULL, reset_in_child)) != 0)
		lv_worker_die(sp, "pthread_atfork: %s", strerror(rc));
	set_disposition(SIGTERM, on_stop_handler);
	set_disposition(SIGINT, on_stop_handler);
	set_disposition(SIGPIPE, on_sigpipe);
	/* signals that came since the fork are delivered now */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	return stop_fd;
}

static void *loop_thread(void *arg)
{
	lv_loop_run(arg);
	return NULL;
}

_Noreturn void lv_module_run(const struct lv_spawn *sp)
{
	const struct lv_job *job;
	int sigfd;

	lv_proctitle_set("loopvisor worker %s", sp->worker); /* ps tells workers apart */
	sigfd = stop_signal_fd(sp);
	job = load_job(sp);
	n_loops = sp->loops ? sp->loops : 1;
	if (!(loops = calloc(n_loops, sizeof *loops)))
		lv_worker_die(sp, "out of memory");
	for (unsigned i = 0; i < n_loops; i++) {
		loops[i].spawn = sp;
		loops[i].job = job;
		loops[i].loop = i;
		loops[i].signal_fd = -1;
		if ((loops[i].stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
			lv_worker_die(sp, "eventfd: %s", strerror(errno));
	}
	/* loop 0 runs in the main thread and also watches the stop signals */
	loops[0].signal_fd = sigfd;
	loops[0].on_signal = on_stop_signal;
	for (unsigned i = 1; i < n_loops; i++) {
		int rc = pthread_create(&loops[i].thread, NULL, loop_thread, &loops[i]);
		if (rc != 0)
			lv_worker_die(sp, "pthread_create: %s", strerror(rc));
	}
	lv_loop_run(&loops[0]);
	for (unsigned i = 1; i < n_loops; i++)
		pthread_join(loops[i].thread, NULL);
	/* Every job said it is done (a job running its own loop with an exit status); never
	 * return into the parent's frames. */
	for (unsigned i = 0; i < n_loops; i++)
		if (loops[i].exit_code)
			_exit(loops[i].exit_code & 0xff ? loops[i].exit_code & 0xff : 1);
	_exit(0);
}
