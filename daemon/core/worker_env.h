/* worker_env: what one start of a worker is made of that differs per worker and per start:
 * its pool's argv, env values and cwd with the placeholders expanded for it, and the pool's
 * env_file files read now, so that an edit takes effect on the next restart. */
#ifndef LV_WORKER_ENV_H
#define LV_WORKER_ENV_H

#include <stddef.h>

#include "config/config.h"

struct worker_env {
	char **argv;                 /* exec: expanded, or NULL */
	char **env;                  /* env_file entries, then "env" (which wins), expanded */
	char *cwd;                   /* expanded, or NULL */
};

/* Builds e for worker index of pool cfg named name (freeing what it held): 0, or -1 with a
 * start error such as "env_file /etc/app.env: No such file or directory" in err. */
int worker_env_build(struct worker_env *e, const struct lv_pool_config *cfg, unsigned index,
                     const char *name, char *err, size_t errlen);
void worker_env_free(struct worker_env *e);

#endif
