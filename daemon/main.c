/* main: loopvisord's command line and lifecycle: load the config, open the control
 * socket, start the pools, run the loop, and drain every worker on the way out. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "daemon/control/control.h"
#include "daemon/control/daemon_reload.h"
#include "daemon/control/inspect.h"
#include "daemon/check_env.h"
#include "daemon/control/http.h"
#include "daemon/core/paths.h"
#include "daemon/core/pool_logs.h"
#include "daemon/core/process_hooks.h"
#include "daemon/lib/log.h"
#include "daemon/lib/strv.h"
#include "daemon/proc/notify_socket.h"
#include "daemon/out/systemd.h"
#include "daemon/core/state_file.h"
#include "daemon/control/methods.h"
#include "daemon/core/shutdown.h"
#include "daemon/core/supervisor.h"
#include "daemon/outlet_consumers.h"
#include "daemon/out/waiters.h"
#include "daemon/proc/cgroup.h"
#include "daemon/proc/spawn.h"
#include "daemon/proc/zygote.h"
#include "worker/proctitle.h"
#include "ipc/stdfds.h"

#define DEFAULT_CONFIG "/etc/loopvisor/loopvisor.json"

struct options {
	const char *config;
	const char *socket;
	int check;
};

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: loopvisord [-c CONFIG] [-s SOCKET] [--check]\n"
	        "  -c, --config FILE   configuration (default " DEFAULT_CONFIG ")\n"
	        "  -s, --socket PATH   control socket (overrides the config file)\n"
	        "      --check         validate the configuration and exit 0 or 1\n"
	        "  -h, --help          this text;  -V, --version  the version\n");
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "check", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->config = DEFAULT_CONFIG;
	while ((c = getopt_long(argc, argv, "c:s:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': o->config = optarg; break;
		case 's': o->socket = optarg; break;
		case 'k': o->check = 1; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("loopvisord %s\n", LV_VERSION); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc) {
		usage(stderr);
		exit(2);
	}
	return 0;
}

/* SIGHUP: the same as the reload method, with the outcome in the log. */
static void reload_on_signal(struct supervisor *sup)
{
	char err[LV_ERRBUF], *text;
	json_t *result;

	if (sup->shutting_down)
		return;
	if (daemon_reload(sup, &result, err, sizeof err) < 0)
		return; /* it said why in the log */
	text = json_dumps(result, JSON_COMPACT);
	log_info("reload: %s", text ? text : "done");
	free(text);
	json_decref(result);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct supervisor *sup = arg;

	(void)what;
	if (sig == SIGCHLD)
		procs_reap(&sup->procs);
	else if (sig == SIGHUP)
		reload_on_signal(sup);
	else if (sig == SIGUSR1)
		pool_logs_reopen_all(sup);
	else
		shutdown_begin(sup);
}

static int add_signals(struct supervisor *sup)
{
	sup->sigchld = evsignal_new(sup->base, SIGCHLD, on_signal, sup);
	sup->sigterm = evsignal_new(sup->base, SIGTERM, on_signal, sup);
	sup->sigint = evsignal_new(sup->base, SIGINT, on_signal, sup);
	sup->sighup = evsignal_new(sup->base, SIGHUP, on_signal, sup);
	sup->sigusr1 = evsignal_new(sup->base, SIGUSR1, on_signal, sup);
	if (!sup->sigchld || !sup->sigterm || !sup->sigint || !sup->sighup || !sup->sigusr1)
		return -1;
	return evsignal_add(sup->sigchld, NULL) | evsignal_add(sup->sigterm, NULL) |
	       evsignal_add(sup->sigint, NULL) | evsignal_add(sup->sighup, NULL) |
	       evsignal_add(sup->sigusr1, NULL);
}

/* Socket activation: "control" becomes the control socket, other names back "fd:NAME"
 * listen addresses. Unsets LISTEN_*, so nothing of it reaches a worker. */
static int take_passed_fds(struct supervisor *sup)
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(1, &names), control = -1;

	if (n <= 0)
		return -1;
	sup->passed = calloc((size_t)n, sizeof *sup->passed);
	for (int i = 0; i < n; i++) {
		const char *name = names && names[i] ? names[i] : "unknown";
		int fd = SD_LISTEN_FDS_START + i;

		if (!strcmp(name, "control") && control < 0) {
			control = fd;
		} else if (sup->passed) {
			sup->passed[sup->n_passed].name = strdup(name);
			sup->passed[sup->n_passed++].fd = fd;
		}
	}
	for (int i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	if (n > 0)
		log_info("socket activation: %d sockets passed%s", n,
		         control >= 0 ? ", control among them" : "");
	return control;
}

static int setup(struct supervisor *sup)
{
	struct notify_hooks notify_hooks;
	struct lv_sink sink;
	int control_fd;
	char err[LV_ERRBUF], path[PATH_MAX];
	struct event_config *ec = event_config_new();

	outlet_consumers_install(sup);
	core_process_hooks_install(sup);
	event_config_set_flag(ec, EVENT_BASE_FLAG_IGNORE_ENV);
	sup->base = event_base_new_with_config(ec);
	event_config_free(ec);
	if (sup->base)
		lv_log_attach(sup->base);
	sup->procs.base = sup->outputs.base = sup->channels.base = sup->base;
	sup->channels.hooks.inspected = inspect_reply; /* ctx: sup, as for the core's hooks */
	sup->outputs.sinks = &sup->sinks;
	sup->outputs.ring_lines = sup->cfg->logs_ring;
	if (!sup->base || add_signals(sup) < 0 || spawn_queue_init(&sup->procs) < 0 ||
	    !(sup->job_path = paths_job_dirs(sup->cfg))) {
		log_err("cannot set up the event loop");
		return -1;
	}
	/* before the zygotes, which each get a leaf of their own */
	sup->procs.cgroups = cgroups_open(sup->base, sup->cfg->cgroup, sup->cgroup_state,
	                                  sizeof sup->cgroup_state);
	log_info("cgroups: %s", sup->cgroup_state);
	/* now, while the daemon holds next to nothing that a fork would copy */
	if (zygote_start(&sup->procs) < 0)
		log_warn("no zygote (%s): the daemon forks its workers itself", strerror(errno));
	if (paths_control_socket(sup->socket_arg, sup->cfg, path, sizeof path) < 0) {
		log_err("control socket path too long");
		return -1;
	}
	notify_hooks = core_notify_hooks(sup);
	if (!(sup->notify = notify_open(sup->base, &sup->procs, &notify_hooks, err, sizeof err))) {
		log_err("%s", err);
		return -1;
	}
	control_fd = take_passed_fds(sup);
	for (size_t i = 0; i < sup->cfg->n_pools; i++)
		if (pool_add(sup, &sup->cfg->pools[i], err, sizeof err) < 0) {
			log_err("pool %s: %s", sup->cfg->pools[i].name, err);
			return -1;
		}
	if (control_fd >= 0)
		sup->control = control_adopt(sup, control_fd, lv_methods, err, sizeof err);
	else
		sup->control = control_open(sup, path, sup->cfg->control_mode, lv_methods, err,
		                            sizeof err);
	if (!sup->control) {
		log_err("control socket: %s", err);
		return -1;
	}
	if (sup->cfg->http.listen &&
	    !(sup->http = http_open(sup, &sup->cfg->http, err, sizeof err))) {
		log_err("http: %s", err);
		return -1;
	}
	sink = subscribers_sink(sup->control); /* subscribers and followers hear what happens */
	lv_sinks_add(&sup->sinks, &sink);
	log_info("loopvisord %s: %zu pools, control socket %s", LV_VERSION, sup->n_pools,
	         control_path(sup->control));
	return 0;
}

static void teardown(struct supervisor *sup)
{
	waiters_abort_all(sup);
	inspect_abort_all(sup);
	http_close(sup->http);
	if (sup->control) {
		lv_sinks_remove(&sup->sinks, sup->control);
		control_flush(sup->control);
		control_close(sup->control);
	}
	for (size_t p = 0; p < sup->n_pools; p++)
		pool_free(sup->pools[p]);
	free(sup->pools);
	systemd_free(sup);
	for (size_t i = 0; i < sup->n_passed; i++) {
		free(sup->passed[i].name);
		close(sup->passed[i].fd);
	}
	free(sup->passed);
	if (sup->procs.pump)
		spawn_queue_free(&sup->procs);
	zygote_stop(&sup->procs);
	cgroups_close(sup->procs.cgroups); /* what is left of any worker or zygote dies here */
	lv_pidmap_free(&sup->procs.pids);
	notify_close(sup->notify);
	if (sup->settle)
		event_free(sup->settle);
	if (sup->sigchld)
		event_free(sup->sigchld);
	if (sup->sigterm)
		event_free(sup->sigterm);
	if (sup->sigint)
		event_free(sup->sigint);
	if (sup->sighup)
		event_free(sup->sighup);
	if (sup->sigusr1)
		event_free(sup->sigusr1);
	lv_log_detach();
	if (sup->base)
		event_base_free(sup->base);
	lv_strv_free(sup->job_path);
	lv_config_free(sup->cfg);
}

/* Every worker costs the daemon 3 descriptors and more (channel per loop, output pipes):
 * take the hard limit, or with CAP_SYS_RESOURCE the kernel's fs.nr_open, as systemd does
 * for itself; workers get the soft limit it started with back. */
static void raise_nofile(struct supervisor *sup)
{
	struct rlimit rl, want;
	unsigned long long nr_open = 0;
	FILE *f = fopen("/proc/sys/fs/nr_open", "re");

	if (f) {
		if (fscanf(f, "%llu", &nr_open) != 1)
			nr_open = 0;
		fclose(f);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	want = rl;
	if (nr_open > rl.rlim_max)
		want.rlim_max = (rlim_t)nr_open;
	want.rlim_cur = want.rlim_max;
	if (want.rlim_cur == rl.rlim_cur)
		return;
	if (setrlimit(RLIMIT_NOFILE, &want) < 0) { /* no CAP_SYS_RESOURCE: up to the hard limit */
		want.rlim_cur = want.rlim_max = rl.rlim_max;
		if (want.rlim_cur == rl.rlim_cur || setrlimit(RLIMIT_NOFILE, &want) < 0)
			return;
	}
	sup->nofile_soft = (unsigned long)rl.rlim_cur;
	log_debug("open files limit raised from %lu to %llu", sup->nofile_soft,
	          (unsigned long long)want.rlim_cur);
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	struct supervisor sup = { 0 };
	struct options o = { 0 };
	char err[LV_ERRBUF];

	/* First of all, for the zygote too: a closed 0, 1 or 2 would be taken by the next
	 * open(), libevent's signal pipe say, and log lines would be read back as signals. */
	if (lv_std_fds_open() < 0)
		return 1;
	lv_proctitle_init(argc, argv);
	if (argc == 4 && !strcmp(argv[1], LV_ZYGOTE_ARG))
		zygote_main(argv[2], (unsigned)strtoul(argv[3], NULL, 10));
	parse_args(argc, argv, &o);
	sup.socket_arg = o.socket;
	lv_log_open();
	lv_log_set_target(LV_LOG_AUTO);
	json_object_seed(0);
	if (lv_config_load(o.config, &sup.cfg, err, sizeof err) < 0) {
		fprintf(stderr, "loopvisord: %s\n", err);
		return 1;
	}
	if (o.check) {
		/* what would fail at a start: programs, modules, folders, env files */
		unsigned problems = check_env(sup.cfg, stderr);

		if (problems > 0) {
			fprintf(stderr, "loopvisord: %s is valid, but what %s above would fail at a "
			        "start\n", o.config, problems == 1 ? "is said" : "is said in each line");
			lv_config_free(sup.cfg);
			return 1;
		}
		printf("%s: OK, %zu pool%s\n", o.config, sup.cfg->n_pools,
		       sup.cfg->n_pools == 1 ? "" : "s");
		for (size_t i = 0; sup.cfg->http.allow_remote && sup.cfg->http.listen[i]; i++)
			if (!lv_listen_spec_is_loopback(sup.cfg->http.listen[i]))
				printf("warning: http.listen[%zu] (%s) serves other hosts: anyone who "
				       "reaches it reads every metric and the status\n", i,
				       sup.cfg->http.listen[i]);
		for (size_t i = 0; geteuid() == 0 && i < sup.cfg->n_pools; i++)
			if (!sup.cfg->pools[i].user || sup.cfg->pools[i].uid == 0)
				printf("warning: pools[%zu] (%s) runs as root: set \"user\" unless it must\n",
				       i, sup.cfg->pools[i].name);
		lv_config_free(sup.cfg);
		return 0;
	}
	lv_log_set_target((enum lv_log_target)sup.cfg->log_target);
	sup.started_wall_ms = wall_ms();
	raise_nofile(&sup);
	/* Orphans of workers (double forks, setsid) come back here to be reaped, not to init. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		log_warn("cannot become a child subreaper: %s", strerror(errno));
	/* A client that vanishes mid-reply must not kill the supervisor. */
	signal(SIGPIPE, SIG_IGN);
	if (setup(&sup) < 0) {
		teardown(&sup);
		return 1;
	}
	state_restore(&sup);
	for (size_t i = 0; i < sup.n_pools; i++)
		pool_autostart(sup.pools[i]);
	/* READY=1 follows once every autostart worker has settled */
	if (systemd_start(&sup) < 0)
		log_warn("systemd notification is not available");
	event_base_dispatch(sup.base);
	log_info("all workers stopped, exiting");
	teardown(&sup);
	return sup.exit_code;
}
