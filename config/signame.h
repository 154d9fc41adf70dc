/* signame: converts between signal numbers and their names ("TERM", "SIGTERM", "15").
 * Pure lookups shared by the config parser, the control methods and status output. */
#ifndef LV_SIGNAME_H
#define LV_SIGNAME_H

/* Returns the signal number for "HUP", "SIGHUP" or "1" (case-insensitive names), or -1. */
int lv_signal_from_name(const char *name);

/* Returns "HUP" for SIGHUP, or NULL for a number that is no known signal. */
const char *lv_signal_name(int sig);

#endif
