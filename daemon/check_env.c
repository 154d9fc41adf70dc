/* check_env: --check's look at programs, modules, folders and env files for the user each
 * pool runs as (see check_env.h). It builds what a start would build (worker_env.c) for a
 * pool's first and last worker, and judges paths with check_env_access.c. */
#include "daemon/check_env.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <loopvisor/job.h>

#include "config/template.h"
#include "daemon/check_env_access.h"
#include "daemon/core/paths.h"
#include "daemon/core/worker_env.h"
#include "daemon/lib/strv.h"
#include "daemon/proc/cgroup.h"

struct report {
	FILE *out;
	unsigned problems;
	size_t pool;                 /* index in cfg->pools, for the key path */
	const char *worker;          /* "POOL:N" when it is not worker 0, for templates */
};

static void say(struct report *r, const char *key, const char *why)
{
	if (r->worker)
		fprintf(r->out, "loopvisord: pools[%zu].%s: %s (worker %s)\n", r->pool, key, why, r->worker);
	else
		fprintf(r->out, "loopvisord: pools[%zu].%s: %s\n", r->pool, key, why);
	r->problems++;
}

/* PATH as the worker will see it: the last PATH= of its env (env_file, then env), else
 * the daemon's, else the default the worker uses. */
static const char *worker_path(char *const *env)
{
	const char *path = getenv("PATH");

	for (char *const *e = env; e && *e; e++)
		if (!strncmp(*e, "PATH=", 5))
			path = *e + 5;
	return path ? path : "/usr/local/bin:/usr/bin:/bin";
}

/* argv[0] (key: where the config says it): a path, or a bare name searched in PATH the
 * way worker_main.c does. */
static void check_program(struct report *r, const char *key, const struct who *w,
                          const char *prog, char *const *env)
{
	const char *path = worker_path(env);
	char why[768], first[768] = "", file[4096];

	if (strchr(prog, '/')) {
		if (who_can_reach(w, prog, REACH_EXEC, why, sizeof why) < 0)
			say(r, key, why);
		return;
	}
	for (const char *dir = path; dir; ) {
		const char *colon = strchr(dir, ':');
		size_t len = colon ? (size_t)(colon - dir) : strlen(dir);

		snprintf(file, sizeof file, "%.*s/%s", (int)len, len ? dir : ".", prog);
		if (access(file, F_OK) == 0) {
			if (who_can_reach(w, file, REACH_EXEC, why, sizeof why) == 0)
				return;
			if (!*first)
				snprintf(first, sizeof first, "%s", why);
		}
		dir = colon ? colon + 1 : NULL;
	}
	if (*first) {
		say(r, key, first);
		return;
	}
	snprintf(why, sizeof why, "%s: not found in PATH (%.600s)", prog, path);
	say(r, key, why);
}

/* The module: found as the daemon finds it, readable by the user, and loadable with this
 * loopvisord's job ABI (dlopen here, as the checking process: --check only). */
static void check_module(struct report *r, const struct lv_config *cfg, const struct who *w,
                         const char *module)
{
	char path[4096], why[768];
	const struct lv_job *job;
	void *handle;

	if (strchr(module, '/')) {
		snprintf(path, sizeof path, "%s", module);
	} else {
		char **dirs = paths_job_dirs(cfg), **d = dirs;

		for (; d && *d; d++) {
			snprintf(path, sizeof path, "%s/%s.so", *d, module);
			if (access(path, R_OK) == 0)
				break;
		}
		if (!d || !*d) {
			snprintf(why, sizeof why, "no %s.so in the job path", module);
			lv_strv_free(dirs);
			say(r, "module", why);
			return;
		}
		lv_strv_free(dirs);
	}
	if (who_can_reach(w, path, REACH_READ, why, sizeof why) < 0) {
		say(r, "module", why);
		return;
	}
	if (!(handle = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
		snprintf(why, sizeof why, "dlopen: %.700s", dlerror());
		say(r, "module", why);
		return;
	}
	if (!(job = dlsym(handle, LV_JOB_SYMBOL)))
		snprintf(why, sizeof why, "%.600s: no %s symbol: not a loopvisor job module", path,
		         LV_JOB_SYMBOL);
	else if (job->abi_version < 1 || job->abi_version > LV_JOB_ABI_VERSION)
		snprintf(why, sizeof why, "%.600s: job ABI version %u, this loopvisord supports 1 to %u",
		         path, job->abi_version, LV_JOB_ABI_VERSION);
	else if (!job->start)
		snprintf(why, sizeof why, "%.600s: job has no start callback", path);
	else
		why[0] = '\0';
	if (why[0])
		say(r, "module", why);
	dlclose(handle);
}

/* Exec probes run as the pool's user, with its env: their programs too. */
static void check_probe_programs(struct report *r, const struct lv_pool_config *p,
                                 const struct who *w, unsigned index, const char *name,
                                 char *const *env)
{
	static const char *const keys[LV_PROBE_ROLES] = {
		[LV_PROBE_STARTUP] = "probes.startup.exec[0]",
		[LV_PROBE_LIVENESS] = "probes.liveness.exec[0]",
		[LV_PROBE_READINESS] = "probes.readiness.exec[0]",
	};
	struct lv_template_vars vars = { .pool = p->name, .name = name, .index = index };
	char why[LV_ERRBUF], *prog;

	for (unsigned k = 0; k < LV_PROBE_ROLES; k++) {
		if (p->probes[k].kind != LV_PROBE_EXEC)
			continue;
		if (!(prog = lv_template_dup(p->probes[k].argv[0], &vars, why, sizeof why))) {
			say(r, keys[k], why);
			continue;
		}
		check_program(r, keys[k], w, prog, env);
		free(prog);
	}
}

static void check_worker(struct report *r, const struct lv_config *cfg,
                         const struct lv_pool_config *p, const struct who *w, unsigned index)
{
	struct worker_env e = { 0 };
	char name[LV_POOL_NAME_MAX + 16], why[LV_ERRBUF];

	snprintf(name, sizeof name, "%s:%u", p->name, index);
	r->worker = index ? name : NULL;
	if (worker_env_build(&e, p, index, name, why, sizeof why) < 0) {
		/* "env_file PATH: reason": the key path then the rest */
		say(r, "env_file", strncmp(why, "env_file ", 9) ? why : why + 9);
		return;
	}
	if (p->kind == LV_KIND_EXEC)
		check_program(r, "exec[0]", w, e.argv[0], e.env);
	else if (index == 0)
		check_module(r, cfg, w, p->module);
	check_probe_programs(r, p, w, index, name, e.env);
	if (e.cwd && who_can_reach(w, e.cwd, REACH_DIR, why, sizeof why) < 0)
		say(r, "cwd", why);
	worker_env_free(&e);
}

/* A warning: told, not counted (the start would work, without what it says). */
static void warn(struct report *r, const char *key, const char *why)
{
	fprintf(r->out, "warning: pools[%zu].%s: %s\n", r->pool, key, why);
}

/* A limit this host cannot apply is a warning, never a silent no-op (docs/cgroups.md). */
static void check_limits(struct report *r, const struct lv_config *cfg,
                         const struct lv_pool_config *p)
{
	struct lv_cgroup_limits none = { .memory_oom_group = -1 };
	char where[4200], why[4400];
	const char *lack, *key;

	r->worker = NULL;
	if (!memcmp(&p->limits, &none, sizeof none))
		return;
	none.memory_restart = p->limits.memory_restart; /* is it all there is? */
	key = memcmp(&p->limits, &none, sizeof none) ? "limits" : "memory_restart";
	if (cfg->cgroup == LV_CGROUP_OFF) {
		warn(r, key, "\"cgroup\": \"off\": workers get no cgroup, so no limit applies");
	} else if ((lack = cgroups_host_lacks(&p->limits, where, sizeof where))) {
		snprintf(why, sizeof why, "needs the %s controller, which %s does not offer: that limit "
		         "would not be applied", lack, where);
		warn(r, key, why);
	}
}

unsigned check_env(const struct lv_config *cfg, FILE *out)
{
	struct report r = { .out = out };

	for (size_t i = 0; i < cfg->n_pools; i++) {
		const struct lv_pool_config *p = &cfg->pools[i];
		unsigned before, last = p->workers ? p->workers - 1 : 0;
		struct who w;

		r.pool = i;
		who_of_pool(p, &w);
		before = r.problems;
		check_worker(&r, cfg, p, &w, 0);
		/* a template may differ for the last worker; the same problem is told once */
		if (last > 0 && r.problems == before)
			check_worker(&r, cfg, p, &w, last);
		check_limits(&r, cfg, p);
	}
	return r.problems;
}
