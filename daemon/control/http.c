/* http: the read-only HTTP listener on libevent's evhttp: /metrics, /healthz, /readyz,
 * /api/status and /events. Nothing it serves changes anything; a Unix listener's peer needs the read
 * role, as on the control socket; connections, headers and slow readers are bounded. */
#include "daemon/control/http.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "daemon/control/http_conns.h"
#include "daemon/control/http_events.h"
#include "daemon/control/inspect.h"
#include "daemon/control/method_helpers.h"
#include "daemon/control/metrics.h"
#include "daemon/control/peers.h"
#include "daemon/lib/clock.h"
#include "daemon/lib/log.h"
#include "daemon/out/status.h"
#include "daemon/proc/listen.h"
#include "ipc/http_accept.h"
#include "ipc/http_query.h"
#include "ipc/jsonw.h"

struct http {
	struct supervisor *sup;
	struct evhttp *eh;
	struct sse sse;                       /* GET /events clients and the last events */
	LIST_HEAD(http_inspects, http_inspect) inspects; /* GET /api/inspect waiting for loops */
	struct event *tick;                   /* lag records to /events clients, every second */
	struct peers peers;                   /* roles of Unix peers, cached per uid */
	struct http_conns conns;              /* every connection, from accept to close */
};

/* A GET /api/inspect waiting for the worker's loops to answer. */
struct http_inspect {
	LIST_ENTRY(http_inspect) link;
	struct evhttp_request *req;
	struct evhttp_connection *conn;
	struct inspect *in;
};

static void inspect_done(struct http_inspect *hi)
{
	LIST_REMOVE(hi, link);
	free(hi);
}

/* Its peer went away: the inspect is forgotten, the unfinished request freed (evhttp took
 * it off the connection and left it to us). */
static void inspects_conn_closed(struct http *h, struct evhttp_connection *conn)
{
	struct http_inspect *hi, *next;

	for (hi = LIST_FIRST(&h->inspects); hi; hi = next) {
		next = LIST_NEXT(hi, link);
		if (hi->conn != conn)
			continue;
		if (hi->in)
			inspect_cancel(hi->in);
		if (!evhttp_request_get_connection(hi->req))
			evhttp_request_free(hi->req);
		inspect_done(hi);
	}
}

static void on_conn_closed(struct evhttp_connection *conn, void *arg)
{
	struct http *h = arg;

	inspects_conn_closed(h, conn);
	sse_conn_closed(&h->sse, conn);
	http_conns_closed(&h->conns, conn);
}

/* A Unix peer needs a role under control.access; a TCP one is on an address the config
 * chose (loopback unless allow_remote). */
static bool peer_may_read(struct http *h, struct evhttp_connection *conn)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);
	int fd = bev ? bufferevent_getfd(bev) : -1;
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	struct ucred peer = { .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	socklen_t plen = sizeof peer;

	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return false;
	if (ss.ss_family != AF_UNIX)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &plen) < 0)
		return false;
	return peers_role(&h->peers, h->sup->cfg, h->sup->config_gen, &peer) != LV_ROLE_NONE;
}

static void reply_text(struct evhttp_request *req, int code, const char *reason,
                       const char *type, const char *text)
{
	struct evbuffer *body = evbuffer_new();

	if (!body) {
		evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	evbuffer_add(body, text, strlen(text));
	evhttp_send_reply(req, code, reason, body);
	evbuffer_free(body);
}

static void serve_status(struct http *h, struct evhttp_request *req)
{
	struct jsonw o = { 0 };
	char *text;

	status_write_all(&o, h->sup, lv_now_ms());
	if (!(text = jsonw_finish(&o))) {
		evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
		return;
	}
	reply_text(req, HTTP_OK, "OK", "application/json", text);
	free(text);
}

/* 200 once every pool that autostarts has all its wanted workers running (wanted: not
 * stopped by a command; failed ones are wanted and missing); else 503 with
 * what is missing: {"ready": false, "pools": [{"pool", "running", "wanted"}]}. */
static void serve_readyz(struct http *h, struct evhttp_request *req)
{
	struct supervisor *sup = h->sup;
	json_t *missing = json_array(), *answer;
	char *text;
	bool ready;

	for (size_t i = 0; i < sup->n_pools; i++) {
		const struct pool *p = sup->pools[i];
		unsigned wanted = 0;

		for (unsigned k = 0; k < p->n_slots; k++) {
			const struct worker *w = p->workers[k];

			wanted += w && !w->removing && worker_should_run(w); /* a failed one too */
		}
		if (p->cfg.autostart && !p->removing && p->ready < wanted)
			json_array_append_new(missing, json_pack("{s:s, s:i, s:i, s:i}", "pool",
			                                         p->cfg.name, "running", (int)p->running,
			                                         "ready", (int)p->ready,
			                                         "wanted", (int)wanted));
	}
	ready = json_array_size(missing) == 0;
	answer = json_pack("{s:b, s:o}", "ready", ready, "pools", missing);

	if (!answer || !(text = json_dumps(answer, JSON_COMPACT))) {
		json_decref(answer);
		evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
		return;
	}
	json_decref(answer);
	reply_text(req, ready ? HTTP_OK : 503, ready ? "OK" : "Service Unavailable",
	           "application/json", text);
	free(text);
}

extern const unsigned char lv_dashboard_html[]; /* control/dashboard.html, compiled in */
extern const size_t lv_dashboard_html_len;

/* The dashboard: one page, its script inline; it reads /api/status once, then /events. */
static void serve_dashboard(struct evhttp_request *req)
{
	struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);
	struct evbuffer *body = evbuffer_new();

	if (!body) {
		evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
		return;
	}
	evhttp_add_header(hdr, "Content-Type", "text/html; charset=utf-8");
	evhttp_add_header(hdr, "Content-Security-Policy", "default-src 'self'; script-src "
	                  "'unsafe-inline'; style-src 'unsafe-inline'; frame-ancestors 'none'");
	evhttp_add_header(hdr, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(hdr, "Cache-Control", "no-store");
	evbuffer_add_reference(body, lv_dashboard_html, lv_dashboard_html_len, NULL, NULL);
	evhttp_send_reply(req, HTTP_OK, "OK", body);
	evbuffer_free(body);
}

/* /api/tail?target=POOL[:INDEX]&lines=N: the last lines, as the tail method answers. */
static void serve_tail(struct http *h, struct evhttp_request *req, const struct evhttp_uri *uri)
{
	char target[LV_POOL_NAME_MAX + 16], *text = NULL;
	struct worker **ws = NULL;
	unsigned long n = 50;
	int count = -1;
	json_t *r;

	if (lv_http_query_params(evhttp_uri_get_query(uri), "target", target, sizeof target,
	                         "lines", 0, 1000, &n) == 0 && pool_target_valid(target))
		count = pool_resolve_target(h->sup, target, &ws);
	if (count < 0) {
		reply_text(req, HTTP_NOTFOUND, "Not Found", "text/plain",
		           "no such pool or worker (target=POOL or POOL:INDEX, lines=0..1000)\n");
		return;
	}
	if ((r = method_tail(ws, count, strchr(target, ':') ? NULL : pool_find(h->sup, target),
	                     (unsigned)n))) {
		text = json_dumps(r, JSON_COMPACT);
		json_decref(r);
	}
	free(ws);
	if (!text) {
		evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
		return;
	}
	reply_text(req, HTTP_OK, "OK", "application/json", text);
	free(text);
}

static void reply_json(struct evhttp_request *req, int code, const char *reason, json_t *v)
{
	char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;

	json_decref(v);
	if (!text) {
		evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
		return;
	}
	reply_text(req, code, reason, "application/json", text);
	free(text);
}

static void inspect_answered(void *arg, json_t *result)
{
	struct http_inspect *hi = arg;

	reply_json(hi->req, HTTP_OK, "OK", result);
	inspect_done(hi);
}

/* The inspect's error as HTTP: 504 for a loop that did not answer in time, 409 for a
 * worker with no job to ask (or gone meanwhile), 503 at shutdown; the JSON-RPC error as
 * the body. */
static void inspect_failed(void *arg, int code, json_t *data, const char *message)
{
	struct http_inspect *hi = arg;
	int status = code == LV_RPC_TIMED_OUT ? 504 : code == LV_RPC_NOT_INSPECTABLE ? 409 :
	             code == LV_RPC_SHUTTING_DOWN ? 503 : HTTP_INTERNAL;
	json_t *body = json_pack("{s:{s:i, s:s, s:o*}}", "error", "code", code, "message",
	                         message, "data", data);

	reply_json(hi->req, status, status == 504 ? "Gateway Timeout" : status == 409 ? "Conflict"
	           : status == 503 ? "Service Unavailable" : "Internal Server Error", body);
	inspect_done(hi);
}

/* /api/inspect?worker=POOL:INDEX[&timeout_ms=N]: asks a module worker's loops live, as
 * the inspect method does; the answer comes once they did. The connection's request deadline
 * counts from when the answer is due. */
static void serve_inspect(struct http *h, struct evhttp_request *req, const struct evhttp_uri *uri,
                          struct http_conn *place)
{
	char target[LV_POOL_NAME_MAX + 16];
	struct worker **ws = NULL;
	struct http_inspect *hi;
	struct inspect_to to = { .answer = inspect_answered, .fail = inspect_failed };
	struct inspect *in;
	unsigned long timeout = LV_INSPECT_TIMEOUT_MS;
	int n = -1;

	if (lv_http_query_params(evhttp_uri_get_query(uri), "worker", target, sizeof target,
	                         "timeout_ms", 1, 60000, &timeout) == 0 &&
	    pool_target_valid(target) && strchr(target, ':'))
		n = pool_resolve_target(h->sup, target, &ws);
	if (n != 1 || !(hi = calloc(1, sizeof *hi))) {
		free(ws);
		reply_text(req, HTTP_NOTFOUND, "Not Found", "text/plain",
		           "no such worker (worker=POOL:INDEX, timeout_ms=1..60000)\n");
		return;
	}
	hi->req = req;
	hi->conn = evhttp_request_get_connection(req);
	LIST_INSERT_HEAD(&h->inspects, hi, link);
	place->since_ms += (int64_t)timeout;
	to.arg = hi;
	if ((in = inspect_ask(h->sup, &to, ws[0], (unsigned)timeout)))
		hi->in = in; /* else it failed already, and hi is gone with its answer */
	free(ws);
}

static void serve_metrics(struct http *h, struct evhttp_request *req)
{
	const char *accept = evhttp_find_header(evhttp_request_get_input_headers(req), "Accept");
	bool om = lv_http_accepts(accept, "application/openmetrics-text");
	struct evbuffer *body = evbuffer_new();

	if (!body || metrics_write(body, h->sup, om) < 0) {
		if (body)
			evbuffer_free(body);
		evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	                  om ? METRICS_TYPE_OPENMETRICS : METRICS_TYPE_TEXT);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	evhttp_send_reply(req, HTTP_OK, "OK", body);
	evbuffer_free(body);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct http *h = arg;
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	struct http_conn *place = conn ? http_conns_request(&h->conns, conn) : NULL;

	if (!place) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
		reply_text(req, 503, "Service Unavailable", "text/plain",
		           "no place for this connection\n");
		return;
	}
	if (!peer_may_read(h, conn)) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
		reply_text(req, 403, "Forbidden", "text/plain",
		           "forbidden: control.access gives this user no role\n");
		return;
	}
	switch (lv_http_route(path)) {
	case LV_ROUTE_METRICS: serve_metrics(h, req); break;
	case LV_ROUTE_HEALTHZ: /* the loop turns: it got here */
		reply_text(req, HTTP_OK, "OK", "text/plain", "ok\n");
		break;
	case LV_ROUTE_READYZ: serve_readyz(h, req); break;
	case LV_ROUTE_STATUS: serve_status(h, req); break;
	case LV_ROUTE_UI: serve_dashboard(req); break;
	case LV_ROUTE_TAIL: serve_tail(h, req, uri); break;
	case LV_ROUTE_INSPECT: serve_inspect(h, req, uri, place); break;
	case LV_ROUTE_EVENTS:
		if (sse_attach(&h->sse, req, h->sup->event_seq))
			place->streaming = true;
		else
			reply_text(req, 503, "Service Unavailable", "text/plain",
			           "too many event streams\n");
		break;
	case LV_ROUTE_NONE:
		reply_text(req, HTTP_NOTFOUND, "Not Found", "text/plain",
		           "not found: /, /metrics, /healthz, /readyz, /api/status, /api/tail, "
		           "/api/inspect, /events\n");
		break;
	}
}

/* Binds one address of http.listen and hands it to evhttp. */
static int add_listener(struct http *h, const char *spec, char *err, size_t errlen)
{
	int fd = listen_open(spec, err, errlen);

	if (fd < 0)
		return -1;
	/* a Unix socket file is born 0666 (listen.c): the peer's role decides, not its mode */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		snprintf(err, errlen, "%s: %s", spec, strerror(errno));
		close(fd);
		return -1;
	}
	if (http_conns_listen(&h->conns, h->eh, fd) < 0) {
		snprintf(err, errlen, "%s: evhttp cannot accept on it", spec);
		close(fd);
		return -1;
	}
	return 0;
}

/* The event stream as a sink: every event to the /events clients. */
static void on_event(void *ctx, int event, json_t *params, const char *pool, const char *worker)
{
	struct http *h = ctx;

	(void)event;
	(void)pool;
	(void)worker;
	sse_event(&h->sse, (uint64_t)json_integer_value(json_object_get(params, "seq")),
	          json_string_value(json_object_get(params, "event")), params);
}

static bool wants_no_lines(void *ctx)
{
	(void)ctx;
	return false;
}

/* Once a second to /events clients: each module worker's loop lag (its worst loop, in
 * microseconds) as an "event: lag" record, kept nowhere; it also keeps idle streams up. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct http *h = arg;
	struct supervisor *sup = h->sup;
	struct jsonw o = { 0 };
	unsigned n = 0;
	char *text;

	(void)fd;
	(void)what;
	http_conns_sweep(&h->conns);
	if (h->sse.n_clients == 0)
		return;
	jsonw_lit(&o, "event: lag\ndata: {\"workers\":{");
	for (size_t i = 0; i < sup->n_pools; i++)
		for (unsigned k = 0; k < sup->pools[i]->n_slots; k++) {
			const struct worker *w = sup->pools[i]->workers[k];
			int64_t lag = 0;

			if (!w || w->proc.pid <= 0 || !w->loops[0].last_beat_ms ||
			    n >= sup->cfg->http.worker_series_max)
				continue;
			for (unsigned l = 0; l < w->n_loops; l++)
				if (w->loops[l].ch.lag_us > lag)
					lag = w->loops[l].ch.lag_us;
			if (n++)
				jsonw_lit(&o, ",");
			jsonw_str(&o, w->name);
			jsonw_lit(&o, ":");
			jsonw_int(&o, (long long)lag);
		}
	jsonw_lit(&o, "}}\n\n");
	if ((text = jsonw_finish(&o))) {
		sse_broadcast(&h->sse, text, strlen(text));
		free(text);
	}
}

struct http *http_open(struct supervisor *sup, const struct lv_http_config *cfg, char *err,
                       size_t errlen)
{
	struct http *h = calloc(1, sizeof *h);

	if (!h || !(h->eh = evhttp_new(sup->base))) {
		free(h);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->sup = sup;
	evhttp_set_allowed_methods(h->eh, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_max_headers_size(h->eh, LV_HTTP_MAX_HEADERS);
	evhttp_set_max_body_size(h->eh, 0);
	evhttp_set_timeout(h->eh, LV_HTTP_TIMEOUT_S); /* idle and slow peers are dropped */
	evhttp_set_gencb(h->eh, on_request, h);
	http_conns_init(&h->conns, sup->base, h->eh, on_conn_closed, h);
	LIST_INIT(&h->sse.clients);
	LIST_INIT(&h->inspects);
	{
		struct lv_sink sink = { .event = on_event, .wants_lines = wants_no_lines, .ctx = h };
		struct timeval every = { 1, 0 };

		if (lv_sinks_add(&sup->sinks, &sink) < 0 ||
		    !(h->tick = event_new(sup->base, -1, EV_PERSIST, on_tick, h)) ||
		    event_add(h->tick, &every) < 0) {
			snprintf(err, errlen, "out of memory");
			http_close(h);
			return NULL;
		}
	}
	for (char **spec = cfg->listen; *spec; spec++)
		if (add_listener(h, *spec, err, errlen) < 0) {
			http_close(h);
			return NULL;
		}
	return h;
}

void http_close(struct http *h)
{
	if (!h)
		return;
	lv_sinks_remove(&h->sup->sinks, h);
	if (h->tick)
		event_free(h->tick);
	http_conns_free(&h->conns);
	evhttp_free(h->eh);
	sse_free(&h->sse);
	peers_free(&h->peers);
	free(h);
}
