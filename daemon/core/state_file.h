/* state_file: the desired state an operator set at runtime (stopped and started workers,
 * scale, added and removed pools), saved atomically to state_dir after every change and
 * laid over the config file at the next start while the file still says what it said then. */
#ifndef LV_STATE_H
#define LV_STATE_H

#include "daemon/core/supervisor.h"

/* The state file's path for this config, or NULL when there is no state_dir. */
char *state_file_path(const struct lv_config *cfg);

/* Reads the state file and applies it to the freshly built pools (before they start):
 * scales, adds and removes pools, and marks which workers run. A missing file is fine; a
 * corrupt one is a warning and the config's defaults. Returns true if it applied one. */
bool state_restore(struct supervisor *sup);

/* Writes the current desired state (temp file, fsync, rename, fsync of the folder). */
int state_save(struct supervisor *sup);

#endif
