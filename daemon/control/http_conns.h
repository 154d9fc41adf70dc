/* http_conns: the HTTP listener's connections, counted from accept to close. While all
 * LV_HTTP_MAX_CONNS places are taken the listeners stop accepting, so further peers wait in
 * the kernel's backlog holding none of the daemon's descriptors; a connection that has not
 * finished a request's headers LV_HTTP_REQUEST_S after its accept or its previous request
 * is cut, unless it streams /events. */
#ifndef LV_HTTP_CONNS_H
#define LV_HTTP_CONNS_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>

#include "config/config.h"

#define LV_HTTP_MAX_CONNS 64  /* connections at once, asking or not */
#define LV_HTTP_REQUEST_S 20  /* from accept or the previous request to the next one's headers */

struct bufferevent;
struct evconnlistener;

struct http_conn {
	struct bufferevent *bev;        /* held by a reference until conn is known */
	struct evhttp_connection *conn; /* from its first request on; NULL before */
	int64_t since_ms;               /* when it was accepted or last asked something */
	bool streaming;                 /* an /events stream: no deadline */
};

typedef void (*http_conn_closed_fn)(struct evhttp_connection *conn, void *arg);

struct http_conns {
	struct event_base *base;
	struct http_conn c[LV_HTTP_MAX_CONNS];
	unsigned n;
	struct evconnlistener *listeners[LV_HTTP_LISTEN_MAX];
	unsigned n_listeners;
	bool paused;                    /* the listeners are disabled: every place is taken */
	int64_t request_ms;             /* LV_HTTP_REQUEST_S, or LOOPVISOR_HTTP_REQUEST_MS */
	http_conn_closed_fn closed;     /* evhttp's close callback of a known connection */
	void *closed_arg;
};

/* Hooks cs into eh's accepts; closed is called as a known connection goes away. */
void http_conns_init(struct http_conns *cs, struct event_base *base, struct evhttp *eh,
                     http_conn_closed_fn closed, void *arg);
/* Serves the listening socket fd (non-blocking) through eh; -1 when evhttp cannot. */
int http_conns_listen(struct http_conns *cs, struct evhttp *eh, int fd);
/* conn asks something: its place, or NULL when it has none (never counted). */
struct http_conn *http_conns_request(struct http_conns *cs, struct evhttp_connection *conn);
/* conn closed (from the close callback): its place is free. */
void http_conns_closed(struct http_conns *cs, struct evhttp_connection *conn);
/* Each second: forgets connections evhttp dropped before asking anything, cuts those past
 * the deadline, and accepts again once a place is free. */
void http_conns_sweep(struct http_conns *cs);
/* Before evhttp_free: lets go of what it holds; evhttp frees the rest. */
void http_conns_free(struct http_conns *cs);

#endif
