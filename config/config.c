/* config: reads the daemon's JSON config file and validates its top level (control,
 * job_path, pools) into struct lv_config; pool objects are checked in pool.c. */
#include "config/config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/check.h"
#include "daemon/lib/strv.h"

static const char *const top_keys[] = { "control", "job_path", "state_dir", "logs", "http",
	                                     "cgroup", "pools", NULL };
static const char *const logs_keys[] = { "dir", "max_bytes", "keep", "ring_lines", "target",
	                                      NULL };
static const char *const control_keys[] = { "socket", "mode", "group", "access", NULL };
static const char *const access_keys[] = { "user", "group", "role", NULL };

void lv_config_free(struct lv_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_pools; i++)
		lv_pool_config_clear(&cfg->pools[i]);
	free(cfg->pools);
	lv_strv_free(cfg->job_path);
	free(cfg->control_socket);
	free(cfg->access);
	free(cfg->state_dir);
	free(cfg->logs_dir);
	lv_http_config_clear(&cfg->http);
	free(cfg->path);
	free(cfg->dir);
	free(cfg);
}

int lv_config_find_pool(const struct lv_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_pools; i++)
		if (strcmp(cfg->pools[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int parse_mode(struct cfgerr *e, const char *text, mode_t *out)
{
	char *end;
	unsigned long mode;

	if (!*text || strspn(text, "01234567") != strlen(text))
		return cfg_fail(e, "control", "mode", "must be an octal string such as \"0600\"");
	mode = strtoul(text, &end, 8);
	if (mode > 0777)
		return cfg_fail(e, "control", "mode", "must be an octal string such as \"0600\"");
	*out = (mode_t)mode;
	return 0;
}

static int lookup_group(const char *name, gid_t *gid)
{
	struct group *gr = getgrnam(name);
	char *end;
	unsigned long id = strtoul(name, &end, 10);

	if (!gr && *end == '\0' && *name)
		gr = getgrgid((gid_t)id);
	if (!gr)
		return -1;
	*gid = gr->gr_gid;
	return 0;
}

/* control.access: [{"user"|"group": NAME, "role": "read"|"admin"}, ...] */
static int parse_access(struct cfgerr *e, const json_t *list, struct lv_config *cfg)
{
	json_t *entry;
	size_t i;

	if (!json_is_array(list))
		return cfg_fail(e, "control", "access", "must be an array of {\"user\" or \"group\", \"role\"}");
	if (!(cfg->access = calloc(json_array_size(list) + 1, sizeof *cfg->access)))
		return cfg_fail(e, "control", "access", "out of memory");
	json_array_foreach(list, i, entry) {
		struct lv_access *a = &cfg->access[i];
		const char *user = NULL, *group = NULL, *role = NULL;
		char prefix[48];

		snprintf(prefix, sizeof prefix, "control.access[%zu]", i);
		if (!json_is_object(entry))
			return cfg_fail(e, prefix, NULL, "must be an object");
		if (cfg_known_keys(e, entry, prefix, access_keys) < 0 ||
		    cfg_string(e, entry, prefix, "user", true, &user) < 0 ||
		    cfg_string(e, entry, prefix, "group", true, &group) < 0 ||
		    cfg_string(e, entry, prefix, "role", true, &role) < 0)
			return -1;
		if (!user == !group)
			return cfg_fail(e, prefix, NULL, "needs exactly one of \"user\" or \"group\"");
		if (!role || (strcmp(role, "read") && strcmp(role, "admin")))
			return cfg_fail(e, prefix, "role", "must be \"read\" or \"admin\"");
		a->role = strcmp(role, "admin") ? 1 : 2;
		if (group) {
			a->is_group = true;
			if (lookup_group(group, &a->gid) < 0)
				return cfg_fail(e, prefix, "group", "unknown group \"%s\"", group);
		} else {
			struct passwd *pw = getpwnam(user);
			char *end;
			unsigned long id = strtoul(user, &end, 10);

			if (!pw && *end == '\0')
				pw = getpwuid((uid_t)id);
			if (!pw)
				return cfg_fail(e, prefix, "user", "unknown user \"%s\"", user);
			a->uid = pw->pw_uid;
		}
		cfg->n_access = i + 1;
	}
	return 0;
}

static int parse_control(struct cfgerr *e, const json_t *root, struct lv_config *cfg)
{
	json_t *control = json_object_get(root, "control");
	const char *socket = NULL, *mode = NULL, *group = NULL;

	cfg->control_mode = 0600;
	if (!control)
		return 0;
	if (!json_is_object(control))
		return cfg_fail(e, "", "control", "must be an object");
	if (cfg_known_keys(e, control, "control", control_keys) < 0 ||
	    cfg_string(e, control, "control", "socket", true, &socket) < 0 ||
	    cfg_string(e, control, "control", "mode", true, &mode) < 0 ||
	    cfg_string(e, control, "control", "group", true, &group) < 0)
		return -1;
	if (group) {
		if (lookup_group(group, &cfg->control_gid) < 0)
			return cfg_fail(e, "control", "group", "unknown group \"%s\"", group);
		cfg->control_has_group = true;
	}
	if (json_object_get(control, "access") &&
	    parse_access(e, json_object_get(control, "access"), cfg) < 0)
		return -1;
	if (mode && parse_mode(e, mode, &cfg->control_mode) < 0)
		return -1;
	if (socket && !(cfg->control_socket = cfg_resolve(cfg->dir, socket)))
		return cfg_fail(e, "control", "socket", "out of memory");
	return 0;
}

static int parse_job_path(struct cfgerr *e, const json_t *root, struct lv_config *cfg)
{
	json_t *jp = json_object_get(root, "job_path"), *v;
	size_t i;

	if (jp && !json_is_array(jp))
		return cfg_fail(e, "", "job_path", "must be an array of folders");
	if (!(cfg->job_path = calloc((jp ? json_array_size(jp) : 0) + 1, sizeof *cfg->job_path)))
		return cfg_fail(e, "", "job_path", "out of memory");
	json_array_foreach(jp, i, v) {
		char key[32];

		snprintf(key, sizeof key, "job_path[%zu]", i);
		if (!json_is_string(v) || json_string_length(v) == 0)
			return cfg_fail(e, "", key, "must be a non-empty string");
		if (!(cfg->job_path[i] = cfg_resolve(cfg->dir, json_string_value(v))))
			return cfg_fail(e, "", key, "out of memory");
	}
	return 0;
}

static int parse_state_dir(struct cfgerr *e, const json_t *root, struct lv_config *cfg)
{
	const char *dir = NULL;

	if (cfg_string(e, root, "", "state_dir", true, &dir) < 0)
		return -1;
	if (!dir)
		dir = getenv("STATE_DIRECTORY"); /* systemd's StateDirectory= */
	if (dir && *dir && !(cfg->state_dir = cfg_resolve(cfg->dir, dir)))
		return cfg_fail(e, "", "state_dir", "out of memory");
	return 0;
}

static int parse_logs(struct cfgerr *e, const json_t *root, struct lv_config *cfg)
{
	json_t *logs = json_object_get(root, "logs");
	long long max = 10 * 1024 * 1024, keep = 5, ring = 200;
	const char *dir = NULL, *target = NULL;

	if (logs && !json_is_object(logs))
		return cfg_fail(e, "", "logs", "must be an object");
	if (logs && (cfg_known_keys(e, logs, "logs", logs_keys) < 0 ||
	             cfg_string(e, logs, "logs", "dir", true, &dir) < 0 ||
	             cfg_int(e, logs, "logs", "max_bytes", 0, 1LL << 40, &max) < 0 ||
	             cfg_int(e, logs, "logs", "keep", 0, 100, &keep) < 0 ||
	             cfg_int(e, logs, "logs", "ring_lines", 0, 100000, &ring) < 0 ||
	             cfg_string(e, logs, "logs", "target", true, &target) < 0))
		return -1;
	if (!target || !strcmp(target, "auto"))
		cfg->log_target = 0;
	else if (!strcmp(target, "stderr"))
		cfg->log_target = 1;
	else if (!strcmp(target, "journal"))
		cfg->log_target = 2;
	else
		return cfg_fail(e, "logs", "target", "must be \"auto\", \"stderr\" or \"journal\"");
	if (dir && *dir && !(cfg->logs_dir = cfg_resolve(cfg->dir, dir)))
		return cfg_fail(e, "logs", "dir", "out of memory");
	cfg->logs_max_bytes = (unsigned long)max;
	cfg->logs_keep = (unsigned)keep;
	cfg->logs_ring = (unsigned)ring;
	return 0;
}

/* "cgroup": "auto" gives each worker its own cgroup v2 leaf where the daemon can make one,
 * "off" leaves workers in the daemon's cgroup (and their "limits" unapplied). */
static int parse_cgroup(struct cfgerr *e, const json_t *root, struct lv_config *cfg)
{
	json_t *v = json_object_get(root, "cgroup");
	const char *mode = json_string_value(v);

	if (v && !(mode && strlen(mode) == json_string_length(v) &&
	           (!strcmp(mode, "auto") || !strcmp(mode, "off"))))
		return cfg_fail(e, "", "cgroup", "must be \"auto\" or \"off\"");
	cfg->cgroup = mode && !strcmp(mode, "off") ? LV_CGROUP_OFF : LV_CGROUP_AUTO;
	return 0;
}

static int parse_pools(struct cfgerr *e, const json_t *root, struct lv_config *cfg)
{
	json_t *pools = json_object_get(root, "pools"), *v;
	size_t i;

	if (!pools)
		return 0;
	if (!json_is_array(pools))
		return cfg_fail(e, "", "pools", "must be an array");
	if (json_array_size(pools) &&
	    !(cfg->pools = calloc(json_array_size(pools), sizeof *cfg->pools)))
		return cfg_fail(e, "", "pools", "out of memory");
	json_array_foreach(pools, i, v) {
		char prefix[32];

		snprintf(prefix, sizeof prefix, "pools[%zu]", i);
		if (lv_pool_config_from_json(v, cfg->dir, prefix, &cfg->pools[i], e->buf, e->len) < 0)
			return -1;
		cfg->n_pools = i + 1;
		if (lv_config_find_pool(cfg, cfg->pools[i].name) != (int)i)
			return cfg_fail(e, prefix, "name", "duplicate pool name \"%s\"",
			                cfg->pools[i].name);
	}
	return 0;
}

/* Depth-first search for a cycle through "after"; on one, writes "a -> b -> a". */
static bool find_cycle(const struct lv_config *cfg, size_t at, unsigned char *mark, size_t *path,
                       size_t depth, char *out, size_t outlen)
{
	mark[at] = 1; /* on the current path */
	path[depth] = at;
	for (char **dep = cfg->pools[at].after; *dep; dep++) {
		int next = lv_config_find_pool(cfg, *dep);

		if (next < 0)
			continue;
		if (mark[next] == 1) {
			size_t start = 0, len = 0;

			while (path[start] != (size_t)next)
				start++;
			for (size_t k = start; k <= depth; k++)
				len += (size_t)snprintf(out + len, len < outlen ? outlen - len : 0, "%s -> ",
				                        cfg->pools[path[k]].name);
			snprintf(out + len, len < outlen ? outlen - len : 0, "%s", cfg->pools[next].name);
			return true;
		}
		if (mark[next] == 0 && find_cycle(cfg, (size_t)next, mark, path, depth + 1, out, outlen))
			return true;
	}
	mark[at] = 2; /* done: no cycle through here */
	return false;
}

int lv_config_check_after(const struct lv_config *cfg, char *err, size_t errlen)
{
	unsigned char *mark = calloc(cfg->n_pools + 1, 1);
	size_t *path = calloc(cfg->n_pools + 1, sizeof *path);
	char cycle[512];
	int rc = 0;

	if (!mark || !path) {
		snprintf(err, errlen, "out of memory");
		rc = -1;
	}
	for (size_t i = 0; rc == 0 && i < cfg->n_pools; i++)
		for (size_t k = 0; rc == 0 && cfg->pools[i].after[k]; k++)
			if (lv_config_find_pool(cfg, cfg->pools[i].after[k]) < 0) {
				snprintf(err, errlen, "pools[%zu].after[%zu]: no pool named \"%s\"", i, k,
				         cfg->pools[i].after[k]);
				rc = -1;
			}
	for (size_t i = 0; rc == 0 && i < cfg->n_pools; i++)
		if (mark[i] == 0 && find_cycle(cfg, i, mark, path, 0, cycle, sizeof cycle)) {
			snprintf(err, errlen, "pools: dependency cycle: %s", cycle);
			rc = -1;
		}
	free(mark);
	free(path);
	return rc;
}

int lv_config_from_json(const json_t *root, const char *base_dir, struct lv_config **out,
                        char *err, size_t errlen)
{
	struct cfgerr e = { err, errlen };
	struct lv_config *cfg = calloc(1, sizeof *cfg);

	*out = NULL;
	if (!cfg || !(cfg->dir = strdup(base_dir ? base_dir : "."))) {
		free(cfg);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (!json_is_object(root)) {
		cfg_fail(&e, "", NULL, "must be an object");
		goto fail;
	}
	if (cfg_known_keys(&e, root, "", top_keys) < 0 || parse_control(&e, root, cfg) < 0 ||
	    parse_state_dir(&e, root, cfg) < 0 || parse_logs(&e, root, cfg) < 0 ||
	    parse_job_path(&e, root, cfg) < 0 || cfg_parse_http(&e, root, cfg) < 0 ||
	    parse_cgroup(&e, root, cfg) < 0 || parse_pools(&e, root, cfg) < 0 ||
	    lv_config_check_after(cfg, err, errlen) < 0)
		goto fail;
	*out = cfg;
	return 0;
fail:
	lv_config_free(cfg);
	return -1;
}

/* Parses the file at real; on failure writes "FILE: reason" or "FILE:LINE:COL: reason". */
static json_t *load_json(const char *file, const char *real, char *err, size_t errlen)
{
	/* O_NONBLOCK: a FIFO in its place must not hang the daemon on reload */
	int fd = open(real, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	const char *why = NULL;
	json_error_t jerr;
	struct stat st;
	json_t *root;

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0)
		why = strerror(errno);
	else if (S_ISDIR(st.st_mode))
		why = strerror(EISDIR);
	else if (!S_ISREG(st.st_mode))
		why = "not a regular file (a FIFO, socket or device)";
	if (why) {
		snprintf(err, errlen, "%s: %s", file, why);
		close(fd);
		return NULL;
	}
	root = json_loadfd(fd, JSON_REJECT_DUPLICATES, &jerr);
	close(fd);
	if (!root)
		snprintf(err, errlen, "%s:%d:%d: %s", file, jerr.line, jerr.column, jerr.text);
	return root;
}

int lv_config_load(const char *file, struct lv_config **out, char *err, size_t errlen)
{
	char real[PATH_MAX], dir[PATH_MAX];
	json_t *root;
	int rc;

	*out = NULL;
	if (!realpath(file, real)) {
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		return -1;
	}
	if (!(root = load_json(file, real, err, errlen)))
		return -1;
	snprintf(dir, sizeof dir, "%s", real);
	rc = lv_config_from_json(root, dirname(dir), out, err, errlen);
	json_decref(root);
	if (rc == 0 && !((*out)->path = strdup(real))) {
		lv_config_free(*out);
		*out = NULL;
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return rc;
}
