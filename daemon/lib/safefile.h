/* safefile: the files the daemon writes as root (logs, state) live in folders only its own
 * user can write, checked on an open descriptor; files there are opened without following
 * a link or blocking on a FIFO, and must be regular files. */
#ifndef LV_SAFEFILE_H
#define LV_SAFEFILE_H

#include <stddef.h>
#include <sys/types.h>

/* Opens dir (O_DIRECTORY | O_NOFOLLOW) and checks, on the descriptor, that it is owned by
 * the daemon's user (euid) and not writable by group or others. Returns the descriptor, or
 * -1 with err saying why. */
int lv_private_dir_open(const char *dir, char *err, size_t errlen);

/* The same check, descriptor closed: 0 or -1 with err. */
int lv_dir_is_private(const char *dir, char *err, size_t errlen);

/* openat(dfd, name, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, mode) that must give a
 * regular file: the descriptor, or -1 with errno and err ("DIR/NAME: not a regular file").
 * A FIFO or a device is refused without waiting on it, a link is not followed. */
int lv_regular_openat(int dfd, const char *dir, const char *name, int flags, mode_t mode,
                      char *err, size_t errlen);

#endif
