/* http_conns: counts the HTTP listener's connections from accept to close and stops
 * accepting while every place is taken.
 *
 * evhttp 2.1 shows a connection to its user only at its first request. The one hook it
 * calls at accept is the bufferevent callback (evhttp_set_bevcb): the connection is known
 * by the bufferevent we make there, held by a reference of ours until its first request
 * hands over the evhttp_connection, whose close callback then says when it goes. Before
 * that, evhttp freeing it shows as the bufferevent's callbacks cleared (bufferevent_free
 * clears them); our reference keeps the bufferevent, and so its descriptor, alive until the
 * sweep lets go, so a descriptor is never looked at after another object took its number. */
#include "daemon/control/http_conns.h"

#include <stdlib.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "daemon/lib/clock.h"

static void set_accepting(struct http_conns *cs, bool on)
{
	for (unsigned i = 0; i < cs->n_listeners; i++)
		if (on)
			evconnlistener_enable(cs->listeners[i]);
		else
			evconnlistener_disable(cs->listeners[i]);
	cs->paused = !on;
}

static void drop(struct http_conns *cs, unsigned i)
{
	cs->c[i] = cs->c[--cs->n];
	if (cs->paused)
		set_accepting(cs, true);
}

/* evhttp accepted a connection and asks for its bufferevent. The listeners stop at the
 * last place (a listener checks between two accepts), so a full table is not met here; if
 * it were, NULL lets evhttp make its own, and the connection is refused at its request. */
static struct bufferevent *on_accept(struct event_base *base, void *arg)
{
	struct http_conns *cs = arg;
	struct bufferevent *bev;

	if (cs->n == LV_HTTP_MAX_CONNS || !(bev = bufferevent_socket_new(base, -1,
	                                                                BEV_OPT_CLOSE_ON_FREE)))
		return NULL;
	bufferevent_incref(bev);
	cs->c[cs->n++] = (struct http_conn){ .bev = bev, .since_ms = (int64_t)lv_now_ms() };
	if (cs->n == LV_HTTP_MAX_CONNS)
		set_accepting(cs, false);
	return bev;
}

void http_conns_init(struct http_conns *cs, struct event_base *base, struct evhttp *eh,
                     http_conn_closed_fn closed, void *arg)
{
	const char *ms = getenv("LOOPVISOR_HTTP_REQUEST_MS"); /* for tests of the deadline */

	*cs = (struct http_conns){ .base = base, .closed = closed, .closed_arg = arg,
	                           .request_ms = LV_HTTP_REQUEST_S * 1000 };
	if (ms && atoi(ms) > 0)
		cs->request_ms = atoi(ms);
	evhttp_set_bevcb(eh, on_accept, cs);
}

int http_conns_listen(struct http_conns *cs, struct evhttp *eh, int fd)
{
	struct evhttp_bound_socket *bound;

	if (cs->n_listeners == LV_HTTP_LISTEN_MAX ||
	    !(bound = evhttp_accept_socket_with_handle(eh, fd)))
		return -1;
	cs->listeners[cs->n_listeners++] = evhttp_bound_socket_get_listener(bound);
	if (cs->paused)
		evconnlistener_disable(cs->listeners[cs->n_listeners - 1]);
	return 0;
}

struct http_conn *http_conns_request(struct http_conns *cs, struct evhttp_connection *conn)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);

	for (unsigned i = 0; i < cs->n; i++) {
		struct http_conn *c = &cs->c[i];

		if (c->conn == conn || (!c->conn && c->bev == bev)) {
			if (!c->conn) { /* its first request: evhttp tells of its close from now on */
				c->conn = conn;
				evhttp_connection_set_closecb(conn, cs->closed, cs->closed_arg);
				bufferevent_decref(c->bev);
				c->bev = NULL;
			}
			c->since_ms = (int64_t)lv_now_ms();
			return c;
		}
	}
	return NULL;
}

void http_conns_closed(struct http_conns *cs, struct evhttp_connection *conn)
{
	for (unsigned i = 0; i < cs->n; i++)
		if (cs->c[i].conn == conn) {
			drop(cs, i);
			return;
		}
}

/* Shuts its socket: evhttp reads the end, fails the connection and frees it. */
static void cut(struct http_conn *c)
{
	struct bufferevent *bev = c->conn ? evhttp_connection_get_bufferevent(c->conn) : c->bev;
	int fd = bev ? bufferevent_getfd(bev) : -1;

	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
}

void http_conns_sweep(struct http_conns *cs)
{
	int64_t now = (int64_t)lv_now_ms();

	for (unsigned i = 0; i < cs->n;) {
		struct http_conn *c = &cs->c[i];

		if (!c->conn) {
			bufferevent_event_cb event = NULL;

			bufferevent_getcb(c->bev, NULL, NULL, &event, NULL);
			if (!event) { /* evhttp freed it before it asked anything */
				bufferevent_decref(c->bev);
				drop(cs, i);
				continue;
			}
		}
		if (!c->streaming && now - c->since_ms > cs->request_ms)
			cut(c);
		i++;
	}
}

void http_conns_free(struct http_conns *cs)
{
	for (unsigned i = 0; i < cs->n; i++)
		if (!cs->c[i].conn)
			bufferevent_decref(cs->c[i].bev);
	cs->n = 0;
	cs->n_listeners = 0; /* evhttp_free frees them first, then closes the connections */
}
