/* notify_dir: the daemon's private folder of notify sockets, one per worker uid, whose
 * permission bits decide who reaches them (an abstract socket has none). */
#ifndef LV_NOTIFY_DIR_H
#define LV_NOTIFY_DIR_H

#include <stddef.h>
#include <sys/types.h>

/* sun_path's size: the folder's path, '/', a uid and the NUL must fit */
#define LV_NOTIFY_PATH_MAX 108

struct notify_dir {
	int fd;                          /* the folder, or -1 until the first socket */
	int base_fd;                     /* the folder it is in */
	char name[40];                   /* its name there */
	char path[LV_NOTIFY_PATH_MAX];   /* BASE/NAME */
};

void notify_dir_init(struct notify_dir *d);
/* Makes the folder (root's or the daemon's, mode 0711, random name) in the first base that
 * is safe: $RUNTIME_DIRECTORY, /run (root) or $XDG_RUNTIME_DIR, /tmp. 0 or -errno. */
int notify_dir_open(struct notify_dir *d);
/* Binds FOLDER/UID (mode 0600, owned by uid) and returns the non-blocking datagram
 * socket with SO_PASSCRED, its path in path; -errno on failure. */
int notify_dir_bind(struct notify_dir *d, uid_t uid, char *path, size_t len);
void notify_dir_unlink(struct notify_dir *d, uid_t uid);
/* Removes the folder (its sockets are unlinked first) and closes it. */
void notify_dir_close(struct notify_dir *d);

#endif
