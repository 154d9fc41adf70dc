/* cgbox: a cgroup v2 folder of the test's own for each test daemon, so that the folders a
 * daemon makes (docs/cgroups.md) sit inside it and go with it even when the daemon was
 * killed; on a host whose cgroup v2 root also holds the machine's folders, a test touches
 * nothing else. Without a writable cgroup v2 folder there is no box, and the daemon decides
 * for itself (it then runs with "cgroup": "off: ..."). */
#ifndef LV_TEST_CGBOX_H
#define LV_TEST_CGBOX_H

#include <stdbool.h>
#include <stddef.h>

/* Makes lvtest-PID-N in the test's own cgroup v2 folder: its absolute path, or false. */
bool cgbox_make(char *path, size_t len);
/* Boxes made from now on are named like a systemd service's folder ("lvtest-PID-N.service"):
 * a daemon started in one with INVOCATION_ID set takes it for its unit's and moves into its
 * "supervisor" leaf, so that the box can hand controllers down to the workers. */
void cgbox_as_unit(bool yes);
/* Whether a box can have controller ("memory") for what it holds. */
bool cgbox_offers(const char *path, const char *controller);
/* In a child before exec: moves it into the box (nothing when path is empty). */
void cgbox_enter(const char *path);
/* Kills whatever is left in the box, waits for the kernel to say it is empty, and removes
 * it with every folder below; path is emptied. */
void cgbox_remove(char *path);
/* Whether a process is gone: no such pid, or a zombie nobody reaped yet. */
bool cgbox_pid_dead(int pid);

#endif
