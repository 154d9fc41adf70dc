/* top: loopvisorctl top, the full-screen live view of the workers (ncurses), fed by the event
 * stream on a connection of its own and a status at most once a second. */
#ifndef LV_CTL_TOP_H
#define LV_CTL_TOP_H

#include "ctl/request.h"

struct lv_client;

/* Runs until q, SIGINT or SIGTERM (EXIT_OK) or until the daemon goes away (EXIT_CONNECT);
 * target: a POOL or POOL:INDEX, or NULL for every worker. c is connected already; the caller
 * made sure stdin and stdout are a terminal. */
int ctl_top(struct lv_client *c, const struct opts *o, const char *target);

#endif
