/* check_env: what loopvisord --check looks at beyond the file's own validity: whether
 * what a worker needs at its start is there for the user it runs as. Never part of the
 * normal config parse: a program may well appear after the daemon started. */
#ifndef LV_CHECK_ENV_H
#define LV_CHECK_ENV_H

#include <stdio.h>

#include "config/config.h"

/* Checks every pool of cfg (each templated value for its first and last worker) and
 * writes one "loopvisord: KEY.PATH: reason" line per problem to out; returns how many. */
unsigned check_env(const struct lv_config *cfg, FILE *out);

#endif
