/* envfile: systemd EnvironmentFile= syntax, for a pool's "env_file". Read at each start of
 * a worker, so an edit takes effect on the next restart without a reload. */
#ifndef LV_CONFIG_ENVFILE_H
#define LV_CONFIG_ENVFILE_H

#include <stddef.h>

#define LV_ENVFILE_MAX_BYTES (1024 * 1024)
#define LV_ENVFILE_MAX_VARS  4096
#define LV_ENVFILE_KEY_MAX   255

/* Parses text (len bytes of UTF-8, NULs refused) and appends one malloc'd "KEY=VALUE" per
 * assignment to *vars (a NULL-terminated vector of *n entries, grown with realloc).
 * Lines: KEY=VALUE; blank lines and lines starting with # or ; are skipped; a value may be
 * 'single quoted' (literal), "double quoted" (\" \\ \` \$ and a backslash-newline are
 * escapes) or bare (a backslash escapes the next character, a backslash-newline continues
 * the line, trailing blanks are cut). Returns 0, or -1 with "line N: reason" in why. Pure. */
int lv_envfile_parse(const char *text, size_t len, char ***vars, size_t *n, char *why,
                     size_t whylen);

/* Reads path (a regular file of at most LV_ENVFILE_MAX_BYTES, opened without blocking on a
 * FIFO) and parses it as above. A leading '-' makes the file optional: a missing one adds
 * nothing. Returns 0, or -1 with "env_file PATH: reason" in why. */
int lv_envfile_read(const char *path, char ***vars, size_t *n, char *why, size_t whylen);

#endif
