/* sockfile: binding Unix sockets as root without a single path operation that a planted
 * link could redirect: final mode through the umask, group and mode changes only in folders
 * the daemon alone writes, removal only of the file it made. */
#include "daemon/lib/sockfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/lib/safefile.h"
#include "ipc/sockpath.h"

/* Splits path into its folder and its last name; -1 if there is no name. */
static int split_path(const char *path, char *dir, size_t dirlen, const char **name)
{
	const char *slash = strrchr(path, '/');

	if (!slash) {
		snprintf(dir, dirlen, ".");
		*name = path;
	} else {
		size_t n = slash == path ? 1 : (size_t)(slash - path);

		if (n >= dirlen)
			return -1;
		memcpy(dir, path, n);
		dir[n] = '\0';
		*name = slash + 1;
	}
	return **name ? 0 : -1;
}

/* True when pid names a process that has not died (a zombie has). */
static bool process_alive(pid_t pid)
{
	char path[64], stat[256], *paren;
	FILE *f;
	size_t n;

	if (pid <= 0 || (kill(pid, 0) < 0 && errno == ESRCH))
		return false;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "re")))
		return true; /* no /proc: trust kill() */
	n = fread(stat, 1, sizeof stat - 1, f);
	fclose(f);
	stat[n] = '\0';
	paren = strrchr(stat, ')');
	return !(paren && paren[1] == ' ' && paren[2] == 'Z');
}

/* A socket that still accepts is not proof of life: a worker forked a moment before its
 * daemon was killed holds the listening socket until it closes its inherited fds or dies
 * with its parent. SO_PEERCRED names the process that called listen(); only if it lives is
 * the socket in use. */
static bool socket_in_use(const struct sockaddr_un *sun)
{
	struct ucred peer = { 0 };
	socklen_t peer_len = sizeof peer;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

	if (fd < 0)
		return false;
	rc = connect(fd, (const struct sockaddr *)sun, sizeof *sun);
	if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &peer_len) == 0 &&
	    !process_alive(peer.pid))
		rc = -1;
	close(fd);
	return rc == 0;
}

/* Removes a socket file left at name by an earlier run; anything else there is refused. */
static int clear_stale(int dfd, const char *name, const struct sockaddr_un *sun, bool probe,
                       char *err, size_t errlen)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s: exists and is not a socket%s", sun->sun_path,
		         S_ISLNK(st.st_mode) ? " (a symlink: not followed)" : "");
		return -1;
	}
	if (probe && socket_in_use(sun)) {
		snprintf(err, errlen, "%s: another daemon is listening there", sun->sun_path);
		return -1;
	}
	unlinkat(dfd, name, 0);
	return 0;
}

/* The folder's descriptor; for a group it must be the daemon user's own folder, not a
 * link, writable by nobody else: the group is then set by name where no one can swap it. */
static int open_folder(const char *path, const char *dir, bool private, char *err, size_t errlen)
{
	char why[512];
	int dfd;

	if (!private) {
		if ((dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
			snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return dfd;
	}
	if ((dfd = lv_private_dir_open(dir, why, sizeof why)) < 0)
		snprintf(err, errlen, "%s: cannot set the socket's group (control.group) here: %s",
		         path, why);
	return dfd;
}

static void record(int dfd, const char *name, struct lv_sockfile *made)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISSOCK(st.st_mode)) {
		made->dev = st.st_dev;
		made->ino = st.st_ino;
	}
}

static void remove_made(int dfd, const char *name, const struct lv_sockfile *made)
{
	struct stat st;

	if (made->ino && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_dev == made->dev && st.st_ino == made->ino)
		unlinkat(dfd, name, 0);
}

/* bind() with the umask set so that the file is born with mode: nobody ever changes it by
 * name afterwards. The daemon is single-threaded: the umask is back before anything else. */
static int bind_with_mode(int fd, const struct sockaddr_un *sun, mode_t mode)
{
	mode_t old = umask(~mode & 0777);
	int rc = bind(fd, (const struct sockaddr *)sun, sizeof *sun), saved = errno;

	umask(old);
	errno = saved;
	return rc;
}

static int bind_in(int dfd, const char *name, const struct sockaddr_un *sun,
                   const struct lv_sockfile_opts *o, struct lv_sockfile *made, char *err,
                   size_t errlen)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | o->sock_flags, 0);

	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (bind_with_mode(fd, sun, o->mode) < 0) {
		snprintf(err, errlen, "%s: %s", sun->sun_path, strerror(errno));
		close(fd);
		return -1;
	}
	record(dfd, name, made);
	/* no one can connect before listen(): the group comes first */
	if ((o->group != (gid_t)-1 && fchownat(dfd, name, (uid_t)-1, o->group, AT_SYMLINK_NOFOLLOW) < 0) ||
	    listen(fd, o->backlog) < 0) {
		snprintf(err, errlen, "%s: %s", sun->sun_path, strerror(errno));
		remove_made(dfd, name, made);
		close(fd);
		return -1;
	}
	return fd;
}

int lv_sockfile_listen(const char *path, const struct lv_sockfile_opts *o,
                       struct lv_sockfile *made, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct lv_sockfile ignored;
	char dir[PATH_MAX];
	const char *name;
	int dfd, fd = -1;

	if (!made)
		made = &ignored;
	memset(made, 0, sizeof *made);
	if (strlen(path) >= sizeof sun.sun_path) {
		snprintf(err, errlen, "%s: socket path too long (max %zu bytes)", path,
		         sizeof sun.sun_path - 1);
		return -1;
	}
	if (split_path(path, dir, sizeof dir, &name) < 0) {
		snprintf(err, errlen, "%s: not a socket path (no file name)", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((dfd = open_folder(path, dir, o->group != (gid_t)-1, err, errlen)) < 0)
		return -1;
	if (clear_stale(dfd, name, &sun, o->probe_stale, err, errlen) == 0)
		fd = bind_in(dfd, name, &sun, o, made, err, errlen);
	close(dfd);
	return fd;
}

int lv_sockfile_chmod(const char *path, const struct lv_sockfile *made, mode_t mode,
                      char *err, size_t errlen)
{
	char dir[PATH_MAX], why[512];
	const char *name;
	struct stat st;
	int dfd, rc = -1;

	if (split_path(path, dir, sizeof dir, &name) < 0)
		return snprintf(err, errlen, "%s: not a socket path", path), -1;
	if ((dfd = lv_private_dir_open(dir, why, sizeof why)) < 0) {
		snprintf(err, errlen, "%s: cannot change the socket's mode in place: %s; restart the "
		         "daemon to apply it", path, why);
		return -1;
	}
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISSOCK(st.st_mode) ||
	    st.st_dev != made->dev || st.st_ino != made->ino)
		snprintf(err, errlen, "%s: no longer the socket the daemon made", path);
	else if (fchmodat(dfd, name, mode, 0) < 0) /* a socket in a folder only we can write */
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	else
		rc = 0;
	close(dfd);
	return rc;
}

void lv_sockfile_remove(const char *path, const struct lv_sockfile *made)
{
	char dir[PATH_MAX];
	const char *name;
	int dfd;

	if (!made || !made->ino || split_path(path, dir, sizeof dir, &name) < 0 ||
	    (dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return;
	remove_made(dfd, name, made);
	close(dfd);
}

int lv_sockfile_prepare_dir(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	const char *name;

	if (split_path(path, dir, sizeof dir, &name) == 0 && strcmp(dir, ".") && strcmp(dir, "/"))
		mkdir(dir, 0700); /* one level; if it cannot be made, bind says why */
	return lv_sockpath_check(path, err, errlen);
}
