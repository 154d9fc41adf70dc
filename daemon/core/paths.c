/* paths: the module folders and the control socket path a config (and the command line)
 * give the daemon; used at start and again by each reload. */
#include "daemon/core/paths.h"

#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/lib/strv.h"
#include "ipc/sockpath.h"

/* "lib/loopvisor/jobs" next to the folder of the running binary, in rel; false if unknown. */
static bool jobs_next_to_binary(char *rel, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);

	if (n <= 0)
		return false;
	exe[n] = '\0';
	snprintf(rel, len, "%s/../lib/loopvisor/jobs", dirname(exe));
	return true;
}

char **paths_job_dirs(const struct lv_config *cfg)
{
	size_t n = lv_strv_len(cfg->job_path), k = 0;
	char rel[PATH_MAX + 32], **out = calloc(n + 3, sizeof *out);

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!(out[k++] = strdup(cfg->job_path[i])))
			goto oom;
	if (jobs_next_to_binary(rel, sizeof rel) && !(out[k++] = strdup(rel)))
		goto oom;
	if (!(out[k++] = strdup(LV_INSTALL_JOBDIR)))
		goto oom;
	return out;
oom:
	lv_strv_free(out);
	return NULL;
}

int paths_control_socket(const char *socket_arg, const struct lv_config *cfg, char *buf,
                         size_t len)
{
	const char *p = socket_arg ? socket_arg : cfg->control_socket;

	if (!p)
		return lv_default_socket_path(buf, len);
	return snprintf(buf, len, "%s", p) < (int)len ? 0 : -1;
}
