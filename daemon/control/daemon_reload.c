/* daemon_reload: the reload use case (see daemon_reload.h). The control socket moves with
 * the pools: it is rebound before anything is applied, and back if the reload fails. */
#include "daemon/control/daemon_reload.h"

#include <limits.h>
#include <stdio.h>

#include "daemon/control/control.h"
#include "daemon/core/paths.h"
#include "daemon/core/state_file.h"
#include "daemon/core/supervisor.h"
#include "daemon/lib/log.h"
#include "daemon/out/systemd.h"

struct rebind {
	struct supervisor *sup;
	char old_path[PATH_MAX];
};

static int rebind_control(void *ctx, const struct lv_config *next, char *err, size_t errlen)
{
	struct rebind *rb = ctx;
	struct supervisor *sup = rb->sup;
	char path[PATH_MAX];

	snprintf(rb->old_path, sizeof rb->old_path, "%s", control_path(sup->control));
	if (paths_control_socket(sup->socket_arg, next, path, sizeof path) < 0) {
		snprintf(err, errlen, "control socket path too long");
		return -1;
	}
	return control_rebind(sup->control, path, next->control_mode, err, errlen);
}

static void rebind_back(void *ctx)
{
	struct rebind *rb = ctx;
	char err[LV_ERRBUF];

	control_rebind(rb->sup->control, rb->old_path, rb->sup->cfg->control_mode, err, sizeof err);
}

int daemon_reload(struct supervisor *sup, json_t **result, char *err, size_t errlen)
{
	struct rebind rb = { .sup = sup };
	struct reload_hook hook = { .prepare = rebind_control, .undo = rebind_back, .ctx = &rb };
	int rc;

	systemd_reloading(sup);
	if ((rc = reload_apply(sup, &hook, result, err, errlen)) < 0)
		log_err("reload failed, nothing changed: %s", err); /* by SIGHUP, only the log says */
	systemd_reloaded(sup); /* a refused reload leaves the service as ready as it was */
	if (rc == 0)
		state_save(sup);
	return rc;
}
