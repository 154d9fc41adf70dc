/* state: saving and restoring the operator's runtime decisions. The file says, per pool,
 * how many workers it has and which of them should run, plus pools added or removed at
 * runtime; everything else comes from the config file. */
#include "daemon/state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/log.h"
#include "daemon/safefile.h"

#define STATE_VERSION 1

char *state_file_path(const struct lv_config *cfg)
{
	char *path;

	if (!cfg->state_dir || asprintf(&path, "%s/state.json", cfg->state_dir) < 0)
		return NULL;
	return path;
}

/* Should this worker run after a restart? Yes unless an operator stopped it, or it was
 * never started (autostart off) or ended by policy without a failure. */
static bool worker_should_run(const struct worker *w)
{
	return !w->held && (w->want_running || w->state == WS_FAILED);
}

static json_t *pool_state(const struct pool *p)
{
	json_t *run = json_array();

	for (unsigned i = 0; i < p->n_slots; i++)
		if (p->workers[i] && !p->workers[i]->removing && worker_should_run(p->workers[i]))
			json_array_append_new(run, json_integer(i));
	return json_pack("{s:i, s:o}", "workers", (int)p->cfg.workers, "run", run);
}

static json_t *current_state(struct supervisor *sup)
{
	json_t *pools = json_object(), *added = json_array(), *removed = json_array();

	for (size_t i = 0; i < sup->n_pools; i++) {
		const struct pool *p = sup->pools[i];

		if (p->removing)
			continue;
		json_object_set_new(pools, p->cfg.name, pool_state(p));
		if (lv_config_find_pool(sup->cfg, p->cfg.name) < 0)
			json_array_append(added, p->cfg.source);
	}
	for (size_t i = 0; i < sup->cfg->n_pools; i++) {
		const struct pool *p = supervisor_find_pool(sup, sup->cfg->pools[i].name);
		if (!p || p->removing)
			json_array_append_new(removed, json_string(sup->cfg->pools[i].name));
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

/* Marks which workers of p run: run is the list of indexes saved. */
static void restore_pool(struct pool *p, json_t *saved)
{
	json_t *workers = json_object_get(saved, "workers"), *run = json_object_get(saved, "run"), *v;
	size_t i;

	if (json_is_integer(workers) && json_integer_value(workers) >= 0 &&
	    json_integer_value(workers) <= LV_POOL_WORKERS_MAX)
		pool_scale(p, (unsigned)json_integer_value(workers));
	if (!json_is_array(run))
		return;
	p->restored = true;
	for (unsigned k = 0; k < p->n_slots; k++)
		if (p->workers[k])
			p->workers[k]->held = true; /* until the list says it runs */
	json_array_foreach(run, i, v) {
		json_int_t k = json_integer_value(v);
		if (json_is_integer(v) && k >= 0 && k < p->n_slots && p->workers[k]) {
			p->workers[k]->held = false;
			p->workers[k]->want_running = true;
		}
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
		if (!supervisor_find_pool(sup, cfg.name) &&
		    supervisor_add_pool(sup, &cfg, err, sizeof err) < 0)
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
	json_t *state, *pools, *saved, *v;
	const char *name;
	size_t i;

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
	restore_added(sup, json_object_get(state, "added"));
	json_array_foreach(json_object_get(state, "removed"), i, v) {
		struct pool *p = json_is_string(v) ? supervisor_find_pool(sup, json_string_value(v)) : NULL;
		if (p)
			supervisor_remove_pool(p);
	}
	json_object_foreach(pools, name, saved) {
		struct pool *p = supervisor_find_pool(sup, name);
		if (p && !p->removing && json_is_object(saved))
			restore_pool(p, saved);
	}
	log_info("state: restored the desired state from %s", path);
	json_decref(state);
	free(path);
	return true;
}
