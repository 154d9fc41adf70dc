/* sockpath: the default control socket path, from the environment and the user.
 * Kept in ipc/ because both loopvisord and loopvisorctl must agree on it. */
#include "ipc/sockpath.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int fit(char *buf, size_t len, const char *a, const char *b)
{
	int n = snprintf(buf, len, "%s%s", a, b);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int lv_default_socket_path(char *buf, size_t len)
{
	const char *v;

	if ((v = getenv("LOOPVISOR_SOCKET")) != NULL && *v)
		return fit(buf, len, v, "");
	if ((v = getenv("RUNTIME_DIRECTORY")) != NULL && *v)
		return fit(buf, len, v, "/control.sock");
	if (geteuid() == 0)
		return fit(buf, len, "/run/loopvisor/control.sock", "");
	if ((v = getenv("XDG_RUNTIME_DIR")) != NULL && *v)
		return fit(buf, len, v, "/loopvisor/control.sock");
	/* no per-user runtime folder: a per-user one in /tmp (created 0700 by the daemon) */
	{
		int n = snprintf(buf, len, "/tmp/loopvisor-%u/control.sock", (unsigned)geteuid());
		return n < 0 || (size_t)n >= len ? -1 : 0;
	}
}
