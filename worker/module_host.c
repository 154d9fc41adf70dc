/* module_host: a module worker's process: loads the job once, runs one loop per thread
 * (loop 0 in the main thread), turns SIGTERM/SIGINT into a graceful stop of every loop,
 * and exits when all loops are done. */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "worker/loop.h"

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
	if (job->abi_version != LV_JOB_ABI_VERSION)
		lv_worker_die(sp, "%s: job ABI version %u, this loopvisord supports %u",
		              sp->module_path, job->abi_version, LV_JOB_ABI_VERSION);
	if (!job->start)
		lv_worker_die(sp, "%s: job has no start callback", sp->module_path);
	return job;
}

static void on_stop_signal(evutil_socket_t fd, short what, void *arg)
{
	struct signalfd_siginfo si;

	(void)what;
	(void)arg;
	while (read(fd, &si, sizeof si) == (ssize_t)sizeof si)
		;
	for (unsigned i = 0; i < n_loops; i++)
		lv_loop_request_stop(&loops[i]);
}

/* SIGTERM and SIGINT stay blocked in every thread and arrive through a signalfd: libevent's
 * evsignal would share global state inherited from the supervisor. Loop 0 watches it. */
static int stop_signal_fd(const struct lv_spawn *sp)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if ((fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		lv_worker_die(sp, "signalfd: %s", strerror(errno));
	/* everything else can be delivered normally from here on, in any thread */
	sigprocmask(SIG_SETMASK, &set, NULL);
	return fd;
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

	signal(SIGPIPE, SIG_IGN);
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
	/* Every job said it is done; never return into the parent's frames. */
	_exit(0);
}
