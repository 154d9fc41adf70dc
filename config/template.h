/* template: per-worker placeholders in exec arguments, env values and cwd. Pure code.
 *   {index}    the worker's index in its pool (0, 1, ...)
 *   {index+N}  index plus N, N decimal 0..1000000: {index+8000} gives 8000, 8001, ...
 *   {pool}     the pool's name
 *   {name}     the worker's name, POOL:INDEX
 *   {{ and }}  a literal { and }, as in Python's and Rust's format strings; a lone } is
 *              literal too
 * Anything else after a { is an error, so a typo never reaches a worker. */
#ifndef LV_CONFIG_TEMPLATE_H
#define LV_CONFIG_TEMPLATE_H

#include <stddef.h>

#define LV_TEMPLATE_OFFSET_MAX 1000000

struct lv_template_vars {
	const char *pool;
	const char *name;            /* "POOL:INDEX" */
	unsigned index;
};

/* Expands in for vars into out (outlen bytes, always NUL-terminated when outlen > 0; out
 * may be NULL with outlen 0 to check or measure). Returns the expanded length, which may be
 * larger than outlen - 1 as with snprintf, or -1 with the reason in why. */
long lv_template_expand(const char *in, const struct lv_template_vars *vars, char *out,
                        size_t outlen, char *why, size_t whylen);

/* The same into a malloc'd string; NULL with why on a bad template or no memory. */
char *lv_template_dup(const char *in, const struct lv_template_vars *vars, char *why,
                      size_t whylen);

/* A copy of text in which every { and } is doubled, so it expands to itself. malloc'd. */
char *lv_template_escape(const char *text);

#endif
