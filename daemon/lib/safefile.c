/* safefile: folders only the daemon's user can write, and regular files in them opened
 * without following links or waiting on FIFOs: what a worker's user plants is refused. */
#include "daemon/lib/safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Why open(dir, O_DIRECTORY | O_NOFOLLOW) said ENOTDIR: a link, or not a folder. */
static void explain_not_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	snprintf(err, errlen, "%s: refusing a folder that is %s", dir,
	         lstat(dir, &st) == 0 && S_ISLNK(st.st_mode) ? "a symlink" : "not a folder");
}

int lv_private_dir_open(const char *dir, char *err, size_t errlen)
{
	struct stat st;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), saved;

	if (fd < 0) {
		saved = errno;
		if (saved == ENOTDIR || saved == ELOOP)
			explain_not_dir(dir, err, errlen);
		else
			snprintf(err, errlen, "%s: %s", dir, strerror(saved));
		errno = saved;
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
	} else if (st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s: refusing a folder owned by uid %u (the daemon runs as uid %u): "
		         "its owner could plant links or FIFOs there", dir, (unsigned)st.st_uid,
		         (unsigned)geteuid());
		errno = EPERM;
	} else if (st.st_mode & 022) {
		snprintf(err, errlen, "%s: refusing a folder that is group- or world-writable", dir);
		errno = EPERM;
	} else {
		return fd;
	}
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int lv_dir_is_private(const char *dir, char *err, size_t errlen)
{
	int fd = lv_private_dir_open(dir, err, errlen);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

int lv_regular_openat(int dfd, const char *dir, const char *name, int flags, mode_t mode,
                      char *err, size_t errlen)
{
	struct stat st;
	int fd = openat(dfd, name, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, mode), saved;

	if (fd < 0) {
		saved = errno;
		if (saved == ELOOP)
			snprintf(err, errlen, "%s/%s: a symlink: refusing to follow it", dir, name);
		else if (saved == ENXIO)
			snprintf(err, errlen, "%s/%s: not a regular file (a FIFO or a socket): refusing it",
			         dir, name);
		else
			snprintf(err, errlen, "%s/%s: %s", dir, name, strerror(saved));
		errno = saved;
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		saved = errno;
		snprintf(err, errlen, "%s/%s: %s", dir, name, strerror(saved));
	} else if (!S_ISREG(st.st_mode)) {
		saved = EINVAL;
		snprintf(err, errlen, "%s/%s: not a regular file (a FIFO, socket or device): refusing it",
		         dir, name);
	} else {
		return fd;
	}
	close(fd);
	errno = saved;
	return -1;
}
