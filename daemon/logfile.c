/* logfile: append-only pool log files with size rotation. Lines gather in a buffer that
 * the capture side flushes after every read from a worker, so a flood of short lines costs
 * one write(2) per read, not per line, and a reader never sees half a line. */
#include "daemon/logfile.h"
#include "daemon/supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define LOGFILE_BATCH 65536

static int open_fd(struct logfile *lf)
{
	struct stat st;

	lf->fd = open(lf->path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (lf->fd < 0)
		return -1;
	lf->size = fstat(lf->fd, &st) == 0 ? st.st_size : 0;
	return 0;
}

int lv_dir_is_private(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(dir, &st) < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode) || (st.st_mode & 022)) {
		snprintf(err, errlen, "%s: refusing a folder that is %s", dir,
		         S_ISDIR(st.st_mode) ? "group- or world-writable" : "not a folder (or a symlink)");
		return -1;
	}
	return 0;
}

int logfile_open(struct logfile *lf, const char *dir, const char *name, off_t max_bytes,
                 unsigned keep)
{
	memset(lf, 0, sizeof *lf);
	lf->fd = -1;
	lf->max_bytes = max_bytes;
	lf->keep = keep;
	if (asprintf(&lf->path, "%s/%s.log", dir, name) < 0) {
		lf->path = NULL;
		return -1;
	}
	return open_fd(lf);
}

int logfile_flush(struct logfile *lf)
{
	size_t done = 0;

	while (done < lf->n_pending) {
		ssize_t n = lf->fd < 0 ? -1 : write(lf->fd, lf->pending + done, lf->n_pending - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;
			lf->size -= (off_t)(lf->n_pending - done); /* those lines are lost */
			lf->n_pending = 0;
			errno = saved;
			return -1;
		}
		done += (size_t)n;
	}
	lf->n_pending = 0;
	return 0;
}

/* pool.log.(keep-1) -> pool.log.keep, ..., pool.log -> pool.log.1; the oldest goes. */
static int rotate(struct logfile *lf)
{
	char from[4200], to[4200];

	if (logfile_flush(lf) < 0)
		return -1;
	close(lf->fd);
	lf->fd = -1;
	if (lf->keep == 0) {
		unlink(lf->path);
	} else {
		for (unsigned i = lf->keep; i > 1; i--) {
			snprintf(from, sizeof from, "%s.%u", lf->path, i - 1);
			snprintf(to, sizeof to, "%s.%u", lf->path, i);
			rename(from, to);
		}
		snprintf(to, sizeof to, "%s.1", lf->path);
		rename(lf->path, to);
	}
	return open_fd(lf);
}

int logfile_write(struct logfile *lf, const char *head, size_t head_len, const char *text,
                  size_t len)
{
	size_t line = head_len + len + 1;

	if (lf->fd < 0)
		return -1;
	if (lf->max_bytes > 0 && lf->size > 0 && lf->size + (off_t)line > lf->max_bytes &&
	    rotate(lf) < 0)
		return -1;
	if (!lf->pending && !(lf->pending = malloc(LOGFILE_BATCH)))
		return -1;
	if (lf->n_pending + line > LOGFILE_BATCH && logfile_flush(lf) < 0)
		return -1;
	if (line > LOGFILE_BATCH) { /* a 64 KiB line with its head: straight through */
		struct iovec iov[3] = { { (void *)head, head_len }, { (void *)text, len },
		                        { (void *)"\n", 1 } };
		ssize_t n;

		do
			n = writev(lf->fd, iov, 3);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return -1;
		lf->size += n;
		return 0;
	}
	memcpy(lf->pending + lf->n_pending, head, head_len);
	memcpy(lf->pending + lf->n_pending + head_len, text, len);
	lf->pending[lf->n_pending + line - 1] = '\n';
	lf->n_pending += line;
	lf->size += (off_t)line;
	return 0;
}

int logfile_reopen(struct logfile *lf)
{
	logfile_flush(lf); /* into the file they were meant for (moved by logrotate by now) */
	if (lf->fd >= 0)
		close(lf->fd);
	return open_fd(lf);
}

void logfile_close(struct logfile *lf)
{
	logfile_flush(lf);
	free(lf->pending);
	lf->pending = NULL;
	if (lf->fd >= 0)
		close(lf->fd);
	free(lf->path);
	lf->path = NULL;
	lf->fd = -1;
}
