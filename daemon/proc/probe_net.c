/* probe_net: an http or tcp probe attempt (see probe_net.h). The whole attempt, connect and
 * answer, has one timer of its own: a server that trickles its answer fails at the timeout
 * all the same. A verdict is handed on from the loop, never from inside a libevent callback
 * of the connection: what the verdict leads to (a stop, closing the kept connection) may
 * free it. */
#include "daemon/proc/probe_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>

struct probe_net {
	const struct lv_probe_config *cfg;
	const regex_t *body_re;
	probe_done_fn done;
	void *arg;
	struct event *timer;
	struct event *verdict_ev;           /* hands the verdict on from the loop */
	struct bufferevent *bev;            /* tcp */
	struct probe_keep *keep;            /* http: the connection the request is on */
	bool pending;                       /* http: the request is on keep->conn */
	struct evbuffer *body;              /* http: the body's first LV_PROBE_BODY_MAX bytes */
	char why[160];
	bool ok;
};

void probe_keep_close(struct probe_keep *keep)
{
	if (keep->conn)
		evhttp_connection_free(keep->conn);
	keep->conn = NULL;
	keep->broken = false;
}

void probe_net_cancel(struct probe_net *pn)
{
	if (!pn)
		return;
	if (pn->pending) /* its request goes with the connection, without a callback */
		probe_keep_close(pn->keep);
	if (pn->bev)
		bufferevent_free(pn->bev);
	if (pn->timer)
		event_free(pn->timer);
	if (pn->verdict_ev)
		event_free(pn->verdict_ev);
	if (pn->body)
		evbuffer_free(pn->body);
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

/* Says the verdict now and hands it on from the loop. */
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
	event_active(pn->verdict_ev, 0, 0);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct probe_net *pn = arg;

	(void)fd;
	(void)what;
	if (pn->pending) { /* from the loop, not from the connection: it may go now */
		probe_keep_close(pn->keep);
		pn->pending = false;
	}
	verdict(pn, false, "timed out after %u ms", pn->cfg->timeout_ms);
}

static void on_tcp_event(struct bufferevent *bev, short what, void *arg)
{
	struct probe_net *pn = arg;
	int err = EVUTIL_SOCKET_ERROR();

	bufferevent_disable(bev, EV_READ | EV_WRITE);
	if (what & BEV_EVENT_CONNECTED)
		verdict(pn, true, "connected");
	else
		verdict(pn, false, "connect: %s", strerror(err ? err : ECONNREFUSED));
}

static bool body_matches(const struct probe_net *pn)
{
	size_t len = evbuffer_get_length(pn->body);
	char *text = malloc(len + 1);
	bool ok;

	if (!text)
		return false;
	evbuffer_copyout(pn->body, text, len);
	text[len] = '\0'; /* a NUL inside ends the text the regex sees */
	ok = regexec(pn->body_re, text, 0, NULL, 0) == 0;
	free(text);
	return ok;
}

/* Body data as it arrives: the first LV_PROBE_BODY_MAX bytes are kept, the rest dropped, so
 * a big (or endless, until the timeout) body costs nothing. */
static void on_http_chunk(struct evhttp_request *req, void *arg)
{
	struct probe_net *pn = arg;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t have = evbuffer_get_length(pn->body), len = evbuffer_get_length(in);

	if (pn->body_re && have < LV_PROBE_BODY_MAX)
		evbuffer_remove_buffer(in, pn->body, len < LV_PROBE_BODY_MAX - have ? len
		                                                                   : LV_PROBE_BODY_MAX - have);
	evbuffer_drain(in, evbuffer_get_length(in));
}

static void on_http_answer(struct evhttp_request *req, void *arg)
{
	struct probe_net *pn = arg;
	int code = req ? evhttp_request_get_response_code(req) : 0;

	pn->pending = false;
	if (code == 0) {
		pn->keep->broken = true;
		verdict(pn, false, "no answer (connection refused, reset or closed)");
	} else if ((unsigned)code < pn->cfg->status_min || (unsigned)code > pn->cfg->status_max) {
		verdict(pn, false, "status %d", code);
	} else if (pn->body_re && !body_matches(pn)) {
		verdict(pn, false, "status %d, the body does not match", code);
	} else {
		verdict(pn, true, "status %d", code);
	}
}

static int start_tcp(struct probe_net *pn, struct event_base *base, const char *host,
                     unsigned port, char *why, size_t whylen)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;

	if (strchr(host, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, host, &s6->sin6_addr);
		len = sizeof *s6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, host, &s4->sin_addr);
		len = sizeof *s4;
	}
	if (!(pn->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE))) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	bufferevent_setcb(pn->bev, NULL, NULL, on_tcp_event, pn);
	if (bufferevent_socket_connect(pn->bev, (struct sockaddr *)&ss, (int)len) < 0)
		verdict(pn, false, "connect: %s", strerror(errno ? errno : EIO)); /* refused at once */
	return 0;
}

static int start_http(struct probe_net *pn, struct event_base *base, const char *host,
                      unsigned port, const char *path, struct probe_keep *keep, char *why,
                      size_t whylen)
{
	struct evhttp_request *req;
	struct evkeyvalq *headers;
	char host_header[80];

	if (keep->broken)
		probe_keep_close(keep);
	if (!keep->conn && !(keep->conn = evhttp_connection_base_new(base, NULL, host,
	                                                             (unsigned short)port))) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	evhttp_connection_set_retries(keep->conn, 0);
	if (!(pn->body = evbuffer_new()) || !(req = evhttp_request_new(on_http_answer, pn))) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	evhttp_request_set_chunked_cb(req, on_http_chunk);
	snprintf(host_header, sizeof host_header, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host,
	         port);
	headers = evhttp_request_get_output_headers(req);
	evhttp_add_header(headers, "Host", host_header);
	evhttp_add_header(headers, "User-Agent", "loopvisor-probe");
	pn->keep = keep;
	if (evhttp_make_request(keep->conn, req, EVHTTP_REQ_GET, path) < 0) { /* req is freed */
		keep->broken = true;
		snprintf(why, whylen, "cannot send the request");
		return -1;
	}
	pn->pending = true;
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
	*pn = (struct probe_net){ .cfg = cfg, .body_re = body_re, .done = done, .arg = arg };
	if (lv_probe_target_split(cfg->kind, target, host, sizeof host, &port, path, sizeof path,
	                          why, whylen) < 0) {
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
	rc = cfg->kind == LV_PROBE_HTTP ? start_http(pn, base, host, port, path, keep, why, whylen)
	                                : start_tcp(pn, base, host, port, why, whylen);
	if (rc < 0) {
		probe_net_cancel(pn);
		return NULL;
	}
	return pn;
}
