/* sockpath: where the control socket lives when nobody says (shared by daemon and ctl).
 * Order after -s and the config file: $LOOPVISOR_SOCKET, $RUNTIME_DIRECTORY/control.sock,
 * /run/loopvisor/control.sock for root, else $XDG_RUNTIME_DIR/loopvisor/control.sock, else
 * /tmp/loopvisor-UID/control.sock. */
#ifndef LV_SOCKPATH_H
#define LV_SOCKPATH_H

#include <stddef.h>

/* Writes the default control socket path into buf; returns 0, or -1 if none fits. */
int lv_default_socket_path(char *buf, size_t len);

#endif
