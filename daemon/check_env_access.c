/* check_env_access: path permissions for another user, from mode bits (see the header). */
#include "daemon/check_env_access.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void who_of_pool(const struct lv_pool_config *p, struct who *w)
{
	struct passwd *pw;

	memset(w, 0, sizeof *w);
	if (p->user) { /* initgroups(user, gid), setgid(gid), setuid(uid) */
		w->uid = p->uid;
		w->gid = p->gid;
		w->n_groups = LV_WHO_GROUPS_MAX;
		if (getgrouplist(p->user, p->gid, w->groups, &w->n_groups) < 0)
			w->n_groups = LV_WHO_GROUPS_MAX; /* the first ones, which it filled */
	} else if (p->group) { /* setgroups(0), setgid(gid): the daemon's uid */
		w->uid = geteuid();
		w->gid = p->gid;
	} else { /* the daemon's own credentials */
		int n = getgroups(LV_WHO_GROUPS_MAX, w->groups);

		w->uid = geteuid();
		w->gid = getegid();
		w->n_groups = n < 0 ? 0 : n;
	}
	if ((pw = getpwuid(w->uid)))
		snprintf(w->name, sizeof w->name, "user %s", pw->pw_name);
	else
		snprintf(w->name, sizeof w->name, "uid %u", (unsigned)w->uid);
}

static bool in_groups(const struct who *w, gid_t gid)
{
	if (gid == w->gid)
		return true;
	for (int i = 0; i < w->n_groups; i++)
		if (w->groups[i] == gid)
			return true;
	return false;
}

/* bit: 4 read, 1 execute/search. The kernel's order: owner, else group, else others;
 * root reads and searches anything, and executes what has any x bit. */
static bool may(const struct who *w, const struct stat *st, unsigned bit)
{
	if (w->uid == 0)
		return bit != 1 || S_ISDIR(st->st_mode) || (st->st_mode & 0111);
	if (st->st_uid == w->uid)
		return st->st_mode & (bit << 6);
	if (in_groups(w, st->st_gid))
		return st->st_mode & (bit << 3);
	return st->st_mode & bit;
}

int who_can_reach(const struct who *w, const char *path, enum reach what, char *why,
                  size_t whylen)
{
	char real[PATH_MAX], prefix[PATH_MAX];
	struct stat st;

	if (!realpath(path, real) || stat(real, &st) < 0) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* every folder on the way needs x: "/", "/srv", "/srv/app", ... */
	for (char *slash = real; (slash = strchr(slash, '/')); slash++) {
		struct stat dir;
		size_t len = slash == real ? 1 : (size_t)(slash - real);

		snprintf(prefix, sizeof prefix, "%.*s", (int)len, real);
		if (stat(prefix, &dir) < 0) {
			snprintf(why, whylen, "%s: %s", prefix, strerror(errno));
			return -1;
		}
		if (!may(w, &dir, 1)) {
			snprintf(why, whylen, "%s: folder %s is not searchable (x) by %s", path, prefix,
			         w->name);
			return -1;
		}
	}
	if (what == REACH_DIR && !S_ISDIR(st.st_mode)) {
		snprintf(why, whylen, "%s: not a folder", path);
		return -1;
	}
	if (what != REACH_DIR && !S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "%s: not a regular file", path);
		return -1;
	}
	if (!may(w, &st, what == REACH_READ ? 4 : 1)) {
		snprintf(why, whylen, "%s: not %s by %s", path,
		         what == REACH_EXEC ? "executable" : what == REACH_READ ? "readable"
		                                                         : "searchable (x)", w->name);
		return -1;
	}
	return 0;
}
