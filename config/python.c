/* python (config): a pool's "python" object, the app that an embedded CPython runs in each
 * of its workers (docs/python.md). Such a pool is a module pool of the shipped "python" job,
 * which reads what it runs from LOOPVISOR_PYTHON_* variables added to the pool's env. */
#include "config/config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/check.h"

static const char *const python_keys[] = { "app", "asgi", "path", "venv", NULL };

/* "package.module:callable": dotted identifiers, a colon, an identifier (or an attribute
 * path, for asgi: "pkg.mod:api.app"). */
static bool app_valid(const char *app)
{
	const char *colon = strchr(app, ':');
	bool start = true;

	if (!colon || colon == app || !colon[1])
		return false;
	for (const char *c = app; *c; c++) {
		if (c == colon || *c == '.') {
			if (start)
				return false; /* an empty part */
			start = true;
			continue;
		}
		if (!(isalpha((unsigned char)*c) || *c == '_' || (!start && isdigit((unsigned char)*c))))
			return false;
		start = false;
	}
	return !start;
}

static int add_env(struct cfgerr *e, const char *prefix, struct lv_pool_config *p,
                   const char *name, const char *value)
{
	size_t n = 0;
	char **env;

	while (p->env && p->env[n])
		n++;
	if (!(env = realloc(p->env, (n + 2) * sizeof *env)))
		return cfg_fail(e, prefix, "python", "out of memory");
	p->env = env;
	env[n + 1] = NULL;
	if (asprintf(&env[n], "%s=%s", name, value) < 0) {
		env[n] = NULL;
		return cfg_fail(e, prefix, "python", "out of memory");
	}
	return 0;
}

/* The folders of "path", resolved against the config's folder, ':'-joined. */
static int join_path(struct cfgerr *e, const json_t *path, const char *prefix,
                     const char *base_dir, char **out)
{
	json_t *v;
	size_t i, len = 1;

	*out = NULL;
	if (!json_is_array(path))
		return cfg_fail(e, prefix, "path", "must be an array of folders");
	json_array_foreach(path, i, v) {
		const char *s = json_string_value(v);
		char *dir, *grown;

		if (!s || !*s || strchr(s, ':') || strlen(s) != json_string_length(v)) {
			free(*out);
			return cfg_fail(e, prefix, "path", "each entry must be a folder, without ':'");
		}
		if (!(dir = cfg_resolve(base_dir, s)) || !(grown = realloc(*out, len + strlen(dir) + 1))) {
			free(dir);
			free(*out);
			return cfg_fail(e, prefix, "path", "out of memory");
		}
		if (len == 1)
			grown[0] = '\0';
		else
			strcat(grown, ":");
		strcat(grown, dir);
		len += strlen(dir) + 1;
		*out = grown;
		free(dir);
	}
	return 0;
}

int lv_python_from_json(const json_t *pool, const char *base_dir, const char *prefix,
                        struct lv_pool_config *p, char *err, size_t errlen)
{
	struct cfgerr e = { err, errlen };
	const json_t *py = json_object_get(pool, "python");
	const char *app = NULL, *asgi = NULL, *venv = NULL;
	char *path = NULL, *dir, stop[32], pp[160];
	int rc;

	if (!py)
		return 0;
	if (!json_is_object(py))
		return cfg_fail(&e, prefix, "python", "must be an object");
	snprintf(pp, sizeof pp, "%s.python", prefix);
	if (cfg_known_keys(&e, py, pp, python_keys) < 0 || cfg_string(&e, py, pp, "app", true, &app) < 0 ||
	    cfg_string(&e, py, pp, "asgi", true, &asgi) < 0 ||
	    cfg_string(&e, py, pp, "venv", true, &venv) < 0)
		return -1;
	if (!app == !asgi)
		return cfg_fail(&e, pp, NULL, "needs exactly one of \"app\" or \"asgi\"");
	if (app && !app_valid(app))
		return cfg_fail(&e, pp, "app", "must be \"package.module:callable\"");
	if (asgi && !app_valid(asgi))
		return cfg_fail(&e, pp, "asgi", "must be \"package.module:app\"");
	if (json_object_get(py, "path") && join_path(&e, json_object_get(py, "path"), pp, base_dir, &path) < 0)
		return -1;
	snprintf(stop, sizeof stop, "%u", p->stop_timeout_ms);
	p->python_ready_late |= asgi != NULL; /* ready once uvicorn listens */
	rc = add_env(&e, prefix, p, app ? "LOOPVISOR_PYTHON_APP" : "LOOPVISOR_PYTHON_ASGI",
	             app ? app : asgi) < 0 ||
	     (path && add_env(&e, prefix, p, "LOOPVISOR_PYTHON_PATH", path) < 0) ||
	     add_env(&e, prefix, p, "LOOPVISOR_STOP_TIMEOUT_MS", stop) < 0 ||
	     (p->python_ready_late && add_env(&e, prefix, p, "LOOPVISOR_PYTHON_READY", "notify") < 0);
	free(path);
	if (!rc && venv) {
		if (!(dir = cfg_resolve(base_dir, venv)))
			return cfg_fail(&e, pp, "venv", "out of memory");
		rc = add_env(&e, prefix, p, "LOOPVISOR_PYTHON_VENV", dir) < 0;
		free(dir);
	}
	return rc ? -1 : 0;
}
