/* admit: the check `add` makes for callers who are not root. The daemon runs as root; an
 * admin of control.access is not root, and must not become it (or anyone else) through it. */
#include "daemon/control/admit.h"

#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define UNPRIVILEGED_PORT_START_FILE "/proc/sys/net/ipv4/ip_unprivileged_port_start"

/* Is gid the caller's: its primary group, or one of its user's groups? */
static bool caller_has_group(uid_t uid, gid_t caller_gid, gid_t gid)
{
	struct passwd *pw;
	gid_t groups[256];
	int n = 256;

	if (gid == caller_gid)
		return true;
	if (!(pw = getpwuid(uid)) || getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
		return false;
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/* The identity the pool's processes get (spawn.c): its user and group, else the daemon's. */
static int check_identity(const struct lv_pool_config *cfg, uid_t uid, gid_t gid, char *err,
                          size_t errlen)
{
	uid_t run_uid = cfg->user ? cfg->uid : geteuid();
	gid_t run_gid = cfg->user || cfg->group ? cfg->gid : getegid();

	if (run_uid != uid) {
		snprintf(err, errlen, "params.pool.user: a caller who is not root may only add pools "
		         "that run as itself (uid %u)%s; this one would run as uid %u",
		         (unsigned)uid, cfg->user ? "" : ": set \"user\"", (unsigned)run_uid);
		return -1;
	}
	if (!caller_has_group(uid, gid, run_gid)) {
		snprintf(err, errlen, "params.pool.group: a caller who is not root may only use its "
		         "own groups; gid %u is not one of them", (unsigned)run_gid);
		return -1;
	}
	return 0;
}

static unsigned long unprivileged_port_start(void)
{
	FILE *f = fopen(UNPRIVILEGED_PORT_START_FILE, "re");
	unsigned long start = 1024;

	if (f) {
		if (fscanf(f, "%lu", &start) != 1)
			start = 1024;
		fclose(f);
	}
	return start;
}

/* The daemon binds listen addresses as root before any worker runs: a unix: path would be
 * unlinked and created by root wherever the caller says, an fd: socket is one systemd gave
 * the daemon, and a port below ip_unprivileged_port_start is root's to bind. */
static int check_listen(const struct lv_pool_config *cfg, char *err, size_t errlen)
{
	for (size_t i = 0; i < cfg->n_listen; i++) {
		const char *spec = cfg->listen[i], *colon = strrchr(spec, ':');
		unsigned long port = colon ? strtoul(colon + 1, NULL, 10) : 0;

		if (strncmp(spec, "tcp:", 4) != 0) {
			snprintf(err, errlen, "params.pool.listen[%zu]: a caller who is not root may only "
			         "listen on tcp: addresses", i);
			return -1;
		}
		if (port != 0 && port < unprivileged_port_start()) {
			snprintf(err, errlen, "params.pool.listen[%zu]: port %s is privileged: only root "
			         "may have it bound", i, colon + 1);
			return -1;
		}
	}
	return 0;
}

/* setrlimit runs as root in the worker, before it drops to its user: no more than the
 * daemon's own hard limits, which every worker inherits anyway. */
static int check_limits(const struct lv_pool_config *cfg, char *err, size_t errlen)
{
	for (unsigned i = 0; i < cfg->n_rlimits; i++) {
		struct rlimit have;

		if (getrlimit(cfg->rlimits[i].resource, &have) == 0 &&
		    (have.rlim_max == RLIM_INFINITY || cfg->rlimits[i].value <= have.rlim_max))
			continue;
		snprintf(err, errlen, "params.pool.rlimits: a caller who is not root may not raise a "
		         "limit above the daemon's own hard limit");
		return -1;
	}
	return 0;
}

int admit_pool(const struct lv_pool_config *cfg, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	if (uid == 0)
		return 0;
	if (check_identity(cfg, uid, gid, err, errlen) < 0 || check_listen(cfg, err, errlen) < 0 ||
	    check_limits(cfg, err, errlen) < 0)
		return -1;
	if (cfg->env_files[0]) { /* read by the daemon, as root: it would read root's files */
		snprintf(err, errlen, "params.pool.env_file: the daemon reads it as root; a caller "
		         "who is not root passes its variables in \"env\"");
		return -1;
	}
	if (cfg->output == LV_OUTPUT_INHERIT) {
		snprintf(err, errlen, "params.pool.output: \"inherit\" writes into the daemon's own "
		         "stderr; a caller who is not root may use \"capture\" or \"null\"");
		return -1;
	}
	return 0;
}
