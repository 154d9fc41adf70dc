/* probe_net: an http or tcp probe attempt (see probe_net.h), on plain non-blocking sockets.
 *
 * The http client is ours, not libevent's: a kept connection has one persistent read event
 * for its whole life, so an attempt on it is a send and a recv, with no change to the epoll
 * set (libevent's client re-armed read and write events five times per request, which was
 * most of the daemon's CPU at 1,000 probes a second). The answer is read by
 * ipc/http_response.c, fuzzed on its own. An attempt on a kept connection that the server
 * closed before answering a byte is made once more on a new connection, as browsers do for
 * idempotent requests: a keep-alive timeout on the server's side is not a failed probe.
 *
 * The whole attempt, connect and answer, has one timer: a server that trickles its answer
 * fails at the timeout all the same. A verdict is handed on from the loop, never from inside
 * a callback of the socket's events: what the verdict leads to (a stop, closing the kept
 * connection) may free them. */
#include "daemon/proc/probe_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipc/http_response.h"

#define READ_CHUNK 16384

struct probe_net {
	const struct lv_probe_config *cfg;
	const regex_t *body_re;
	probe_done_fn done;
	void *arg;
	struct event_base *base;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	struct event *timer;
	struct event *verdict_ev;           /* hands the verdict on from the loop */
	struct event *wev;                  /* the connect's end, or room for the request's rest */
	int fd;                             /* the socket (http: keep's) */
	bool connected;
	struct probe_keep *keep;            /* http: keep->pn == this while the request is out */
	bool reused;                        /* http: on a connection an earlier attempt used */
	char req[2400];                     /* http: the request, req_off bytes of it sent */
	size_t req_len, req_off;
	struct lv_http_response answer;     /* http */
	char *body;                         /* http with a body regex: its first bytes */
	char why[160];
	bool ok;
};

void probe_keep_close(struct probe_keep *keep)
{
	if (keep->pn && keep->pn->wev) /* the socket's events go before the socket */
		event_del(keep->pn->wev);
	if (keep->ev) {
		int fd = (int)event_get_fd(keep->ev);

		event_free(keep->ev);
		close(fd);
	}
	keep->ev = NULL;
	keep->pn = NULL;
}

void probe_net_cancel(struct probe_net *pn)
{
	if (!pn)
		return;
	if (pn->keep && pn->keep->pn == pn) /* its request is out: the connection goes with it */
		probe_keep_close(pn->keep);
	if (pn->wev)
		event_free(pn->wev);
	if (!pn->keep && pn->fd >= 0)
		close(pn->fd);
	if (pn->timer)
		event_free(pn->timer);
	if (pn->verdict_ev)
		event_free(pn->verdict_ev);
	free(pn->body);
	free(pn);
}

static void on_verdict(evutil_socket_t fd, short what, void *arg)
{
	struct probe_net *pn = arg;
	probe_done_fn done = pn->done;
	void *done_arg = pn->arg;
	char why[sizeof pn->why];
	bool ok = pn->ok;

	(void)fd;
	(void)what;
	snprintf(why, sizeof why, "%s", pn->why);
	probe_net_cancel(pn);
	done(done_arg, ok, why);
}

/* Says the verdict now and hands it on from the loop. An http connection is by then either
 * closed or idle again (keep->pn no longer this attempt). */
static void verdict(struct probe_net *pn, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void verdict(struct probe_net *pn, bool ok, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pn->why, sizeof pn->why, fmt, ap);
	va_end(ap);
	pn->ok = ok;
	event_del(pn->timer);
	if (pn->wev)
		event_del(pn->wev);
	event_active(pn->verdict_ev, 0, 0);
}

/* A failed http attempt: its connection is not kept. */
static void http_failed(struct probe_net *pn, const char *fmt, const char *detail)
	__attribute__((format(printf, 2, 0)));
static void http_failed(struct probe_net *pn, const char *fmt, const char *detail)
{
	probe_keep_close(pn->keep);
	verdict(pn, false, fmt, detail);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct probe_net *pn = arg;

	(void)fd;
	(void)what;
	if (pn->keep)
		probe_keep_close(pn->keep);
	verdict(pn, false, "timed out after %u ms", pn->cfg->timeout_ms);
}

static int addr_of(struct probe_net *pn, const char *host, unsigned port)
{
	memset(&pn->addr, 0, sizeof pn->addr);
	if (strchr(host, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&pn->addr;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		pn->addrlen = sizeof *s6;
		return inet_pton(AF_INET6, host, &s6->sin6_addr) == 1 ? 0 : -1;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)&pn->addr;

	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	pn->addrlen = sizeof *s4;
	return inet_pton(AF_INET, host, &s4->sin_addr) == 1 ? 0 : -1;
}

static void on_writable(evutil_socket_t fd, short what, void *arg);
static void on_keep_read(evutil_socket_t fd, short what, void *arg);

/* A non-blocking connect to pn->addr, its end awaited by pn->wev. 0, or -1 with errno (a
 * refusal the kernel knew at once included). */
static int connect_start(struct probe_net *pn)
{
	int fd = socket(pn->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int err;

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&pn->addr, pn->addrlen) < 0 && errno != EINPROGRESS) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	if (pn->wev)
		event_free(pn->wev);
	if (!(pn->wev = event_new(pn->base, fd, EV_WRITE, on_writable, pn)) ||
	    event_add(pn->wev, NULL) < 0) {
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	pn->fd = fd;
	pn->connected = false;
	return 0;
}

/* The http connection anew: a socket that the kept read event watches from its connect on. */
static int http_connect(struct probe_net *pn)
{
	struct probe_keep *keep = pn->keep;

	probe_keep_close(keep);
	pn->reused = false;
	pn->req_off = 0;
	lv_http_response_init(&pn->answer, pn->body, LV_PROBE_BODY_MAX);
	if (connect_start(pn) < 0)
		return -1;
	if (!(keep->ev = event_new(pn->base, pn->fd, EV_READ | EV_PERSIST, on_keep_read, keep)) ||
	    event_add(keep->ev, NULL) < 0) {
		if (keep->ev)
			event_free(keep->ev);
		keep->ev = NULL;
		close(pn->fd);
		errno = ENOMEM;
		return -1;
	}
	keep->pn = pn;
	return 0;
}

/* Sends what is left of the request; the rest waits for room (pn->wev). */
static void send_request(struct probe_net *pn)
{
	while (pn->req_off < pn->req_len) {
		ssize_t n = send(pn->fd, pn->req + pn->req_off, pn->req_len - pn->req_off,
		                 MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (event_add(pn->wev, NULL) < 0)
				http_failed(pn, "cannot wait to send: %s", strerror(ENOMEM));
			return;
		}
		if (n < 0) {
			int err = errno;

			if (pn->reused && !pn->answer.started && http_connect(pn) == 0)
				return; /* the server had closed it: once more, anew */
			http_failed(pn, "send: %s", strerror(err));
			return;
		}
		pn->req_off += (size_t)n;
	}
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
	struct probe_net *pn = arg;
	int err = 0;
	socklen_t len = sizeof err;

	(void)what;
	if (!pn->connected) {
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			if (pn->keep)
				http_failed(pn, "connect: %s", strerror(err));
			else
				verdict(pn, false, "connect: %s", strerror(err));
			return;
		}
		pn->connected = true;
		if (!pn->keep) {
			verdict(pn, true, "connected");
			return;
		}
	}
	send_request(pn);
}

static void judge(struct probe_net *pn)
{
	unsigned code = pn->answer.status;

	if (code < pn->cfg->status_min || code > pn->cfg->status_max)
		verdict(pn, false, "status %u", code);
	else if (pn->body_re && regexec(pn->body_re, pn->body, 0, NULL, 0) != 0)
		verdict(pn, false, "status %u, the body does not match", code); /* a NUL ends it */
	else
		verdict(pn, true, "status %u", code);
}

/* The kept connection's one read event: the answer while an attempt is out, and between
 * attempts whatever the server says unasked (its close, mostly), which ends the connection. */
static void on_keep_read(evutil_socket_t fd, short what, void *arg)
{
	struct probe_keep *keep = arg;
	struct probe_net *pn = keep->pn;
	char buf[READ_CHUNK];
	ssize_t n;
	enum lv_http_rc rc;
	size_t used = 0;

	(void)what;
	if (pn && !pn->connected) { /* a refused connect shows here first: say it as one */
		on_writable(fd, EV_WRITE, pn);
		return;
	}
	n = recv(fd, buf, sizeof buf, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (!pn) {
		probe_keep_close(keep);
		return;
	}
	if (n < 0) {
		int err = errno;

		if (pn->reused && !pn->answer.started && http_connect(pn) == 0)
			return;
		http_failed(pn, "no answer: %s", strerror(err));
		return;
	}
	rc = n ? lv_http_response_feed(&pn->answer, buf, (size_t)n, &used)
	       : lv_http_response_eof(&pn->answer);
	if (rc == LV_HTTP_MORE)
		return;
	if (rc == LV_HTTP_ERROR) {
		if (!n && pn->reused && !pn->answer.started && http_connect(pn) == 0)
			return;
		http_failed(pn, n ? "bad answer: %s" : "%s", pn->answer.error); /* or a close */
		return;
	}
	if (!pn->answer.reusable || used < (size_t)n) /* closing, or it said more than asked */
		probe_keep_close(keep);
	else
		keep->pn = NULL;
	judge(pn);
}

static int start_http(struct probe_net *pn, const char *host, unsigned port, const char *path,
                      char *why, size_t whylen)
{
	int len;

	for (const char *c = path; *c; c++)
		if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f) { /* config refuses them */
			snprintf(why, whylen, "the path has a space or control character");
			return -1;
		}
	len = snprintf(pn->req, sizeof pn->req,
	               "GET %s HTTP/1.1\r\nHost: %s%s%s:%u\r\nUser-Agent: loopvisor-probe\r\n"
	               "Accept: */*\r\n\r\n",
	               path, strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", port);
	if (len < 0 || (size_t)len >= sizeof pn->req) {
		snprintf(why, whylen, "the path is too long");
		return -1;
	}
	pn->req_len = (size_t)len;
	if (pn->body_re && !(pn->body = malloc(LV_PROBE_BODY_MAX + 1))) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	if (pn->keep->ev && !pn->keep->pn) { /* kept from the attempt before */
		lv_http_response_init(&pn->answer, pn->body, LV_PROBE_BODY_MAX);
		pn->fd = (int)event_get_fd(pn->keep->ev);
		pn->reused = pn->connected = true;
		pn->keep->pn = pn;
		if (!(pn->wev = event_new(pn->base, pn->fd, EV_WRITE, on_writable, pn))) {
			pn->keep->pn = NULL;
			snprintf(why, whylen, "out of memory");
			return -1;
		}
		send_request(pn);
	} else if (http_connect(pn) < 0) {
		verdict(pn, false, "connect: %s", strerror(errno));
	}
	return 0;
}

struct probe_net *probe_net_start(struct event_base *base, const struct lv_probe_config *cfg,
                                  const char *target, const regex_t *body_re,
                                  struct probe_keep *keep, probe_done_fn done, void *arg,
                                  char *why, size_t whylen)
{
	struct probe_net *pn = calloc(1, sizeof *pn);
	struct timeval tv = { .tv_sec = cfg->timeout_ms / 1000,
	                      .tv_usec = (cfg->timeout_ms % 1000) * 1000 };
	char host[64], path[2048];
	unsigned port;
	int rc;

	if (!pn) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	pn->cfg = cfg;
	pn->body_re = body_re;
	pn->done = done;
	pn->arg = arg;
	pn->base = base;
	pn->fd = -1;
	pn->keep = cfg->kind == LV_PROBE_HTTP ? keep : NULL;
	if (lv_probe_target_split(cfg->kind, target, host, sizeof host, &port, path, sizeof path,
	                          why, whylen) < 0) {
		free(pn);
		return NULL;
	}
	if (addr_of(pn, host, port) < 0) {
		snprintf(why, whylen, "%s: not an IP address", host);
		free(pn);
		return NULL;
	}
	if (!(pn->timer = evtimer_new(base, on_timeout, pn)) ||
	    !(pn->verdict_ev = event_new(base, -1, 0, on_verdict, pn)) ||
	    evtimer_add(pn->timer, &tv) < 0) {
		snprintf(why, whylen, "out of memory");
		probe_net_cancel(pn);
		return NULL;
	}
	if (cfg->kind == LV_PROBE_HTTP) {
		rc = start_http(pn, host, port, path, why, whylen);
	} else {
		rc = 0;
		if (connect_start(pn) < 0)
			verdict(pn, false, "connect: %s", strerror(errno)); /* refused at once */
	}
	if (rc < 0) {
		probe_net_cancel(pn);
		return NULL;
	}
	return pn;
}
