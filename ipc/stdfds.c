/* stdfds: /dev/null onto closed standard descriptors. A program started with them closed
 * would otherwise hand them to its first open(): libevent's signal pipe on fd 2, say. */
#include "ipc/stdfds.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int lv_std_fds_open(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		int null;

		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		/* the lower ones are open by now: open() returns fd itself; inherited on purpose */
		if ((null = open("/dev/null", O_RDWR)) < 0)
			return -errno;
		if (null != fd) {
			int rc = dup2(null, fd);

			close(null);
			if (rc < 0)
				return -errno;
		}
	}
	return 0;
}
