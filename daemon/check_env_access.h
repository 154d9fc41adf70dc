/* check_env_access: may a given user (uid, gid, supplementary groups) reach a path, by the
 * mode bits of the path and of every folder on the way, as the kernel would judge it
 * (ACLs and capabilities other than root's aside). For --check only. */
#ifndef LV_CHECK_ENV_ACCESS_H
#define LV_CHECK_ENV_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "config/config.h"

#define LV_WHO_GROUPS_MAX 256

struct who {
	char name[64];               /* for messages: the user's name, or "uid N" */
	uid_t uid;
	gid_t gid;
	gid_t groups[LV_WHO_GROUPS_MAX];
	int n_groups;
};

/* The credentials a worker of pool p will have (see worker_main.c). */
void who_of_pool(const struct lv_pool_config *p, struct who *w);

enum reach { REACH_EXEC, REACH_READ, REACH_DIR };

/* 0 when w can exec / read the regular file, or enter the folder, at path; else -1 with
 * the reason in why ("No such file or directory", "folder /srv is not searchable by
 * user app", ...). */
int who_can_reach(const struct who *w, const char *path, enum reach what, char *why,
                  size_t whylen);

#endif
