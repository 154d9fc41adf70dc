/* systemd: loopvisord as a systemd service: READY=1 once the control socket accepts and
 * every autostart worker has settled, a rate-limited STATUS= line, WATCHDOG=1 from the
 * loop, RELOADING=1/READY=1 around reloads and STOPPING=1 while draining. Without
 * NOTIFY_SOCKET every call is a no-op. */
#ifndef LV_SERVICE_H
#define LV_SERVICE_H

#include "daemon/core/supervisor.h"

int systemd_start(struct supervisor *sup);   /* after the pools were started */
void systemd_worker_changed(struct supervisor *sup);
void systemd_reloading(struct supervisor *sup);
void systemd_reloaded(struct supervisor *sup);
void systemd_stopping(struct supervisor *sup);
void systemd_free(struct supervisor *sup);

#endif
