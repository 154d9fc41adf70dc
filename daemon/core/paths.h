/* paths: where the daemon finds what the config names by path: the folders it loads job
 * modules from and its control socket. */
#ifndef LV_PATHS_H
#define LV_PATHS_H

#include <stddef.h>

#include "config/config.h"

/* Module folders, as a strv (lib/strv.h): the config's job_path, then next to the binary,
 * then the install. NULL when out of memory. */
char **paths_job_dirs(const struct lv_config *cfg);
/* The control socket: -s (socket_arg, or NULL), else the config's, else the default.
 * 0, or -1 if it does not fit in buf. */
int paths_control_socket(const char *socket_arg, const struct lv_config *cfg, char *buf,
                         size_t len);

#endif
