/* client: blocking JSON-RPC over the control socket, for loopvisorctl and the tests.
 * Requests carry increasing integer ids; notifications and stray replies are skipped. */
#include "ctl/client.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_LINE (64u * 1024 * 1024)

struct lv_client {
	int fd;
	long next_id;
	char *buf;
	size_t len, cap;
};

/* A daemon that stopped accepting leaves connect() waiting for room in the listen backlog:
 * Linux bounds that wait with SO_SNDTIMEO, so a hung daemon fails fast instead. */
#define CONNECT_TIMEOUT_S 5

struct lv_client *lv_client_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = CONNECT_TIMEOUT_S }, none = { 0 };
	struct lv_client *c;
	int fd, rc, saved;

	if (strlen(path) >= sizeof sun.sun_path) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return NULL;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	do
		rc = connect(fd, (struct sockaddr *)&sun, sizeof sun);
	while (rc < 0 && errno == EINTR);
	if (rc < 0 && errno == EAGAIN)
		errno = ETIMEDOUT;
	if (rc < 0 || setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none) < 0 ||
	    !(c = calloc(1, sizeof *c))) {
		saved = errno;
		close(fd);
		errno = saved;
		return NULL;
	}
	c->fd = fd;
	c->next_id = 1;
	return c;
}

void lv_client_close(struct lv_client *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c->buf);
	free(c);
}

int lv_client_fd(const struct lv_client *c)
{
	return c->fd;
}

int lv_client_send_line(struct lv_client *c, const char *line, size_t len)
{
	struct iovec iov[2] = { { (void *)line, len }, { (void *)"\n", 1 } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
	size_t left = len + 1;

	while (left > 0) {
		ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		left -= (size_t)n;
		/* advance the iovecs past what was sent */
		while (n > 0 && msg.msg_iovlen > 0) {
			if ((size_t)n >= msg.msg_iov[0].iov_len) {
				n -= (ssize_t)msg.msg_iov[0].iov_len;
				msg.msg_iov++;
				msg.msg_iovlen--;
			} else {
				msg.msg_iov[0].iov_base = (char *)msg.msg_iov[0].iov_base + n;
				msg.msg_iov[0].iov_len -= (size_t)n;
				n = 0;
			}
		}
	}
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads more bytes into the buffer; 0 on data, -1 with errno on EOF/timeout/error. */
static int fill(struct lv_client *c, long long deadline)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	ssize_t n;
	int wait = -1, rc;

	if (c->cap - c->len < 65536) {
		size_t cap = c->cap ? c->cap * 2 : 65536;
		char *grown;

		if (cap > MAX_LINE + 65536) {
			errno = EPROTO;
			return -1;
		}
		if (!(grown = realloc(c->buf, cap)))
			return -1;
		c->buf = grown;
		c->cap = cap;
	}
	do {
		if (deadline >= 0 && (wait = (int)(deadline - now_ms())) < 0)
			wait = 0;
		rc = poll(&pfd, 1, wait);
	} while (rc < 0 && errno == EINTR);
	if (rc == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	if (rc < 0)
		return -1;
	do
		n = read(c->fd, c->buf + c->len, c->cap - c->len);
	while (n < 0 && errno == EINTR);
	if (n == 0) {
		errno = ECONNRESET;
		return -1;
	}
	if (n < 0)
		return -1;
	c->len += (size_t)n;
	return 0;
}

/* Reads one line (without its newline) until deadline (ms on CLOCK_MONOTONIC, -1: none);
 * *len gets its length, which lets a NUL byte inside reach the JSON parser as an error. */
static char *read_line_until(struct lv_client *c, long long deadline, size_t *len)
{
	size_t scanned = 0;

	for (;;) {
		char *nl = c->buf ? memchr(c->buf + scanned, '\n', c->len - scanned) : NULL;

		if (nl) {
			char *line;

			*len = (size_t)(nl - c->buf);
			if (!(line = malloc(*len + 1)))
				return NULL;
			memcpy(line, c->buf, *len);
			line[*len] = '\0';
			memmove(c->buf, nl + 1, c->len - *len - 1);
			c->len -= *len + 1;
			return line;
		}
		scanned = c->len;
		if (c->len > MAX_LINE) {
			errno = EPROTO;
			return NULL;
		}
		if (fill(c, deadline) < 0)
			return NULL;
	}
}

static long long deadline_of(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

char *lv_client_read_line(struct lv_client *c, int timeout_ms)
{
	size_t len;

	return read_line_until(c, deadline_of(timeout_ms), &len);
}

/* Our reply: the same id, or an error with "id": null (the daemon could not read our
 * request's id; replies come in request order, so it answers the oldest outstanding). */
static bool is_reply_to(const json_t *resp, long id)
{
	const json_t *rid = json_object_get(resp, "id");

	if (json_is_integer(rid))
		return json_integer_value(rid) == id;
	return json_is_null(rid) && json_object_get(resp, "error") &&
	       !json_object_get(resp, "method");
}

int lv_client_send(struct lv_client *c, const char *method, json_t *params, long *id)
{
	json_t *req = json_pack("{s:s, s:s, s:I}", "jsonrpc", "2.0", "method", method ? method : "",
	                        "id", (json_int_t)c->next_id);
	char *text;
	int rc;

	if (!req) {
		json_decref(params);
		errno = ENOMEM;
		return -1;
	}
	*id = c->next_id++;
	if (params)
		json_object_set_new(req, "params", params);
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!text) {
		errno = ENOMEM;
		return -1;
	}
	rc = lv_client_send_line(c, text, strlen(text));
	free(text);
	/* a daemon that refuses the connection (no role, too many) says why, then closes:
	 * that line may still be there to read */
	return rc < 0 && errno != EPIPE && errno != ECONNRESET ? -1 : 0;
}

int lv_client_receive(struct lv_client *c, long id, int timeout_ms, json_t **result,
                      json_t **error)
{
	long long deadline = deadline_of(timeout_ms);

	*result = *error = NULL;
	for (;;) {
		size_t len;
		char *line = read_line_until(c, deadline, &len);
		json_t *resp;

		if (!line)
			return -1;
		resp = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
		free(line);
		if (!json_is_object(resp)) {
			json_decref(resp);
			errno = EPROTO;
			return -1;
		}
		if (is_reply_to(resp, id)) {
			*result = json_incref(json_object_get(resp, "result"));
			*error = json_incref(json_object_get(resp, "error"));
			json_decref(resp);
			if (!*result == !*error || (*error && !json_is_object(*error))) {
				json_decref(*result);
				json_decref(*error);
				*result = *error = NULL;
				errno = EPROTO;
				return -1;
			}
			return 0;
		}
		json_decref(resp); /* a notification, or a reply to someone else's request */
	}
}

int lv_client_call(struct lv_client *c, const char *method, json_t *params, int timeout_ms,
                   json_t **result, json_t **error)
{
	long id;

	*result = *error = NULL;
	if (lv_client_send(c, method, params, &id) < 0)
		return -1;
	return lv_client_receive(c, id, timeout_ms, result, error);
}
