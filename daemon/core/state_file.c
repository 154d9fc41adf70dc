/* state_file: saving and restoring the operator's runtime decisions. The file says, per pool,
 * how many workers it has (and what the config said then) and which of them should run,
 * plus pools added or removed at runtime; everything else comes from the config file. */
#include "daemon/core/state_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/lib/log.h"
#include "daemon/lib/safefile.h"

#define STATE_VERSION 1

char *state_file_path(const struct lv_config *cfg)
{
	char *path;

	if (!cfg->state_dir || asprintf(&path, "%s/state.json", cfg->state_dir) < 0)
		return NULL;
	return path;
}

static json_t *pool_state(const struct pool *p)
{
	json_t *run = json_array();

	for (unsigned i = 0; i < p->n_slots; i++)
		if (p->workers[i] && !p->workers[i]->removing && worker_should_run(p->workers[i]))
			json_array_append_new(run, json_integer(i));
	/* the config's count beside it: a later edit of the file beats this count */
	return json_pack("{s:i, s:i, s:o}", "workers", (int)p->cfg.workers, "config_workers",
	                 (int)p->config_workers, "run", run);
}

/* Is p the config file's pool of its name (not one added at runtime in its place)? */
static bool is_config_pool(const struct supervisor *sup, const struct pool *p)
{
	int k = lv_config_find_pool(sup->cfg, p->cfg.name);

	return k >= 0 && json_equal(p->cfg.source, sup->cfg->pools[k].source);
}

/* A config pool an operator removed, with what the file said of it then: the removal
 * holds across restarts only while the file still says that. A pool a reload wants back
 * once its removal is done is not removed. */
static bool removed_at_runtime(struct supervisor *sup, const struct lv_pool_config *c)
{
	const struct pool *p = pool_find(sup, c->name);

	if (!p)
		return true;
	if (p->removing)
		return !p->readd;
	return !json_equal(p->cfg.source, c->source);
}

static json_t *current_state(struct supervisor *sup)
{
	json_t *pools = json_object(), *added = json_array(), *removed = json_array();

	for (size_t i = 0; i < sup->n_pools; i++) {
		const struct pool *p = sup->pools[i];

		if (p->removing)
			continue;
		json_object_set_new(pools, p->cfg.name, pool_state(p));
		if (!is_config_pool(sup, p))
			json_array_append(added, p->cfg.source);
	}
	for (size_t i = 0; i < sup->cfg->n_pools; i++) {
		const struct lv_pool_config *c = &sup->cfg->pools[i];

		if (removed_at_runtime(sup, c))
			json_array_append_new(removed, json_pack("{s:s, s:O}", "name", c->name, "config",
			                                         c->source));
	}
	return json_pack("{s:i, s:o, s:o, s:o}", "version", STATE_VERSION, "pools", pools, "added",
	                 added, "removed", removed);
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Writes text to state.json.tmp, then renames it over state.json, all relative to the
 * folder's descriptor; -1 with errno (err says where). */
static int write_state(int dfd, const char *dir, const char *text, char *err, size_t errlen)
{
	int fd = lv_regular_openat(dfd, dir, "state.json.tmp", O_WRONLY | O_CREAT | O_TRUNC, 0600,
	                           err, errlen);

	if (fd < 0)
		return -1;
	if (write_all(fd, text, strlen(text)) < 0 || write_all(fd, "\n", 1) < 0 || fsync(fd) < 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	if (close(fd) < 0 || renameat(dfd, "state.json.tmp", dfd, "state.json") < 0)
		return -1;
	/* the rename itself is only durable once the folder is on disk */
	return fsync(dfd);
}

int state_save(struct supervisor *sup)
{
	char *path = state_file_path(sup->cfg), *text = NULL, err[LV_ERRBUF] = "";
	json_t *state;
	int dfd, rc = -1;

	if (!path)
		return 0;
	if (mkdir(sup->cfg->state_dir, 0700) < 0 && errno != EEXIST)
		log_err("state: %s: %s", sup->cfg->state_dir, strerror(errno));
	if ((dfd = lv_private_dir_open(sup->cfg->state_dir, err, sizeof err)) < 0) {
		log_err("state: not saving: %s", err);
		free(path);
		return -1;
	}
	state = current_state(sup);
	text = json_dumps(state, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(state);
	if (text && write_state(dfd, sup->cfg->state_dir, text, err, sizeof err) == 0)
		rc = 0;
	else if (err[0])
		log_err("state: cannot save: %s", err);
	else
		log_err("state: cannot save %s: %s", path, text ? strerror(errno) : "out of memory");
	close(dfd);
	free(text);
	free(path);
	return rc;
}

/* A worker count saved under key, or fallback if there is none that could be one. */
static json_int_t saved_count(json_t *saved, const char *key, json_int_t fallback)
{
	json_t *v = json_object_get(saved, key);

	return json_is_integer(v) && json_integer_value(v) >= 0 &&
	       json_integer_value(v) <= LV_POOL_WORKERS_MAX ? json_integer_value(v) : fallback;
}

/* The saved count stands if the config's count is still the one it was saved beside;
 * otherwise the file was edited since and wins. A state file without config_workers
 * (older daemons) pinned every count: the config wins there too, unless they agree. */
static void restore_count(struct pool *p, json_t *saved)
{
	json_int_t n = saved_count(saved, "workers", -1), base = saved_count(saved, "config_workers", n);

	if (n < 0)
		return;
	if (base == p->config_workers)
		pool_scale(p, (unsigned)n);
	else if (n != p->config_workers)
		log_info("state: pool %s: the config file's workers changed (%lld -> %u) since the "
		         "runtime scale to %lld: the config file wins", p->cfg.name, (long long)base,
		         p->config_workers, (long long)n);
}

/* Marks which workers of p run: run is the list of indexes saved, for the workers the
 * file knew of; those it did not (the config added them since) follow autostart. */
static void restore_pool(struct pool *p, json_t *saved)
{
	json_t *run = json_object_get(saved, "run"), *v;
	json_int_t known = saved_count(saved, "workers", LV_POOL_WORKERS_MAX);
	size_t i;

	restore_count(p, saved);
	if (!json_is_array(run))
		return;
	p->restored = true;
	for (unsigned k = 0; k < p->n_slots; k++) {
		if (!p->workers[k])
			continue;
		if (k < known)
			p->workers[k]->held = true; /* until the list says it runs */
		else
			p->workers[k]->want_running = p->cfg.autostart;
	}
	json_array_foreach(run, i, v) {
		json_int_t k = json_integer_value(v);
		if (json_is_integer(v) && k >= 0 && k < p->n_slots && k < known && p->workers[k]) {
			p->workers[k]->held = false;
			p->workers[k]->want_running = true;
		}
	}
}

/* Removals of config pools hold while the file says of the pool what it said then. */
static void restore_removed(struct supervisor *sup, json_t *removed)
{
	json_t *v;
	size_t i;

	json_array_foreach(removed, i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		int k = name ? lv_config_find_pool(sup->cfg, name) : -1;
		struct pool *p = name ? pool_find(sup, name) : NULL;

		if (json_is_string(v))
			log_info("state: pool %s: a removal saved without the pool's config (older "
			         "daemon): the config file wins", json_string_value(v));
		else if (k >= 0 && !json_equal(json_object_get(v, "config"), sup->cfg->pools[k].source))
			log_info("state: pool %s was removed at runtime, but the config file changed it "
			         "since: the config file wins", name);
		else if (p && !p->removing)
			pool_remove(p);
	}
}

static void restore_added(struct supervisor *sup, json_t *added)
{
	json_t *obj;
	size_t i;

	json_array_foreach(added, i, obj) {
		struct lv_pool_config cfg;
		char err[LV_ERRBUF];

		if (lv_pool_config_from_json(obj, sup->cfg->dir, "added", &cfg, err, sizeof err) < 0) {
			log_warn("state: skipping a saved pool: %s", err);
			continue;
		}
		if (pool_find(sup, cfg.name))
			log_info("state: pool %s added at runtime is not brought back: the config "
			         "file's pool of that name is there", cfg.name);
		else if (pool_add(sup, &cfg, err, sizeof err) < 0)
			log_warn("state: cannot bring back pool %s: %s", cfg.name, err);
		lv_pool_config_clear(&cfg);
	}
}

/* Parses state.json of dir. NULL with why empty when there is none, or saying why it
 * cannot be read or trusted: a folder others can write, not a regular file, bad JSON. */
static json_t *load_state(const char *dir, char *why, size_t whylen)
{
	json_error_t jerr;
	json_t *state;
	int dfd, fd;

	why[0] = '\0';
	if ((dfd = lv_private_dir_open(dir, why, whylen)) < 0) {
		if (errno == ENOENT)
			why[0] = '\0';
		return NULL;
	}
	fd = lv_regular_openat(dfd, dir, "state.json", O_RDONLY, 0, why, whylen);
	close(dfd);
	if (fd < 0) {
		if (errno == ENOENT)
			why[0] = '\0';
		return NULL;
	}
	if (!(state = json_loadfd(fd, JSON_REJECT_DUPLICATES, &jerr)))
		snprintf(why, whylen, "%s", jerr.text);
	close(fd);
	return state;
}

bool state_restore(struct supervisor *sup)
{
	char *path = state_file_path(sup->cfg), why[LV_ERRBUF];
	json_t *state, *pools, *saved;
	const char *name;

	if (!path)
		return false;
	if (!(state = load_state(sup->cfg->state_dir, why, sizeof why))) {
		if (why[0])
			log_warn("state: ignoring %s (%s): starting from the config alone", path, why);
		free(path);
		return false;
	}
	if (!json_is_object(state) || json_integer_value(json_object_get(state, "version")) != STATE_VERSION ||
	    !json_is_object(pools = json_object_get(state, "pools"))) {
		log_warn("state: ignoring %s (not a loopvisor state file): starting from the config "
		         "alone", path);
		json_decref(state);
		free(path);
		return false;
	}
	/* removals first: a pool added at runtime in place of a config pool takes its name */
	restore_removed(sup, json_object_get(state, "removed"));
	restore_added(sup, json_object_get(state, "added"));
	json_object_foreach(pools, name, saved) {
		struct pool *p = pool_find(sup, name);
		if (p && !p->removing && json_is_object(saved))
			restore_pool(p, saved);
	}
	log_info("state: restored the desired state from %s", path);
	json_decref(state);
	free(path);
	return true;
}
