/* listen_helper: an exec worker for the tests that takes its listening sockets the
 * sd_listen_fds(3) way and answers every connection with "pid N fds M names NAMES\n". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

int main(void)
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(1, &names);

	if (n < 1) {
		fprintf(stderr, "listen_helper: no sockets passed (%d)\n", n);
		return 2;
	}
	for (;;) {
		int c = accept(SD_LISTEN_FDS_START, NULL, NULL);
		char line[256];
		int len;

		if (c < 0) {
			if (errno == EINTR)
				continue;
			return 3;
		}
		len = snprintf(line, sizeof line, "pid %d fds %d names %s\n", (int)getpid(), n,
		               names && names[0] ? names[0] : "?");
		if (write(c, line, (size_t)len) < 0) { /* the client left: nothing to do */ }
		close(c);
	}
}
