/* sockpath: where the control socket lives when nobody says (shared by daemon and ctl).
 * Order after -s and the config file: $LOOPVISOR_SOCKET, $RUNTIME_DIRECTORY/control.sock,
 * /run/loopvisor/control.sock for root, else $XDG_RUNTIME_DIR/loopvisor/control.sock, else
 * /tmp/loopvisor-UID/control.sock, whose folder both sides check before using it. */
#ifndef LV_SOCKPATH_H
#define LV_SOCKPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Writes the default control socket path into buf; returns 0, or -1 if none fits. */
int lv_default_socket_path(char *buf, size_t len);

/* True when path is in a per-user folder of the shared /tmp ("/tmp/loopvisor-UID/NAME"):
 * fills dir (that folder) and uid (the one in its name). */
bool lv_sockpath_in_tmp_fallback(const char *path, char *dir, size_t dirlen, uid_t *uid);

/* A per-user folder in a place everyone can write may be anyone's: it must be a folder
 * (not a link: lstat), owned by uid, with no access for group or others (0700). 0, or -1
 * with errno and err saying why. */
int lv_sockdir_check(const char *dir, uid_t uid, char *err, size_t errlen);

/* For a path in the /tmp fallback, checks its folder with lv_sockdir_check (a missing
 * folder passes: nothing can be reached through it); 0 for any other path. */
int lv_sockpath_check(const char *path, char *err, size_t errlen);

#endif
