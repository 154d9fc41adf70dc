/* output_file: append-only pool log files with size rotation. Lines gather in a buffer that
 * the capture side flushes after every read from a worker, so a flood of short lines costs
 * one write(2) per read, not per line, and a reader never sees half a line. */
#include "daemon/proc/output_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "config/config.h"
#include "daemon/lib/log.h"
#include "daemon/lib/safefile.h"

#define LOGFILE_BATCH 65536

/* Opens NAME.log in the folder, checking again that only the daemon's user can write the
 * folder and that the name is a regular file (not a link, FIFO or device planted there).
 * Returns the descriptor, or -1 with err; the file in use, if any, is left alone. */
static int open_file(const struct output_file *lf, char *err, size_t errlen)
{
	int dfd = lv_private_dir_open(lf->dir, err, errlen), fd;

	if (dfd < 0)
		return -1;
	fd = lv_regular_openat(dfd, lf->dir, lf->name, O_WRONLY | O_CREAT | O_APPEND, 0640, err,
	                       errlen);
	close(dfd);
	return fd;
}

/* Makes fd the file written from now on. */
static void use_fd(struct output_file *lf, int fd)
{
	struct stat st;

	if (lf->fd >= 0)
		close(lf->fd);
	lf->fd = fd;
	lf->size = fstat(fd, &st) == 0 ? st.st_size : 0;
}

int output_file_open(struct output_file *lf, const char *dir, const char *name, off_t max_bytes,
                 unsigned keep, char *err, size_t errlen)
{
	int fd;

	memset(lf, 0, sizeof *lf);
	lf->fd = -1;
	lf->max_bytes = max_bytes;
	lf->keep = keep;
	if (asprintf(&lf->name, "%s.log", name) < 0)
		lf->name = NULL;
	if (asprintf(&lf->path, "%s/%s.log", dir, name) < 0)
		lf->path = NULL;
	if (!(lf->dir = strdup(dir)) || !lf->name || !lf->path) { /* output_file_close frees */
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if ((fd = open_file(lf, err, errlen)) < 0)
		return -1;
	use_fd(lf, fd);
	return 0;
}

int output_file_flush(struct output_file *lf)
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

/* pool.log.(keep-1) -> pool.log.keep, ..., pool.log -> pool.log.1; the oldest goes. Every
 * name is taken relative to the folder's descriptor, checked private first. */
static int shift_files(const struct output_file *lf, char *err, size_t errlen)
{
	char from[4200], to[4200];
	int dfd = lv_private_dir_open(lf->dir, err, errlen);

	if (dfd < 0)
		return -1;
	if (lf->keep == 0) {
		unlinkat(dfd, lf->name, 0);
	} else {
		for (unsigned i = lf->keep; i > 1; i--) {
			snprintf(from, sizeof from, "%s.%u", lf->name, i - 1);
			snprintf(to, sizeof to, "%s.%u", lf->name, i);
			renameat(dfd, from, dfd, to);
		}
		snprintf(to, sizeof to, "%s.1", lf->name);
		renameat(dfd, lf->name, dfd, to);
	}
	close(dfd);
	return 0;
}

/* A rotation that cannot be done is logged and tried again after max_bytes more: lines go
 * on into the file in use rather than nowhere. */
static int rotate(struct output_file *lf)
{
	char err[LV_ERRBUF];
	int fd;

	if (output_file_flush(lf) < 0)
		return -1;
	if (shift_files(lf, err, sizeof err) < 0 || (fd = open_file(lf, err, sizeof err)) < 0) {
		log_err("logs: cannot rotate: %s; writing on into the file in use", err);
		lf->size = 0;
		return 0;
	}
	use_fd(lf, fd);
	return 0;
}

int output_file_write(struct output_file *lf, const char *head, size_t head_len, const char *text,
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
	if (lf->n_pending + line > LOGFILE_BATCH && output_file_flush(lf) < 0)
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

int output_file_reopen(struct output_file *lf, char *err, size_t errlen)
{
	int fd;

	output_file_flush(lf); /* into the file they were meant for (moved by logrotate by now) */
	if ((fd = open_file(lf, err, errlen)) < 0)
		return -1;
	use_fd(lf, fd);
	return 0;
}

void output_file_close(struct output_file *lf)
{
	output_file_flush(lf);
	free(lf->pending);
	lf->pending = NULL;
	if (lf->fd >= 0)
		close(lf->fd);
	free(lf->dir);
	free(lf->name);
	free(lf->path);
	lf->dir = lf->name = lf->path = NULL;
	lf->fd = -1;
}
