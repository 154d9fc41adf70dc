/* envfile_read: opens and reads one env_file for a worker's start (see envfile.h). */
#include "config/envfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The whole file into a malloc'd buffer (*len bytes), or NULL with errno or *what set. */
static char *read_all(int fd, size_t *len, const char **what)
{
	struct stat st;
	char *text;
	size_t got = 0;

	if (fstat(fd, &st) < 0)
		return NULL;
	if (!S_ISREG(st.st_mode)) {
		*what = S_ISDIR(st.st_mode) ? "a folder, not a file"
		                            : "not a regular file (a FIFO, socket or device)";
		return NULL;
	}
	if (st.st_size > LV_ENVFILE_MAX_BYTES) {
		*what = "larger than 1 MiB";
		return NULL;
	}
	if (!(text = malloc((size_t)st.st_size + 1)))
		return NULL;
	for (;;) { /* it may grow while read: at most one byte past the limit tells */
		ssize_t r = read(fd, text + got, (size_t)st.st_size + 1 - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(text);
			return NULL;
		}
		if (r == 0 || (got += (size_t)r) > (size_t)st.st_size)
			break;
	}
	if (got > (size_t)st.st_size) {
		*what = "changed size while read";
		free(text);
		return NULL;
	}
	*len = got;
	return text;
}

int lv_envfile_read(const char *path, char ***vars, size_t *n, char *why, size_t whylen)
{
	bool optional = path[0] == '-';
	const char *file = path + optional, *what = NULL;
	char reason[256];
	char *text = NULL;
	size_t len = 0;
	int fd, rc;

	/* O_NONBLOCK: a FIFO put there must not hang the daemon's loop */
	fd = open(file, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && optional && errno == ENOENT)
		return 0;
	if (fd >= 0)
		text = read_all(fd, &len, &what);
	if (!text) {
		snprintf(why, whylen, "env_file %s: %s", file, what ? what : strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	rc = lv_envfile_parse(text, len, vars, n, reason, sizeof reason);
	free(text);
	if (rc < 0)
		snprintf(why, whylen, "env_file %s: %s", file, reason);
	return rc;
}
