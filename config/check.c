/* check: the small validators behind every config key, so that each message names the
 * key path and the reason in the same words everywhere. */
#include "config/check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/template.h"
#include "daemon/lib/strv.h"

int cfg_fail(struct cfgerr *e, const char *prefix, const char *key, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (key)
		snprintf(e->buf, e->len, "%s%s%s: %s", prefix, *prefix ? "." : "", key, msg);
	else
		snprintf(e->buf, e->len, "%s: %s", *prefix ? prefix : "(root)", msg);
	return -1;
}

int cfg_known_keys(struct cfgerr *e, const json_t *obj, const char *prefix,
                   const char *const *allowed)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v) {
		const char *const *a = allowed;

		while (*a && strcmp(*a, key) != 0)
			a++;
		if (!*a) {
			const char *meant = lv_strv_closest(key, allowed);

			return meant ? cfg_fail(e, prefix, key, "unknown key; did you mean \"%s\"?", meant)
			             : cfg_fail(e, prefix, key, "unknown key");
		}
	}
	return 0;
}

int cfg_int(struct cfgerr *e, const json_t *obj, const char *prefix, const char *key,
            long long min, long long max, long long *out)
{
	json_t *v = json_object_get(obj, key);

	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return cfg_fail(e, prefix, key, "must be an integer between %lld and %lld", min, max);
	*out = json_integer_value(v);
	return 0;
}

int cfg_string(struct cfgerr *e, const json_t *obj, const char *prefix, const char *key,
               bool nonempty, const char **out)
{
	json_t *v = json_object_get(obj, key);

	if (!v)
		return 0;
	if (!json_is_string(v) || (nonempty && json_string_length(v) == 0))
		return cfg_fail(e, prefix, key, nonempty ? "must be a non-empty string" : "must be a string");
	if (strlen(json_string_value(v)) != json_string_length(v))
		return cfg_fail(e, prefix, key, "must not contain NUL");
	*out = json_string_value(v);
	return 0;
}

int cfg_bool(struct cfgerr *e, const json_t *obj, const char *prefix, const char *key,
             bool *out)
{
	json_t *v = json_object_get(obj, key);

	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return cfg_fail(e, prefix, key, "must be true or false");
	*out = json_is_true(v);
	return 0;
}

char *cfg_resolve(const char *base_dir, const char *path)
{
	char *out;

	if (path[0] == '/' || !base_dir)
		return strdup(path);
	if (asprintf(&out, "%s/%s", base_dir, path) < 0)
		return NULL;
	return out;
}

char *cfg_resolve_template(const char *base_dir, const char *path)
{
	char *dir, *out;

	if (path[0] == '/' || !base_dir)
		return strdup(path);
	if (!(dir = lv_template_escape(base_dir)))
		return NULL;
	out = cfg_resolve(dir, path);
	free(dir);
	return out;
}

int cfg_template(struct cfgerr *e, const char *prefix, const char *key, const char *text)
{
	const struct lv_template_vars probe = { .pool = "", .name = "", .index = 0 };
	char why[256];

	if (lv_template_expand(text, &probe, NULL, 0, why, sizeof why) < 0)
		return cfg_fail(e, prefix, key, "%s", why);
	return 0;
}

int cfg_argv(struct cfgerr *e, const json_t *arr, const char *prefix, const char *key,
             const char *base_dir, char ***out)
{
	json_t *v;
	size_t i;

	if (!(*out = calloc(json_array_size(arr) + 1, sizeof **out)))
		return cfg_fail(e, prefix, key, "out of memory");
	json_array_foreach(arr, i, v) {
		char item[48];

		snprintf(item, sizeof item, "%s[%zu]", key, i);
		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
			return cfg_fail(e, prefix, item, "must be a string");
		if (i == 0 && json_string_length(v) == 0)
			return cfg_fail(e, prefix, item, "must not be empty");
		if (cfg_template(e, prefix, item, json_string_value(v)) < 0)
			return -1;
		/* a program with a '/' is found from the config's folder, a bare name in PATH */
		(*out)[i] = i == 0 && strchr(json_string_value(v), '/')
		            ? cfg_resolve_template(base_dir, json_string_value(v))
		            : strdup(json_string_value(v));
		if (!(*out)[i])
			return cfg_fail(e, prefix, item, "out of memory");
	}
	return 0;
}
