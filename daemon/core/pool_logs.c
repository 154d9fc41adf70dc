/* pool_logs: each pool's log file under logs.dir (proc/output_file.c writes it): opened
 * with the pool, reopened on reload and SIGUSR1, closed with it. */
#include "daemon/core/pool_logs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/lib/log.h"
#include "daemon/proc/output.h"
#include "daemon/proc/output_file.h"

int pool_logs_open(struct supervisor *sup, struct pool *p, char *err, size_t errlen)
{
	const struct lv_config *cfg = sup->cfg;
	char why[LV_ERRBUF - 64]; /* room for what err says around it */

	if (!cfg->logs_dir || p->log)
		return 0;
	if (output_prepare_dir(cfg->logs_dir, err, errlen) < 0)
		return -1;
	if (!(p->log = calloc(1, sizeof *p->log)) ||
	    output_file_open(p->log, cfg->logs_dir, p->cfg.name, (off_t)cfg->logs_max_bytes,
	                 cfg->logs_keep, why, sizeof why) < 0) {
		snprintf(err, errlen, "logs: %s", p->log ? why : "out of memory");
		pool_logs_close(p);
		return -1;
	}
	return 0;
}

void pool_logs_close(struct pool *p)
{
	if (p->log) {
		output_file_close(p->log);
		free(p->log);
		p->log = NULL;
	}
}

int pool_logs_reopen(struct supervisor *sup, struct pool *p, char *err, size_t errlen)
{
	const struct lv_config *cfg = sup->cfg;
	char why[LV_ERRBUF - 64]; /* room for what err says around it */

	if (p->log && cfg->logs_dir && !strcmp(p->log->dir, cfg->logs_dir)) {
		p->log->max_bytes = (off_t)cfg->logs_max_bytes;
		p->log->keep = cfg->logs_keep;
		if (output_file_reopen(p->log, why, sizeof why) < 0) {
			snprintf(err, errlen, "logs: cannot reopen: %s; writing on into the file in use", why);
			return -1;
		}
		return 0;
	}
	pool_logs_close(p);
	return pool_logs_open(sup, p, err, errlen);
}

void pool_logs_reopen_all(struct supervisor *sup)
{
	char err[LV_ERRBUF];
	unsigned failed = 0;

	for (size_t i = 0; i < sup->n_pools; i++)
		if (pool_logs_reopen(sup, sup->pools[i], err, sizeof err) < 0) {
			log_err("%s", err);
			failed++;
		}
	if (failed)
		log_warn("logs: %u log files could not be reopened", failed);
	else
		log_info("logs: reopened the log files");
}
