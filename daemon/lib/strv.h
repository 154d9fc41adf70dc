/* strv: NULL-terminated vectors of malloc'd strings (argv, env, job paths, "after"), the one
 * place that counts, copies and frees them. */
#ifndef LV_STRV_H
#define LV_STRV_H

#include <stddef.h>

/* Strings before the NULL; 0 for a NULL vector. */
size_t lv_strv_len(char *const *v);
/* A deep copy (of NULL: an empty vector), or NULL when out of memory. */
char **lv_strv_dup(char *const *v);
/* Frees every string and the vector; NULL is fine. */
void lv_strv_free(char **v);
/* The candidate (of a NULL-terminated list) a mistyped word most likely meant: at most 2
 * edits away (a swap of two neighbours is one), and fewer than the word's length; NULL if
 * none is. For "did you mean" hints. */
const char *lv_strv_closest(const char *word, const char *const *candidates);

#endif
