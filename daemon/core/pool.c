/* pool: pools of workers: creating them from config, scaling, finding targets by name
 * ("POOL" or "POOL:INDEX") and locating a pool's job module on the job path. */
#include "daemon/core/supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/lib/log.h"
#include "daemon/proc/listen.h"
#include "daemon/core/pool_logs.h"


int pool_listen_open(struct supervisor *sup, const char *spec, char *err, size_t errlen)
{
	if (strncmp(spec, "fd:", 3) != 0)
		return listen_open(spec, err, errlen);
	for (size_t i = 0; i < sup->n_passed; i++)
		if (!strcmp(sup->passed[i].name, spec + 3))
			return fcntl(sup->passed[i].fd, F_DUPFD_CLOEXEC, 3);
	snprintf(err, errlen, "%s: systemd passed no socket of that name", spec);
	return -1;
}

/* Binds every listen address of the pool; on failure closes what it opened. */
static int open_listeners(struct pool *p, char *err, size_t errlen)
{
	for (size_t i = 0; i < p->cfg.n_listen; i++) {
		if ((p->listen_fds[i] = pool_listen_open(p->sup, p->cfg.listen[i], err, errlen)) < 0) {
			while (i-- > 0)
				close(p->listen_fds[i]);
			return -1;
		}
	}
	return 0;
}

static const pid_t no_pid;

int pool_add(struct supervisor *sup, const struct lv_pool_config *cfg, char *err,
                        size_t errlen)
{
	struct pool *p = calloc(1, sizeof *p), **pools;

	if (!p || pool_copy_config(&p->cfg, cfg) < 0 ||
	    !(pools = realloc(sup->pools, (sup->n_pools + 1) * sizeof *pools))) {
		snprintf(err, errlen, "out of memory");
		if (p)
			lv_pool_config_clear(&p->cfg);
		free(p);
		return -1;
	}
	sup->pools = pools;
	p->sup = sup;
	if (open_listeners(p, err, errlen) < 0) {
		lv_pool_config_clear(&p->cfg);
		free(p);
		return -1;
	}
	if (pool_logs_open(sup, p, err, errlen) < 0) {
		for (size_t i = 0; i < p->cfg.n_listen; i++)
			close(p->listen_fds[i]);
		lv_pool_config_clear(&p->cfg);
		free(p);
		return -1;
	}
	sup->pools[sup->n_pools++] = p;
	p->departed = (struct output){ .all = &sup->outputs, .name = p->cfg.name,
	                               .pool = p->cfg.name, .pid = &no_pid, .file = &p->log };
	p->config_workers = cfg->workers;
	if (pool_scale(p, cfg->workers) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* A deep copy through the config module's own validator would need JSON; pools keep a
 * private copy of the strings instead so that config reloads can free the old file. */
static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static char **dup_strv(char *const *v)
{
	size_t n = 0;
	char **out;

	while (v && v[n])
		n++;
	if (!(out = calloc(n + 1, sizeof *out)))
		return NULL;
	for (size_t i = 0; i < n; i++)
		out[i] = strdup(v[i]);
	return out;
}

int pool_copy_config(struct lv_pool_config *dst, const struct lv_pool_config *src)
{
	*dst = *src;
	dst->argv = src->argv ? dup_strv(src->argv) : NULL;
	dst->module = dup_or_null(src->module);
	dst->params = src->params ? json_deep_copy(src->params) : json_object();
	dst->env = dup_strv(src->env);
	dst->env_files = dup_strv(src->env_files);
	dst->cwd = dup_or_null(src->cwd);
	dst->user = dup_or_null(src->user);
	dst->group = dup_or_null(src->group);
	dst->listen = dup_strv(src->listen);
	dst->after = dup_strv(src->after);
	dst->source = src->source ? json_deep_copy(src->source) : json_object();
	if (lv_probes_copy(dst->probes, src->probes) < 0)
		return -1;
	return dst->env && dst->env_files && dst->params && dst->listen && dst->after && dst->source ? 0 : -1;
}

struct pool *pool_find(struct supervisor *sup, const char *name)
{
	for (size_t i = 0; i < sup->n_pools; i++)
		if (strcmp(sup->pools[i]->cfg.name, name) == 0)
			return sup->pools[i];
	return NULL;
}

/* The one target syntax: NAME or NAME:INDEX, NAME as a pool name is ([A-Za-z0-9_.-]{1,64}),
 * INDEX in decimal without sign, spaces or leading zeros ("web:0", "web:12", not "web:+0",
 * "web:00" or "web: 1"): a worker has exactly one spelling, which events and log lines use. */
static bool parse_target(const char *target, char name[LV_POOL_NAME_MAX + 1], long *index)
{
	static const char name_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                                 "0123456789_.-";
	size_t len = strspn(target, name_chars), digits;
	const char *num;

	if (len == 0 || len > LV_POOL_NAME_MAX)
		return false;
	memcpy(name, target, len);
	name[len] = '\0';
	*index = -1;
	if (!target[len])
		return true;
	num = target + len + 1;
	digits = strspn(num, "0123456789");
	if (target[len] != ':' || digits == 0 || digits > 9 || num[digits] ||
	    (num[0] == '0' && digits > 1))
		return false;
	*index = strtol(num, NULL, 10);
	return true;
}

bool pool_target_valid(const char *target)
{
	char name[LV_POOL_NAME_MAX + 1];
	long index;

	return parse_target(target, name, &index);
}

int pool_resolve_target(struct supervisor *sup, const char *target, struct worker ***out)
{
	char name[LV_POOL_NAME_MAX + 1];
	struct pool *p;
	struct worker **list;
	long index;
	int n = 0;

	*out = NULL;
	if (!parse_target(target, name, &index) || !(p = pool_find(sup, name)))
		return -1;
	if (index >= 0) {
		if ((unsigned long)index >= p->n_slots || !p->workers[index])
			return -1;
		if (!(*out = malloc(sizeof **out)))
			return -1;
		(*out)[0] = p->workers[index];
		return 1;
	}
	if (!(list = malloc((p->n_slots ? p->n_slots : 1) * sizeof *list)))
		return -1;
	for (unsigned i = 0; i < p->n_slots; i++)
		if (p->workers[i] && !p->workers[i]->removing)
			list[n++] = p->workers[i];
	*out = list;
	return n;
}

static void on_settle(evutil_socket_t fd, short what, void *arg)
{
	struct supervisor *sup = arg;

	(void)fd;
	(void)what;
	for (size_t i = 0; i < sup->n_pools; i++) {
		struct pool *p = sup->pools[i];
		struct core_change c = { .kind = CC_POOL_SETTLED, .pool = p,
		                         .pool_name = p->cfg.name };

		if (!p->changed)
			continue;
		p->changed = false;
		core_changed(sup, &c);
	}
}

void pool_changed(struct pool *p)
{
	struct supervisor *sup = p->sup;
	struct timeval now = { 0, 0 };

	p->changed = true;
	if (!sup->settle && !(sup->settle = evtimer_new(sup->base, on_settle, sup))) {
		on_settle(-1, 0, sup); /* no memory for a timer: judge now */
		return;
	}
	if (!evtimer_pending(sup->settle, NULL))
		evtimer_add(sup->settle, &now);
}

/* Grows or shrinks the pool to `workers`: new workers start when the pool runs,
 * surplus ones are stopped and freed once their process is gone. */
int pool_scale(struct pool *p, unsigned workers)
{
	if (workers > p->n_slots) {
		struct worker **slots = realloc(p->workers, workers * sizeof *slots);
		if (!slots)
			return -1;
		memset(slots + p->n_slots, 0, (workers - p->n_slots) * sizeof *slots);
		p->workers = slots;
		p->n_slots = workers;
	}
	p->cfg.workers = workers;
	for (unsigned i = 0; i < p->n_slots; i++) {
		struct worker *w = p->workers[i];

		if (i < workers) {
			if (!w && !(w = p->workers[i] = worker_new(p, i)))
				return -1;
			w->removing = false;
		} else if (w) {
			w->removing = true;
			worker_stop(w);
			pool_drop_stopped(p, w);
		}
	}
	return 0;
}

void pool_start_from(struct pool *p, unsigned from)
{
	for (unsigned i = from; i < p->n_slots; i++)
		if (p->workers[i] && !p->workers[i]->removing)
			worker_start(p->workers[i]);
}

void pool_autostart(struct pool *p)
{
	if (!p->restored) {
		if (p->cfg.autostart)
			pool_start_from(p, 0);
		return;
	}
	for (unsigned i = 0; i < p->n_slots; i++) {
		struct worker *w = p->workers[i];

		if (w && !w->removing && w->want_running && !w->held)
			worker_start(w);
	}
}

void pool_remove(struct pool *p)
{
	log_info("pool %s: removing", p->cfg.name);
	p->removing = true;
	p->roll.active = false;
	pool_scale(p, 0);
	pool_forget_if_gone(p);
}

void pool_drop_readd(struct pool *p)
{
	if (!p->readd)
		return;
	log_info("pool %s: no longer added back after its removal", p->cfg.name);
	lv_pool_config_clear(p->readd);
	free(p->readd);
	p->readd = NULL;
}

unsigned pool_held(const struct pool *p)
{
	unsigned n = 0;

	for (unsigned i = 0; i < p->n_slots; i++)
		n += p->workers[i] && !p->workers[i]->removing && p->workers[i]->held;
	return n;
}

bool pool_overridden(const struct pool *p)
{
	return !p->removing && p->cfg.workers != p->config_workers; /* removal is no scale */
}

/* A reload found this pool in the config file while it was being removed: now that the
 * old one is gone, the config's pool comes back, so there are never two of one name. */
static void readd_pool(struct supervisor *sup, struct lv_pool_config *cfg)
{
	char err[LV_ERRBUF];
	struct pool *p;

	if (sup->shutting_down) {
		log_info("pool %s: not added back: the daemon is shutting down", cfg->name);
	} else if (pool_add(sup, cfg, err, sizeof err) < 0 ||
	           !(p = pool_find(sup, cfg->name))) {
		log_err("pool %s: cannot add it back after its removal: %s", cfg->name, err);
	} else {
		struct core_change c = { .kind = CC_POOL_ADDED, .pool = p, .pool_name = cfg->name };

		log_info("pool %s: added back, as the config file says", cfg->name);
		core_changed(sup, &c);
		pool_autostart(p); /* the caller of pool_forget_if_gone saves the state */
	}
	lv_pool_config_clear(cfg);
	free(cfg);
}

bool pool_forget_if_gone(struct pool *p)
{
	struct supervisor *sup = p->sup;
	struct lv_pool_config *readd = p->readd;
	char name[LV_POOL_NAME_MAX + 1];
	struct core_change c = { .kind = CC_POOL_REMOVED, .pool_name = name };
	size_t i;

	if (!p->removing || p->n_slots > 0)
		return false;
	p->readd = NULL;
	for (i = 0; i < sup->n_pools && sup->pools[i] != p; i++)
		;
	if (i < sup->n_pools) {
		memmove(&sup->pools[i], &sup->pools[i + 1], (sup->n_pools - i - 1) * sizeof *sup->pools);
		sup->n_pools--;
	}
	log_info("pool %s: removed", p->cfg.name);
	snprintf(name, sizeof name, "%s", p->cfg.name);
	pool_free(p);
	core_changed(sup, &c);
	if (readd)
		readd_pool(sup, readd);
	return true;
}

void pool_drop_stopped(struct pool *p, struct worker *w)
{
	if (!w->removing || w->state != WS_STOPPED)
		return;
	p->workers[w->index] = NULL;
	if (!p->removing) /* tail POOL still shows what it said last */
		output_retire(&p->departed, &w->output);
	worker_free(w);
	/* Trim trailing empty slots so n_slots tracks the real size. */
	while (p->n_slots > p->cfg.workers && !p->workers[p->n_slots - 1])
		p->n_slots--;
	pool_changed(p); /* whoever waits for it hears of it at the end of this loop turn */
}

void pool_free(struct pool *p)
{
	struct core_change c = { .kind = CC_POOL_GONE, .pool = p, .pool_name = p->cfg.name };

	core_changed(p->sup, &c);
	free(p->roll.error);
	for (unsigned i = 0; i < p->n_slots; i++)
		worker_free(p->workers[i]);
	output_free(&p->departed);
	free(p->workers);
	free(p->module_path);
	for (size_t i = 0; i < p->cfg.n_listen; i++)
		close(p->listen_fds[i]);
	pool_logs_close(p);
	lv_pool_config_clear(&p->cfg);
	if (p->readd) {
		lv_pool_config_clear(p->readd);
		free(p->readd);
	}
	free(p);
}
