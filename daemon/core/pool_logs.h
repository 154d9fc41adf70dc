/* pool_logs: the log file of each pool (see pool_logs.c). */
#ifndef LV_POOL_LOGS_H
#define LV_POOL_LOGS_H

#include <stddef.h>

#include "daemon/core/supervisor.h"

/* Opens the pool's log file if logs go to files; -1 with err. */
int pool_logs_open(struct supervisor *sup, struct pool *p, char *err, size_t errlen);
void pool_logs_close(struct pool *p);
/* Opens the pool's file again under the current logs settings (reload, SIGUSR1); when the
 * same file cannot be opened again the one in use stays. -1 with err. */
int pool_logs_reopen(struct supervisor *sup, struct pool *p, char *err, size_t errlen);
/* SIGUSR1: reopen every pool's file after an external rotation. */
void pool_logs_reopen_all(struct supervisor *sup);

#endif
