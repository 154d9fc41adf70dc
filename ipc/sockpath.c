/* sockpath: the default control socket path, from the environment and the user.
 * Kept in ipc/ because both loopvisord and loopvisorctl must agree on it. */
#include "ipc/sockpath.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TMP_FALLBACK "/tmp/loopvisor-"

static int fit(char *buf, size_t len, const char *a, const char *b)
{
	int n = snprintf(buf, len, "%s%s", a, b);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int lv_default_socket_path(char *buf, size_t len)
{
	const char *v;

	if ((v = getenv("LOOPVISOR_SOCKET")) != NULL && *v)
		return fit(buf, len, v, "");
	if ((v = getenv("RUNTIME_DIRECTORY")) != NULL && *v)
		return fit(buf, len, v, "/control.sock");
	if (geteuid() == 0)
		return fit(buf, len, "/run/loopvisor/control.sock", "");
	if ((v = getenv("XDG_RUNTIME_DIR")) != NULL && *v)
		return fit(buf, len, v, "/loopvisor/control.sock");
	/* no per-user runtime folder: a per-user one in /tmp (created 0700 by the daemon) */
	{
		int n = snprintf(buf, len, TMP_FALLBACK "%u/control.sock", (unsigned)geteuid());
		return n < 0 || (size_t)n >= len ? -1 : 0;
	}
}

bool lv_sockpath_in_tmp_fallback(const char *path, char *dir, size_t dirlen, uid_t *uid)
{
	const char *digits = path + strlen(TMP_FALLBACK), *p = digits;
	unsigned long v = 0;

	if (strncmp(path, TMP_FALLBACK, strlen(TMP_FALLBACK)) != 0)
		return false;
	for (; *p >= '0' && *p <= '9' && v <= 0xffffffffUL; p++)
		v = v * 10 + (unsigned long)(*p - '0');
	if (p == digits || *p != '/' || v > 0xfffffffeUL || strchr(p + 1, '/') ||
	    (size_t)(p - path) >= dirlen)
		return false;
	memcpy(dir, path, (size_t)(p - path));
	dir[p - path] = '\0';
	*uid = (uid_t)v;
	return true;
}

int lv_sockdir_check(const char *dir, uid_t uid, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(dir, &st) < 0) {
		int saved = errno;

		snprintf(err, errlen, "%s: %s", dir, strerror(saved));
		errno = saved;
		return -1;
	}
	if (S_ISLNK(st.st_mode) || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: refusing it: %s", dir,
		         S_ISLNK(st.st_mode) ? "a symlink, not a folder" : "not a folder");
		errno = ENOTDIR;
		return -1;
	}
	if (st.st_uid != uid) {
		snprintf(err, errlen, "%s: refusing it: owned by uid %u, not uid %u (another user made "
		         "it and could answer in the daemon's place)", dir, (unsigned)st.st_uid,
		         (unsigned)uid);
		errno = EPERM;
		return -1;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "%s: refusing it: mode %04o, not 0700 (others could replace the "
		         "socket in it)", dir, (unsigned)(st.st_mode & 07777));
		errno = EPERM;
		return -1;
	}
	return 0;
}

int lv_sockpath_check(const char *path, char *err, size_t errlen)
{
	char dir[64];
	uid_t uid;

	if (!lv_sockpath_in_tmp_fallback(path, dir, sizeof dir, &uid))
		return 0;
	if (lv_sockdir_check(dir, uid, err, errlen) < 0 && errno != ENOENT)
		return -1;
	return 0;
}
