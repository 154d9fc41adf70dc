/* sockfile: the Unix socket files the daemon makes as root, maybe in a folder another user
 * can write (a pool user's): each is created with its final mode at once (umask around
 * bind), never chmod'ed or chown'ed through a path someone else could have swapped for a
 * link, and only the very file the daemon made is ever removed. */
#ifndef LV_SOCKFILE_H
#define LV_SOCKFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The file bind() made (device and inode), so that removing it later cannot remove
 * anything else put there meanwhile. Zero when unknown: then nothing is removed. */
struct lv_sockfile {
	dev_t dev;
	ino_t ino;
};

struct lv_sockfile_opts {
	mode_t mode;        /* the file's permissions, given at creation */
	gid_t group;        /* (gid_t)-1 for the daemon's; else control.group: the folder must be
	                     * the daemon user's own, not writable by group or others */
	int sock_flags;     /* more socket() flags (SOCK_NONBLOCK) */
	int backlog;
	bool probe_stale;   /* replace an existing socket file only when no live process listens
	                     * on it (the control socket); otherwise any socket file goes */
};

/* Binds and listens on path; returns the socket (close-on-exec), or -1 with err. Anything
 * at path that is not a socket (a link, a file) is refused, never followed or removed. */
int lv_sockfile_listen(const char *path, const struct lv_sockfile_opts *o,
                       struct lv_sockfile *made, char *err, size_t errlen);

/* Changes the mode of the socket file made at path; only in a folder nobody but the
 * daemon's user can write (elsewhere -1 with err: restart the daemon to apply it). */
int lv_sockfile_chmod(const char *path, const struct lv_sockfile *made, mode_t mode,
                      char *err, size_t errlen);

/* Removes path if it is still the file made (through the folder's descriptor). */
void lv_sockfile_remove(const char *path, const struct lv_sockfile *made);

/* Makes the control socket's folder when missing (one level, mode 0700); in the shared /tmp
 * fallback (/tmp/loopvisor-UID) checks that it is UID's own and private. -1 with err. */
int lv_sockfile_prepare_dir(const char *path, char *err, size_t errlen);

#endif
