/* check: helpers the config validators share: key allow-lists, typed getters that write
 * "path: reason" messages, and path resolution against the config's folder. Internal. */
#ifndef LV_CONFIG_CHECK_H
#define LV_CONFIG_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

struct cfgerr {
	char *buf;
	size_t len;
};

/* Formats "prefix.key: message" (or "prefix: message" for key NULL); always returns -1. */
int cfg_fail(struct cfgerr *e, const char *prefix, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Rejects members of obj whose names are not in allowed (NULL-terminated). */
int cfg_known_keys(struct cfgerr *e, const json_t *obj, const char *prefix,
                   const char *const *allowed);

/* Reads an optional integer member into *out when present, checking [min, max]. */
int cfg_int(struct cfgerr *e, const json_t *obj, const char *prefix, const char *key,
            long long min, long long max, long long *out);
/* Optional string member: *out borrowed from obj, left as is when absent. */
int cfg_string(struct cfgerr *e, const json_t *obj, const char *prefix, const char *key,
               bool nonempty, const char **out);
int cfg_bool(struct cfgerr *e, const json_t *obj, const char *prefix, const char *key,
             bool *out);

/* A listen address, "tcp:1.2.3.4:80", "tcp:[::1]:80", "unix:PATH" (made absolute against
 * base_dir) or "fd:NAME", checked and copied (malloc'd); NULL if it is none of them. */
char *cfg_listen_spec(const char *spec, const char *base_dir);
/* The config's "http" object into cfg->http (config/http.c). */
struct lv_config;
int cfg_parse_http(struct cfgerr *e, const json_t *root, struct lv_config *cfg);

/* Absolute path: as is when it starts with '/', else base_dir/path. malloc'd. */
char *cfg_resolve(const char *base_dir, const char *path);

/* Same, for a path that is a template (template.h): the folder's own { are doubled. */
char *cfg_resolve_template(const char *base_dir, const char *path);

/* Checks text as a template (template.h): 0, or -1 with "prefix.key: reason". */
int cfg_template(struct cfgerr *e, const char *prefix, const char *key, const char *text);

/* An argv of templates from arr (a non-empty array the caller checked) into *out
 * (NULL-terminated, malloc'd; set even on failure, so the caller's clear frees it): items
 * are strings without NUL, the first non-empty, and a first item with a '/' resolves
 * against base_dir. Messages name "prefix.key[i]". The pool's "exec" and an exec probe's. */
int cfg_argv(struct cfgerr *e, const json_t *arr, const char *prefix, const char *key,
             const char *base_dir, char ***out);

#endif
