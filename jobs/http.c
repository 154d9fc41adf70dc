/* http: a minimal HTTP service (libevent's evhttp) on the pool's listening sockets that
 * says which worker answered: X-Worker-Pid and X-Worker-Index headers and a one-line body.
 * A graceful stop stops accepting, closes connections after their current request, and
 * finishes once none is left. */
#include <loopvisor/job.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>

#define QUIET_MS 100 /* a connection accepted just before the stop gets this long to speak */

struct http {
	lv_ctx *ctx;
	struct evhttp *http;
	struct evhttp_bound_socket *bound[16];
	unsigned n_bound;
	struct evhttp_connection **conns; /* connections that sent a request and are open */
	unsigned open, cap;
	unsigned quiet_ticks;     /* drain timer ticks without a request */
	struct event *drain;
	lv_done_fn done;
};

static void on_conn_close(struct evhttp_connection *conn, void *arg)
{
	struct http *h = arg;

	for (unsigned i = 0; i < h->open; i++)
		if (h->conns[i] == conn) {
			h->conns[i] = h->conns[--h->open];
			return;
		}
}

/* Counts a connection from its first request until it closes (a short linear set: open
 * connections per loop are few, and a pointer leaves the set before it can be reused). */
static void track(struct http *h, struct evhttp_request *req)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);

	if (!conn)
		return;
	for (unsigned i = 0; i < h->open; i++)
		if (h->conns[i] == conn)
			return;
	if (h->open == h->cap) {
		unsigned cap = h->cap ? h->cap * 2 : 64;
		struct evhttp_connection **grown = realloc(h->conns, cap * sizeof *grown);
		if (!grown)
			return;
		h->conns = grown;
		h->cap = cap;
	}
	h->conns[h->open++] = conn;
	evhttp_connection_set_closecb(conn, on_conn_close, h);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct http *h = arg;
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct evbuffer *body = evbuffer_new();
	char pid[16], index[16];

	track(h, req);
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	snprintf(index, sizeof index, "%u", lv_index(h->ctx));
	evhttp_add_header(out, "Content-Type", "text/plain");
	evhttp_add_header(out, "X-Worker-Pid", pid);
	evhttp_add_header(out, "X-Worker-Index", index);
	if (h->done)
		evhttp_add_header(out, "Connection", "close");
	h->quiet_ticks = 0;
	lv_counter_add(h->ctx, "requests", 1);
	evbuffer_add_printf(body, "pool %s worker %u loop %u pid %s\n", lv_pool(h->ctx),
	                    lv_index(h->ctx), lv_loop(h->ctx), pid);
	evhttp_send_reply(req, HTTP_OK, "OK", body);
	evbuffer_free(body);
}

static int http_start(lv_ctx *ctx)
{
	struct http *h = calloc(1, sizeof *h);

	if (!h || !(h->http = evhttp_new(lv_base(ctx)))) {
		free(h);
		lv_fail(ctx, "out of memory");
		return -1;
	}
	h->ctx = ctx;
	lv_set_data(ctx, h);
	if (lv_listen_count(ctx) == 0) {
		lv_fail(ctx, "http needs \"listen\" addresses in its pool");
		return -1;
	}
	evhttp_set_gencb(h->http, on_request, h);
	evhttp_set_timeout(h->http, 30);
	for (unsigned i = 0; i < lv_listen_count(ctx) && i < 16; i++) {
		/* evhttp closes the fd it was given when the socket is deleted: hand it a copy,
		 * the original is shared with the other loops of this worker */
		int fd = dup(lv_listen_fd(ctx, i));

		evutil_make_socket_nonblocking(fd);
		evutil_make_socket_closeonexec(fd);
		if (fd < 0 || !(h->bound[i] = evhttp_accept_socket_with_handle(h->http, fd))) {
			lv_fail(ctx, "cannot accept on %s", lv_listen_name(ctx, i));
			return -1;
		}
		h->n_bound++;
	}
	return 0;
}

/* Every QUIET_MS/2: done once no connection is open and none has spoken for QUIET_MS. */
static void on_drain(evutil_socket_t fd, short what, void *arg)
{
	struct http *h = arg;

	(void)fd;
	(void)what;
	if (h->open == 0 && ++h->quiet_ticks >= 2) {
		event_free(h->drain);
		evhttp_free(h->http);
		free(h->conns);
		h->done(h->ctx);
	}
}

static void http_stop(lv_ctx *ctx, lv_done_fn done)
{
	struct http *h = lv_data(ctx);
	struct timeval tv = { 0, QUIET_MS * 1000 / 2 };

	for (unsigned i = 0; i < h->n_bound; i++)
		evhttp_del_accept_socket(h->http, h->bound[i]);
	h->n_bound = 0;
	/* idle keep-alive connections time out quickly; busy ones get "Connection: close" */
	evhttp_set_timeout(h->http, 1);
	h->done = done;
	h->drain = event_new(lv_base(ctx), -1, EV_PERSIST, on_drain, h);
	event_add(h->drain, &tv);
}

__attribute__((visibility("default"))) const struct lv_job loopvisor_job = {
	.abi_version = LV_JOB_ABI_VERSION,
	.name = "http",
	.start = http_start,
	.stop = http_stop,
};
