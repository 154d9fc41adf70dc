/* reload: re-reads the config file and applies only the difference: new pools start,
 * removed pools stop, changed pools restart one worker at a time, a changed worker count
 * only scales (over an override), the rest keeps its processes. A bad file changes nothing. */
#include "daemon/core/supervisor.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/core/paths.h"
#include "daemon/core/pool_logs.h"
#include "daemon/lib/log.h"
#include "daemon/lib/strv.h"
#include "daemon/proc/listen.h"
#include "daemon/proc/output.h"

/* Listening sockets for a changed pool: an address it already had keeps its socket (so
 * nothing is refused meanwhile); new ones are bound. -1 with err if one cannot be. */
static int relisten(const struct pool *p, const struct lv_pool_config *next, int *fds, char *err,
                    size_t errlen)
{
	for (size_t i = 0; i < next->n_listen; i++) {
		fds[i] = -1;
		for (size_t j = 0; j < p->cfg.n_listen; j++)
			if (!strcmp(next->listen[i], p->cfg.listen[j]))
				fds[i] = dup(p->listen_fds[j]);
		if (fds[i] < 0 && (fds[i] = pool_listen_open(p->sup, next->listen[i], err, errlen)) < 0) {
			while (i-- > 0)
				close(fds[i]);
			return -1;
		}
	}
	return 0;
}

struct plan {
	struct lv_config *next;
	int (*fds)[LV_LISTEN_MAX];    /* per pool of next: new listen fds of changed pools */
	bool *changed;                /* per pool of next */
	size_t first_added;           /* sup->pools[first_added..] were added by this reload */
	const struct reload_hook *hook;
	bool hooked;                  /* hook->prepare was called: undo calls hook->undo */
};

/* Everything that can fail, done before anything is changed for good. */
static int prepare(struct supervisor *sup, struct plan *pl, char *err, size_t errlen)
{
	struct lv_config *next = pl->next;

	pl->first_added = sup->n_pools;
	/* a logs folder the daemon must not write into fails the reload, not only its files */
	if (next->logs_dir && output_prepare_dir(next->logs_dir, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < next->n_pools; i++) {
		struct pool *p = pool_find(sup, next->pools[i].name);

		if (p && !p->removing) {
			pl->changed[i] = lv_pool_config_differs(&p->cfg, &next->pools[i]);
			if (pl->changed[i] && relisten(p, &next->pools[i], pl->fds[i], err, errlen) < 0)
				return -1;
		} else if (!p && pool_add(sup, &next->pools[i], err, errlen) < 0) {
			return -1;
		} /* else being removed: it comes back once it is gone (plan_readd) */
	}
	if (!pl->hook)
		return 0;
	pl->hooked = true;
	return pl->hook->prepare(pl->hook->ctx, next, err, errlen);
}

/* Undoes prepare() after a failure. */
static void unprepare(struct supervisor *sup, struct plan *pl)
{
	while (sup->n_pools > pl->first_added)
		pool_free(sup->pools[--sup->n_pools]);
	for (size_t i = 0; i < pl->next->n_pools; i++)
		for (size_t j = 0; pl->changed[i] && j < pl->next->pools[i].n_listen; j++)
			if (pl->fds[i][j] >= 0)
				close(pl->fds[i][j]);
	if (pl->hooked)
		pl->hook->undo(pl->hook->ctx);
}

/* A changed pool takes its new config and listening sockets, then rolls. */
static void apply_change(struct pool *p, const struct lv_pool_config *next, const int *fds)
{
	struct lv_pool_config copy;

	if (pool_copy_config(&copy, next) < 0) {
		log_err("pool %s: out of memory applying its new config", p->cfg.name);
		return;
	}
	for (size_t j = 0; j < p->cfg.n_listen; j++)
		close(p->listen_fds[j]);
	memcpy(p->listen_fds, fds, next->n_listen * sizeof *fds);
	copy.workers = p->cfg.workers; /* pool_scale below moves it */
	lv_pool_config_clear(&p->cfg);
	p->cfg = copy;
	free(p->module_path);
	p->module_path = NULL;
}

/* The file's worker count wins only if it changed since the pool last took it from there:
 * a runtime scale stays (an override) while the file says what it said when it was made.
 * True if the pool was scaled. */
static bool follow_config_workers(struct pool *p, unsigned config_workers)
{
	unsigned before = p->cfg.workers;

	if (config_workers == p->config_workers)
		return false;
	if (pool_overridden(p))
		log_info("pool %s: workers changed in the config file (%u -> %u): that replaces the "
		         "runtime scale to %u", p->cfg.name, p->config_workers, config_workers, before);
	p->config_workers = config_workers;
	if (config_workers == before)
		return false;
	pool_scale(p, config_workers);
	pool_start_from(p, before);
	core_changed(p->sup, &(struct core_change){ .kind = CC_POOL_SCALED, .pool = p,
	                                            .pool_name = p->cfg.name, .scaled_from = before,
	                                            .scaled_to = config_workers });
	return true;
}

/* A pool whose only change is its count takes the file's text of it all the same: the
 * state file tells the config's pools from runtime ones by that text. */
static void take_source(struct pool *p, const struct lv_pool_config *next)
{
	json_t *copy = json_deep_copy(next->source);

	if (!copy)
		return;
	json_decref(p->cfg.source);
	p->cfg.source = copy;
}

/* A pool of the file that is still being removed comes back once it is gone (the latest
 * reload's version of it); one that left the file is not brought back. */
static void plan_readd(struct pool *p, const struct lv_pool_config *next)
{
	struct lv_pool_config *copy;

	pool_drop_readd(p);
	if (!next)
		return;
	if (!(copy = calloc(1, sizeof *copy)) || pool_copy_config(copy, next) < 0) {
		log_err("pool %s: out of memory: it is not added back after its removal", next->name);
		if (copy)
			lv_pool_config_clear(copy);
		free(copy);
		return;
	}
	log_info("pool %s: still being removed; added back once it is gone", next->name);
	p->readd = copy;
}

int reload_apply(struct supervisor *sup, const struct reload_hook *hook, json_t **result,
                      char *err, size_t errlen)
{
	struct plan pl = { .hook = hook };
	json_t *added = json_array(), *removed = json_array(), *changed = json_array();
	json_t *scaled = json_array(), *unchanged = json_array();
	char **job_path;
	int rc = -1;

	*result = NULL;
	if (!sup->cfg->path) {
		snprintf(err, errlen, "no config file to reload");
		goto out;
	}
	if (lv_config_load(sup->cfg->path, &pl.next, err, errlen) < 0)
		goto out;
	pl.fds = calloc(pl.next->n_pools + 1, sizeof *pl.fds);
	pl.changed = calloc(pl.next->n_pools + 1, sizeof *pl.changed);
	if (!pl.fds || !pl.changed || !(job_path = paths_job_dirs(pl.next))) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (prepare(sup, &pl, err, errlen) < 0) {
		unprepare(sup, &pl);
		lv_strv_free(job_path);
		goto out;
	}

	/* From here on nothing fails: apply. */
	for (size_t i = 0; i < pl.first_added; i++) {
		struct pool *p = sup->pools[i];
		size_t before = sup->n_pools;

		if (p->removing && lv_config_find_pool(pl.next, p->cfg.name) < 0)
			plan_readd(p, NULL); /* gone from the file: it stays gone */
		if (!p->removing && lv_config_find_pool(pl.next, p->cfg.name) < 0) {
			json_array_append_new(removed, json_string(p->cfg.name));
			pool_remove(p);
			if (sup->n_pools < before) { /* it had no workers left: gone already */
				i--;
				pl.first_added--;
			}
		}
	}
	for (size_t i = 0; i < pl.next->n_pools; i++) {
		const struct lv_pool_config *next = &pl.next->pools[i];
		struct pool *p = pool_find(sup, next->name);
		bool is_new = false, did_scale;

		for (size_t k = pl.first_added; k < sup->n_pools; k++)
			is_new |= sup->pools[k] == p;
		if (p->removing) {
			plan_readd(p, next);
			json_array_append_new(added, json_string(next->name));
			continue;
		}
		if (is_new) {
			json_array_append_new(added, json_string(next->name));
			core_changed(sup, &(struct core_change){ .kind = CC_POOL_ADDED, .pool = p,
			                                         .pool_name = next->name });
			pool_autostart(p);
			continue;
		}
		if (pl.changed[i])
			apply_change(p, next, pl.fds[i]);
		else
			take_source(p, next);
		did_scale = follow_config_workers(p, next->workers);
		if (pl.changed[i]) {
			json_array_append_new(changed, json_string(next->name));
			pool_start_rolling(p, "reload");
		} else {
			json_array_append_new(did_scale ? scaled : unchanged, json_string(next->name));
		}
	}
	lv_strv_free(sup->job_path);
	sup->job_path = job_path;
	lv_config_free(sup->cfg);
	sup->cfg = pl.next;
	sup->outputs.ring_lines = sup->cfg->logs_ring; /* rings made from now on */
	sup->config_gen++; /* roles are judged again under the new access list */
	pl.next = NULL;
	/* logs.* may have moved: every pool opens its file again under the new settings */
	for (size_t i = 0; i < sup->n_pools; i++)
		if (pool_logs_reopen(sup, sup->pools[i], err, errlen) < 0)
			log_err("%s", err);
	*result = json_pack("{s:O, s:O, s:O, s:O, s:O}", "added", added, "removed", removed,
	                    "changed", changed, "scaled", scaled, "unchanged", unchanged);
	core_changed(sup, &(struct core_change){ .kind = CC_DAEMON_RELOADED, .result = *result });
	log_info("reloaded %s", sup->cfg->path);
	rc = 0;
out:
	lv_config_free(pl.next);
	free(pl.fds);
	free(pl.changed);
	json_decref(added);
	json_decref(removed);
	json_decref(changed);
	json_decref(scaled);
	json_decref(unchanged);
	return rc;
}
