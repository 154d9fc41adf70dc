/* notify_dir: the private folder of the notify sockets. Every step is made so that no other
 * user can redirect it: the folder is made with a random name in a base no one else can
 * write (or a sticky one), sockets are bound under a umask (never chmod'ed by name), and
 * given to their uid with fchownat(AT_SYMLINK_NOFOLLOW) inside the folder only root writes. */
#include "daemon/proc/notify_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/lib/log.h"

void notify_dir_init(struct notify_dir *d)
{
	memset(d, 0, sizeof *d);
	d->fd = d->base_fd = -1;
}

/* A base is safe if only root or the daemon's user can add, rename or remove entries in it
 * (sticky counts: others cannot touch our entry), and, for a root daemon, if every worker
 * user can search it. */
static int open_base(const char *path)
{
	struct stat st;
	int fd;

	if (!path || path[0] != '/' || strlen(path) + 1 + 32 + 11 >= LV_NOTIFY_PATH_MAX)
		return -ENAMETOOLONG;
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || (st.st_uid != 0 && st.st_uid != geteuid()) ||
	    ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) ||
	    (geteuid() == 0 && !(st.st_mode & S_IXOTH))) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

/* mkdtemp in base_fd: a fresh folder only we have made, 0700 until it is 0711. */
static int make_folder(struct notify_dir *d, const char *base)
{
	for (int tries = 0; tries < 32; tries++) {
		unsigned char r[6];
		int fd;

		if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
			return -EIO;
		snprintf(d->name, sizeof d->name, "loopvisor-notify.%02x%02x%02x%02x%02x%02x", r[0],
		         r[1], r[2], r[3], r[4], r[5]);
		if (mkdirat(d->base_fd, d->name, 0700) < 0) {
			if (errno == EEXIST)
				continue;
			return -errno;
		}
		/* the folder is searchable by the worker users; only root lists or writes it */
		if ((fd = openat(d->base_fd, d->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
		    fchmod(fd, 0711) < 0) {
			int err = -errno;

			if (fd >= 0)
				close(fd);
			unlinkat(d->base_fd, d->name, AT_REMOVEDIR);
			return err;
		}
		d->fd = fd;
		snprintf(d->path, sizeof d->path, "%s%s%s", base,
		         base[strlen(base) - 1] == '/' ? "" : "/", d->name);
		return 0;
	}
	return -EEXIST;
}

/* $RUNTIME_DIRECTORY may list several folders: the first. */
static const char *first_of(const char *list, char *buf, size_t len)
{
	if (!list || !*list)
		return NULL;
	snprintf(buf, len, "%.*s", (int)strcspn(list, ":"), list);
	return buf;
}

int notify_dir_open(struct notify_dir *d)
{
	char runtime[LV_NOTIFY_PATH_MAX];
	const char *bases[] = {
		first_of(getenv("RUNTIME_DIRECTORY"), runtime, sizeof runtime),
		geteuid() == 0 ? "/run" : getenv("XDG_RUNTIME_DIR"),
		"/tmp",
	};
	int rc = -ENOENT;

	if (d->fd >= 0)
		return 0;
	for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
		if (!bases[i])
			continue;
		if ((d->base_fd = open_base(bases[i])) < 0) {
			rc = d->base_fd;
			continue;
		}
		if ((rc = make_folder(d, bases[i])) == 0)
			return 0;
		close(d->base_fd);
		d->base_fd = -1;
	}
	return rc;
}

static void socket_name(uid_t uid, char *buf, size_t len)
{
	snprintf(buf, len, "%u", (unsigned)uid);
}

int notify_dir_bind(struct notify_dir *d, uid_t uid, char *path, size_t len)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char name[16];
	int fd, rc, one = 1;
	mode_t old;

	socket_name(uid, name, sizeof name);
	if ((size_t)snprintf(sun.sun_path, sizeof sun.sun_path, "%s/%s", d->path, name) >=
	    sizeof sun.sun_path || strlen(sun.sun_path) >= len)
		return -ENAMETOOLONG;
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	old = umask(0177); /* born 0600: no moment at which others could connect */
	rc = bind(fd, (struct sockaddr *)&sun, sizeof sun);
	umask(old);
	if (rc < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	/* in a folder only root writes, the name is still the socket just bound */
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0 ||
	    (uid != geteuid() && fchownat(d->fd, name, uid, (gid_t)-1, AT_SYMLINK_NOFOLLOW) < 0)) {
		rc = -errno;
		unlinkat(d->fd, name, 0);
		close(fd);
		return rc;
	}
	snprintf(path, len, "%s", sun.sun_path);
	return fd;
}

void notify_dir_unlink(struct notify_dir *d, uid_t uid)
{
	char name[16];

	if (d->fd < 0)
		return;
	socket_name(uid, name, sizeof name);
	unlinkat(d->fd, name, 0);
}

void notify_dir_close(struct notify_dir *d)
{
	if (d->fd >= 0) {
		close(d->fd);
		if (unlinkat(d->base_fd, d->name, AT_REMOVEDIR) < 0)
			log_warn("cannot remove %s: %s", d->path, strerror(errno));
	}
	if (d->base_fd >= 0)
		close(d->base_fd);
	notify_dir_init(d);
}
