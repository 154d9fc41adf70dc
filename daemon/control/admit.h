/* admit: what a caller who is not root may have the root daemon run for it: a pool that
 * runs as the caller, with nothing that only root's privileges could give it. */
#ifndef LV_ADMIT_H
#define LV_ADMIT_H

#include <stddef.h>
#include <sys/types.h>

#include "config/config.h"

/* 0 if the caller (uid, gid as SO_PEERCRED saw them) may add pool cfg; -1 with err naming
 * the field ("params.pool.user: ...") if not. Root may add anything. */
int admit_pool(const struct lv_pool_config *cfg, uid_t uid, gid_t gid, char *err, size_t errlen);

#endif
