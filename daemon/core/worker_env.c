/* worker_env: per-worker expansion and env_file reading for a start (see worker_env.h). */
#include "daemon/core/worker_env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/envfile.h"
#include "config/template.h"
#include "daemon/lib/strv.h"

void worker_env_free(struct worker_env *e)
{
	lv_strv_free(e->argv);
	lv_strv_free(e->env);
	free(e->cwd);
	memset(e, 0, sizeof *e);
}

/* Expands each string of in into a new vector; "KEY=VALUE" entries expand after the '='. */
static char **expand_all(char *const *in, const struct lv_template_vars *v, bool entries,
                         char *err, size_t errlen)
{
	size_t n = lv_strv_len(in);
	char **out = calloc(n + 1, sizeof *out);

	if (!out) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		const char *eq = entries ? strchr(in[i], '=') : NULL;
		char *value = lv_template_dup(eq ? eq + 1 : in[i], v, err, errlen);

		if (value && !eq) {
			out[i] = value;
			continue;
		}
		if (value && asprintf(&out[i], "%.*s=%s", (int)(eq - in[i]), in[i], value) < 0) {
			out[i] = NULL;
			snprintf(err, errlen, "out of memory");
		}
		free(value);
		if (!out[i]) { /* err says why: a bad template, or no memory */
			lv_strv_free(out);
			return NULL;
		}
	}
	return out;
}

/* env_file entries in file order, then the pool's own env: later ones win in the worker. */
static int build_env(struct worker_env *e, const struct lv_pool_config *cfg,
                     const struct lv_template_vars *v, char *err, size_t errlen)
{
	char **vars = NULL, **own;
	size_t n = 0, k;

	for (char **f = cfg->env_files; f && *f; f++)
		if (lv_envfile_read(*f, &vars, &n, err, errlen) < 0) {
			lv_strv_free(vars);
			return -1;
		}
	if (!(own = expand_all(cfg->env, v, true, err, errlen))) {
		lv_strv_free(vars);
		return -1;
	}
	k = lv_strv_len(own);
	if (!(e->env = realloc(vars, (n + k + 1) * sizeof *vars))) {
		snprintf(err, errlen, "out of memory");
		lv_strv_free(vars);
		lv_strv_free(own);
		return -1;
	}
	memcpy(e->env + n, own, (k + 1) * sizeof *own);
	free(own); /* its strings moved */
	return 0;
}

int worker_env_build(struct worker_env *e, const struct lv_pool_config *cfg, unsigned index,
                     const char *name, char *err, size_t errlen)
{
	const struct lv_template_vars v = { .pool = cfg->name, .name = name, .index = index };

	worker_env_free(e);
	if ((cfg->argv && !(e->argv = expand_all(cfg->argv, &v, false, err, errlen))) ||
	    build_env(e, cfg, &v, err, errlen) < 0 ||
	    (cfg->cwd && !(e->cwd = lv_template_dup(cfg->cwd, &v, err, errlen)))) {
		worker_env_free(e);
		return -1;
	}
	return 0;
}
