/* daemon_reload: the one reload of the daemon, by the reload method and by SIGHUP alike:
 * systemd hears RELOADING=1 then READY=1, the pools and the control socket take the new
 * config (or nothing changes), and the state file is saved. */
#ifndef LV_DAEMON_RELOAD_H
#define LV_DAEMON_RELOAD_H

#include <stddef.h>

#include <jansson.h>

struct supervisor;

/* 0 with *result (see reload_apply), or -1 with err: nothing changed. */
int daemon_reload(struct supervisor *sup, json_t **result, char *err, size_t errlen);

#endif
