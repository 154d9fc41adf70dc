/* pool (config): validates one POOL object into struct lv_pool_config. Shared by the
 * config file and the runtime "add" method, so both say the same about the same mistake. */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "config/check.h"
#include "daemon/lib/strv.h"
#include "config/signame.h"
#include "config/template.h"

static const char *const pool_keys[] = {
	"name", "exec", "module", "python", "params", "workers", "restart", "autostart", "stop_signal",
	"stop_timeout_ms", "start_limit", "env", "cwd", "user", "group", "loops", "heartbeat_ms",
	"hang_timeout_ms", "start_timeout_ms", "ready", "listen", "after", "no_new_privs", "umask",
	"rlimits", "output", "env_file", "probes", "limits", "memory_restart", NULL,
};

bool lv_pool_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > LV_POOL_NAME_MAX)
		return false;
	for (const char *c = name; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '_' && *c != '.' && *c != '-')
			return false;
	return true;
}

void lv_pool_config_clear(struct lv_pool_config *p)
{
	lv_strv_free(p->argv);
	lv_strv_free(p->env);
	lv_strv_free(p->env_files);
	lv_strv_free(p->listen);
	lv_strv_free(p->after);
	free(p->module);
	json_decref(p->params);
	json_decref(p->source);
	free(p->cwd);
	free(p->user);
	free(p->group);
	lv_probes_clear(p->probes);
	memset(p, 0, sizeof *p);
}

static int parse_program(struct cfgerr *e, const json_t *obj, const char *prefix,
                         const char *base_dir, struct lv_pool_config *p)
{
	json_t *exec = json_object_get(obj, "exec"), *params = json_object_get(obj, "params");
	const char *module = NULL;

	if (!!exec + !!json_object_get(obj, "module") + !!json_object_get(obj, "python") != 1)
		return cfg_fail(e, prefix, NULL, "needs exactly one of \"exec\", \"module\" or \"python\"");
	if (exec) {
		if (!json_is_array(exec) || json_array_size(exec) == 0)
			return cfg_fail(e, prefix, "exec", "must be a non-empty array of strings");
		if (params)
			return cfg_fail(e, prefix, "params", "only allowed with \"module\" or \"python\"");
		p->kind = LV_KIND_EXEC;
		return cfg_argv(e, exec, prefix, "exec", base_dir, &p->argv);
	}
	if (!(p->python = json_object_get(obj, "python") != NULL) &&
	    cfg_string(e, obj, prefix, "module", true, &module) < 0)
		return -1;
	p->kind = LV_KIND_MODULE; /* python: the shipped "python" job runs the app (python.c) */
	p->module = p->python ? strdup("python")
	                      : strchr(module, '/') ? cfg_resolve(base_dir, module) : strdup(module);
	if (!p->module)
		return cfg_fail(e, prefix, "module", "out of memory");
	if (params && !json_is_object(params))
		return cfg_fail(e, prefix, "params", "must be an object");
	if (!(p->params = params ? json_deep_copy(params) : json_object()))
		return cfg_fail(e, prefix, "params", "out of memory");
	return 0;
}

static int parse_restart(struct cfgerr *e, const json_t *obj, const char *prefix,
                         struct lv_pool_config *p)
{
	const char *r = NULL;

	if (cfg_string(e, obj, prefix, "restart", false, &r) < 0)
		return -1;
	if (!r || strcmp(r, "always") == 0)
		p->restart = LV_RESTART_ALWAYS;
	else if (strcmp(r, "on-failure") == 0)
		p->restart = LV_RESTART_ON_FAILURE;
	else if (strcmp(r, "never") == 0)
		p->restart = LV_RESTART_NEVER;
	else
		return cfg_fail(e, prefix, "restart", "must be \"always\", \"on-failure\" or \"never\"");
	return 0;
}

static int parse_stop(struct cfgerr *e, const json_t *obj, const char *prefix,
                      struct lv_pool_config *p)
{
	json_t *sig = json_object_get(obj, "stop_signal");
	long long timeout = 10000;

	p->stop_signal = SIGTERM;
	if (sig) {
		int n = json_is_string(sig) ? lv_signal_from_name(json_string_value(sig))
		        : json_is_integer(sig) && json_integer_value(sig) > 0 &&
		          json_integer_value(sig) <= 64 ? (int)json_integer_value(sig) : -1;
		if (n <= 0)
			return cfg_fail(e, prefix, "stop_signal",
			                "must be a signal name such as \"TERM\" or a number");
		p->stop_signal = n;
	}
	if (cfg_int(e, obj, prefix, "stop_timeout_ms", 1, 3600000, &timeout) < 0)
		return -1;
	p->stop_timeout_ms = (unsigned)timeout;
	return 0;
}

static int parse_start_limit(struct cfgerr *e, const json_t *obj, const char *prefix,
                             struct lv_pool_config *p)
{
	static const char *const keys[] = { "burst", "interval_ms", NULL };
	json_t *sl = json_object_get(obj, "start_limit");
	long long burst = 5, interval = 10000;
	char sub[96];

	if (sl) {
		snprintf(sub, sizeof sub, "%s.start_limit", prefix);
		if (!json_is_object(sl))
			return cfg_fail(e, prefix, "start_limit", "must be an object");
		if (cfg_known_keys(e, sl, sub, keys) < 0 ||
		    cfg_int(e, sl, sub, "burst", 1, 1000, &burst) < 0 ||
		    cfg_int(e, sl, sub, "interval_ms", 1, 86400000, &interval) < 0)
			return -1;
	}
	p->start_limit_burst = (unsigned)burst;
	p->start_limit_interval_ms = (unsigned)interval;
	return 0;
}

static int parse_env(struct cfgerr *e, const json_t *obj, const char *prefix,
                     struct lv_pool_config *p)
{
	json_t *env = json_object_get(obj, "env"), *v;
	const char *key;
	size_t n = 0;

	if (env && !json_is_object(env))
		return cfg_fail(e, prefix, "env", "must be an object of strings");
	if (!(p->env = calloc((env ? json_object_size(env) : 0) + 1, sizeof *p->env)))
		return cfg_fail(e, prefix, "env", "out of memory");
	json_object_foreach(env, key, v) {
		char path[128];

		snprintf(path, sizeof path, "env.%s", key);
		if (!*key || strchr(key, '='))
			return cfg_fail(e, prefix, path, "variable names must be non-empty, without '='");
		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
			return cfg_fail(e, prefix, path, "must be a string");
		if (cfg_template(e, prefix, path, json_string_value(v)) < 0)
			return -1;
		if (asprintf(&p->env[n], "%s=%s", key, json_string_value(v)) < 0)
			return cfg_fail(e, prefix, path, "out of memory");
		n++;
	}
	return 0;
}

/* "env_file": a path or an array of paths, each optional with a leading '-'; read at each
 * start of a worker (daemon/core/worker_env.c), so only the form is checked here. */
static int parse_env_files(struct cfgerr *e, const json_t *obj, const char *prefix,
                           const char *base_dir, struct lv_pool_config *p)
{
	json_t *ef = json_object_get(obj, "env_file"), *list, *v;
	size_t i;

	if (ef && !json_is_string(ef) && !json_is_array(ef))
		return cfg_fail(e, prefix, "env_file", "must be a path or an array of paths");
	list = json_is_string(ef) ? json_pack("[O]", ef) : ef ? json_incref(ef) : json_array();
	if (!list)
		return cfg_fail(e, prefix, "env_file", "out of memory");
	if (!(p->env_files = calloc(json_array_size(list) + 1, sizeof *p->env_files))) {
		json_decref(list);
		return cfg_fail(e, prefix, "env_file", "out of memory");
	}
	json_array_foreach(list, i, v) {
		const char *path = json_string_value(v);
		bool optional = path && path[0] == '-';
		char key[32], *abs;

		snprintf(key, sizeof key, json_is_array(ef) ? "env_file[%zu]" : "env_file", i);
		if (!path || strlen(path) != json_string_length(v) || !path[optional]) {
			json_decref(list);
			return cfg_fail(e, prefix, key, "must be a non-empty path (a leading - makes "
			                "it optional)");
		}
		abs = cfg_resolve(base_dir, path + optional);
		if (!abs || asprintf(&p->env_files[i], "%s%s", optional ? "-" : "", abs) < 0) {
			p->env_files[i] = NULL;
			free(abs);
			json_decref(list);
			return cfg_fail(e, prefix, key, "out of memory");
		}
		free(abs);
	}
	json_decref(list);
	return 0;
}

/* True when text is a plain decimal id ("0", "65534"): digits only, no sign or spaces. */
static bool numeric_id(const char *text, unsigned long *id)
{
	char *end;

	if (!isdigit((unsigned char)text[0]))
		return false;
	errno = 0;
	*id = strtoul(text, &end, 10);
	return *end == '\0' && errno == 0 && *id < (unsigned long)(uid_t)-1;
}

/* user and group: names or numbers, resolved now so a typo fails the config, not a spawn.
 * The stored user/group is the resolved name: initgroups() needs the user's name. */
static int parse_ids(struct cfgerr *e, const json_t *obj, const char *prefix,
                     struct lv_pool_config *p)
{
	const char *user = NULL, *group = NULL;
	unsigned long id;

	if (cfg_string(e, obj, prefix, "user", true, &user) < 0 ||
	    cfg_string(e, obj, prefix, "group", true, &group) < 0)
		return -1;
	if ((user || group) && geteuid() != 0)
		return cfg_fail(e, prefix, user ? "user" : "group",
		                "only allowed when loopvisord runs as root");
	if (user) {
		struct passwd *pw = getpwnam(user);

		if (!pw && numeric_id(user, &id))
			pw = getpwuid((uid_t)id);
		if (!pw)
			return cfg_fail(e, prefix, "user", "unknown user \"%s\"", user);
		p->uid = pw->pw_uid;
		p->gid = pw->pw_gid;
		if (!(p->user = strdup(pw->pw_name)))
			return cfg_fail(e, prefix, "user", "out of memory");
	}
	if (group) {
		struct group *gr = getgrnam(group);

		if (!gr && numeric_id(group, &id))
			gr = getgrgid((gid_t)id);
		if (!gr)
			return cfg_fail(e, prefix, "group", "unknown group \"%s\"", group);
		p->gid = gr->gr_gid;
		if (!(p->group = strdup(gr->gr_name)))
			return cfg_fail(e, prefix, "group", "out of memory");
	}
	return 0;
}

char *cfg_listen_spec(const char *spec, const char *base_dir)
{
	const char *hostport, *colon;
	char *end, *out;
	long port;

	if (!strncmp(spec, "unix:", 5) && spec[5]) {
		char *path = cfg_resolve(base_dir, spec + 5);
		if (!path || asprintf(&out, "unix:%s", path) < 0)
			out = NULL;
		free(path);
		return out;
	}
	if (!strncmp(spec, "fd:", 3)) /* a socket systemd passed (FileDescriptorName=) */
		return spec[3] && !strchr(spec + 3, ':') ? strdup(spec) : NULL;
	if (strncmp(spec, "tcp:", 4) != 0)
		return NULL;
	hostport = spec + 4;
	if (hostport[0] == '[') {
		const char *close = strchr(hostport, ']');
		if (!close || close[1] != ':' || close == hostport + 1)
			return NULL;
		colon = close + 1;
	} else {
		colon = strrchr(hostport, ':');
		if (!colon || colon == hostport || memchr(hostport, ':', (size_t)(colon - hostport)))
			return NULL;
	}
	port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || port < 0 || port > 65535)
		return NULL;
	return strdup(spec);
}

static int parse_listen(struct cfgerr *e, const json_t *obj, const char *prefix,
                        const char *base_dir, struct lv_pool_config *p)
{
	json_t *listen = json_object_get(obj, "listen"), *v;
	size_t i;

	if (listen && (!json_is_array(listen) || json_array_size(listen) > LV_LISTEN_MAX))
		return cfg_fail(e, prefix, "listen", "must be an array of at most %d addresses",
		                LV_LISTEN_MAX);
	if (!(p->listen = calloc((listen ? json_array_size(listen) : 0) + 1, sizeof *p->listen)))
		return cfg_fail(e, prefix, "listen", "out of memory");
	json_array_foreach(listen, i, v) {
		char key[32];

		snprintf(key, sizeof key, "listen[%zu]", i);
		if (!json_is_string(v) ||
		    !(p->listen[i] = cfg_listen_spec(json_string_value(v), base_dir)))
			return cfg_fail(e, prefix, key, "must be \"tcp:HOST:PORT\", "
			                "\"tcp:[IPV6]:PORT\", \"unix:PATH\" or \"fd:NAME\"");
		p->n_listen = i + 1;
	}
	return 0;
}

/* "after": names only here; whether they exist (and form no cycle) is the whole file's
 * business, checked in config.c. */
static int parse_after(struct cfgerr *e, const json_t *obj, const char *prefix,
                       struct lv_pool_config *p)
{
	json_t *after = json_object_get(obj, "after"), *v;
	size_t i;

	if (after && !json_is_array(after))
		return cfg_fail(e, prefix, "after", "must be an array of pool names");
	if (!(p->after = calloc((after ? json_array_size(after) : 0) + 1, sizeof *p->after)))
		return cfg_fail(e, prefix, "after", "out of memory");
	json_array_foreach(after, i, v) {
		char key[32];

		snprintf(key, sizeof key, "after[%zu]", i);
		if (!json_is_string(v) || !lv_pool_name_valid(json_string_value(v)))
			return cfg_fail(e, prefix, key, "must be a pool name");
		if (!(p->after[i] = strdup(json_string_value(v))))
			return cfg_fail(e, prefix, key, "out of memory");
	}
	return 0;
}

/* Loop health, readiness and start timing. */
static int parse_health(struct cfgerr *e, const json_t *obj, const char *prefix,
                        struct lv_pool_config *p)
{
	long long loops = 1, hb = 1000, hang = 10000, start = 60000;
	const char *ready = NULL, *output = NULL;

	if (cfg_int(e, obj, prefix, "loops", 1, LV_LOOPS_MAX, &loops) < 0 ||
	    cfg_int(e, obj, prefix, "heartbeat_ms", 10, 60000, &hb) < 0 ||
	    cfg_int(e, obj, prefix, "hang_timeout_ms", 0, 3600000, &hang) < 0 ||
	    cfg_int(e, obj, prefix, "start_timeout_ms", 1, 3600000, &start) < 0 ||
	    cfg_string(e, obj, prefix, "ready", true, &ready) < 0 ||
	    cfg_string(e, obj, prefix, "output", true, &output) < 0)
		return -1;
	if (!output || !strcmp(output, "capture"))
		p->output = LV_OUTPUT_CAPTURE;
	else if (!strcmp(output, "inherit"))
		p->output = LV_OUTPUT_INHERIT;
	else if (!strcmp(output, "null"))
		p->output = LV_OUTPUT_NULL;
	else
		return cfg_fail(e, prefix, "output", "must be \"capture\", \"inherit\" or \"null\"");
	if (p->kind == LV_KIND_EXEC && json_object_get(obj, "loops"))
		return cfg_fail(e, prefix, "loops", "only allowed with \"module\"");
	if (p->kind == LV_KIND_EXEC && json_object_get(obj, "heartbeat_ms"))
		return cfg_fail(e, prefix, "heartbeat_ms", "only allowed with \"module\"");
	if (ready && p->python && strcmp(ready, "notify") != 0)
		return cfg_fail(e, prefix, "ready", "with \"python\" must be \"notify\" (the app calls "
		                "ctx.ready())");
	if (ready && p->kind == LV_KIND_MODULE && !p->python)
		return cfg_fail(e, prefix, "ready", "only allowed with \"exec\" or \"python\"");
	if (ready && strcmp(ready, "exec") != 0 && strcmp(ready, "notify") != 0)
		return cfg_fail(e, prefix, "ready", "must be \"exec\" or \"notify\"");
	if (p->kind == LV_KIND_MODULE && hang && hang < hb)
		return cfg_fail(e, prefix, "hang_timeout_ms", "must be 0 (off) or at least heartbeat_ms");
	p->loops = (unsigned)loops;
	p->heartbeat_ms = (unsigned)hb;
	p->hang_timeout_ms = (unsigned)hang;
	p->start_timeout_ms = (unsigned)start;
	p->ready_notify = ready && !strcmp(ready, "notify") && !p->python;
	p->python_ready_late = ready && p->python;
	return 0;
}

static const struct { const char *name; int resource; } rlimit_names[] = {
	{ "as", RLIMIT_AS }, { "core", RLIMIT_CORE }, { "cpu", RLIMIT_CPU },
	{ "data", RLIMIT_DATA }, { "fsize", RLIMIT_FSIZE }, { "memlock", RLIMIT_MEMLOCK },
	{ "msgqueue", RLIMIT_MSGQUEUE }, { "nice", RLIMIT_NICE }, { "nofile", RLIMIT_NOFILE },
	{ "nproc", RLIMIT_NPROC }, { "rss", RLIMIT_RSS }, { "rtprio", RLIMIT_RTPRIO },
	{ "sigpending", RLIMIT_SIGPENDING }, { "stack", RLIMIT_STACK },
};

/* no_new_privs, umask and rlimits: what a worker may become and consume. */
static int parse_limits(struct cfgerr *e, const json_t *obj, const char *prefix,
                        struct lv_pool_config *p)
{
	json_t *rl = json_object_get(obj, "rlimits"), *v;
	const char *mask = NULL, *key;

	/* by default only a pool that runs as root may gain privileges (setuid programs) */
	p->no_new_privs = p->user && p->uid != 0;
	p->umask = -1;
	if (cfg_bool(e, obj, prefix, "no_new_privs", &p->no_new_privs) < 0 ||
	    cfg_string(e, obj, prefix, "umask", true, &mask) < 0)
		return -1;
	if (mask) {
		char *end;
		unsigned long m = strtoul(mask, &end, 8);
		if (*end || strspn(mask, "01234567") != strlen(mask) || m > 0777)
			return cfg_fail(e, prefix, "umask", "must be an octal string such as \"0027\"");
		p->umask = (int)m;
	}
	if (rl && !json_is_object(rl))
		return cfg_fail(e, prefix, "rlimits", "must be an object such as {\"nofile\": 4096}");
	json_object_foreach(rl, key, v) {
		char path[96];
		size_t k = 0;

		snprintf(path, sizeof path, "rlimits.%s", key);
		while (k < sizeof rlimit_names / sizeof rlimit_names[0] && strcmp(rlimit_names[k].name, key))
			k++;
		if (k == sizeof rlimit_names / sizeof rlimit_names[0])
			return cfg_fail(e, prefix, path, "unknown limit");
		if (!(json_is_integer(v) && json_integer_value(v) >= 0) &&
		    !(json_is_string(v) && !strcmp(json_string_value(v), "infinity")))
			return cfg_fail(e, prefix, path, "must be a number >= 0 or \"infinity\"");
		p->rlimits[p->n_rlimits].resource = rlimit_names[k].resource;
		p->rlimits[p->n_rlimits++].value = json_is_string(v) ? (unsigned long long)RLIM_INFINITY
		                                                     : (unsigned long long)json_integer_value(v);
	}
	return 0;
}

static int parse_pool(struct cfgerr *e, const json_t *obj, const char *base_dir,
                      const char *prefix, struct lv_pool_config *p)
{
	const char *name = NULL, *cwd = NULL;
	long long workers = 1;

	if (!json_is_object(obj))
		return cfg_fail(e, prefix, NULL, "must be an object");
	if (cfg_known_keys(e, obj, prefix, pool_keys) < 0)
		return -1;
	if (!json_object_get(obj, "name"))
		return cfg_fail(e, prefix, "name", "required");
	if (cfg_string(e, obj, prefix, "name", true, &name) < 0)
		return -1;
	if (!lv_pool_name_valid(name))
		return cfg_fail(e, prefix, "name", "must match [A-Za-z0-9_.-]{1,64}");
	snprintf(p->name, sizeof p->name, "%s", name);
	p->autostart = true;
	if (parse_program(e, obj, prefix, base_dir, p) < 0 ||
	    cfg_int(e, obj, prefix, "workers", 0, LV_POOL_WORKERS_MAX, &workers) < 0 ||
	    parse_restart(e, obj, prefix, p) < 0 ||
	    cfg_bool(e, obj, prefix, "autostart", &p->autostart) < 0 ||
	    parse_stop(e, obj, prefix, p) < 0 || parse_start_limit(e, obj, prefix, p) < 0 ||
	    parse_env(e, obj, prefix, p) < 0 ||
	    cfg_string(e, obj, prefix, "cwd", true, &cwd) < 0 || parse_ids(e, obj, prefix, p) < 0 ||
	    parse_health(e, obj, prefix, p) < 0 || parse_listen(e, obj, prefix, base_dir, p) < 0 ||
	    parse_after(e, obj, prefix, p) < 0 || parse_limits(e, obj, prefix, p) < 0 ||
	    lv_cgroup_limits_from_json(obj, prefix, &p->limits, e->buf, e->len) < 0)
		return -1;
	p->workers = (unsigned)workers;
	if (cwd && cfg_template(e, prefix, "cwd", cwd) < 0)
		return -1;
	if (cwd && !(p->cwd = cfg_resolve_template(base_dir, cwd)))
		return cfg_fail(e, prefix, "cwd", "out of memory");
	if (parse_env_files(e, obj, prefix, base_dir, p) < 0 ||
	    lv_python_from_json(obj, base_dir, prefix, p, e->buf, e->len) < 0)
		return -1;
	/* after parse_program and parse_health: which probes a pool may have depends on its kind
	 * and its output */
	return lv_probes_from_json(json_object_get(obj, "probes"), base_dir, prefix, p, e->buf,
	                           e->len);
}

int lv_pool_config_from_json(const json_t *obj, const char *base_dir, const char *prefix,
                             struct lv_pool_config *out, char *err, size_t errlen)
{
	struct cfgerr e = { err, errlen };

	memset(out, 0, sizeof *out);
	if (parse_pool(&e, obj, base_dir, prefix, out) < 0 || !(out->source = json_deep_copy(obj))) {
		lv_pool_config_clear(out);
		return -1;
	}
	return 0;
}

bool lv_pool_config_differs(const struct lv_pool_config *a, const struct lv_pool_config *b)
{
	json_t *x = json_copy(a->source), *y = json_copy(b->source);
	bool differs;

	json_object_del(x, "workers");
	json_object_del(y, "workers");
	differs = !json_equal(x, y);
	json_decref(x);
	json_decref(y);
	return differs;
}
