/* echo: a TCP (or Unix) echo service on the pool's listening sockets. On a graceful stop it
 * stops accepting, lets every connection write out what it owes, then closes them. */
#include <loopvisor/job.h>

#include <stdlib.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

struct conn {
	struct conn *prev, *next;
	struct bufferevent *bev;
	struct echo *e;
};

struct echo {
	lv_ctx *ctx;
	struct evconnlistener *listeners[16];
	unsigned n_listeners;
	struct conn *conns;
	unsigned open;           /* connections */
	lv_done_fn done;         /* set while draining */
};

static void maybe_done(struct echo *e)
{
	if (e->done && e->open == 0) {
		lv_done_fn done = e->done;
		e->done = NULL;
		done(e->ctx);
	}
}

static void conn_close(struct conn *c)
{
	struct echo *e = c->e;

	if (c->prev)
		c->prev->next = c->next;
	else
		e->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	bufferevent_free(c->bev);
	free(c);
	e->open--;
	lv_counter_add(e->ctx, "open", -1);
	maybe_done(e);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	lv_counter_add(c->e->ctx, "bytes", (long long)evbuffer_get_length(in));
	bufferevent_write_buffer(bev, in);
}

/* While draining, a connection closes once its replies are written. */
static void on_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (c->e->done)
		conn_close(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_close(arg);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                      void *arg)
{
	struct echo *e = arg;
	struct conn *c = calloc(1, sizeof *c);

	(void)sa;
	(void)len;
	if (!c || !(c->bev = bufferevent_socket_new(evconnlistener_get_base(l), fd,
	                                            BEV_OPT_CLOSE_ON_FREE))) {
		free(c);
		evutil_closesocket(fd);
		return;
	}
	c->e = e;
	c->next = e->conns;
	if (e->conns)
		e->conns->prev = c;
	e->conns = c;
	e->open++;
	lv_counter_add(e->ctx, "connections", 1);
	lv_counter_add(e->ctx, "open", 1);
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static int echo_start(lv_ctx *ctx)
{
	struct echo *e = calloc(1, sizeof *e);

	if (!e) {
		lv_fail(ctx, "out of memory");
		return -1;
	}
	if (lv_listen_count(ctx) == 0) {
		free(e);
		lv_fail(ctx, "echo needs \"listen\" addresses in its pool");
		return -1;
	}
	e->ctx = ctx;
	lv_set_data(ctx, e);
	for (unsigned i = 0; i < lv_listen_count(ctx) && i < 16; i++) {
		int fd = lv_listen_fd(ctx, i);

		evutil_make_socket_nonblocking(fd);
		/* no LEV_OPT_CLOSE_ON_FREE: the socket is shared with the other loops */
		e->listeners[i] = evconnlistener_new(lv_base(ctx), on_accept, e, LEV_OPT_CLOSE_ON_EXEC,
		                                     0, fd);
		if (!e->listeners[i]) {
			lv_fail(ctx, "cannot accept on %s", lv_listen_name(ctx, i));
			return -1;
		}
		e->n_listeners++;
	}
	return 0;
}

static void echo_stop(lv_ctx *ctx, lv_done_fn done)
{
	struct echo *e = lv_data(ctx);

	for (unsigned i = 0; i < e->n_listeners; i++)
		evconnlistener_free(e->listeners[i]);
	e->n_listeners = 0;
	e->done = done;
	/* idle connections go now; busy ones once their output is written (on_write) */
	for (struct conn *c = e->conns, *next; c; c = next) {
		next = c->next;
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
			conn_close(c);
	}
	maybe_done(e);
}

static json_t *echo_inspect(lv_ctx *ctx)
{
	struct echo *e = lv_data(ctx);

	return json_pack("{s:i}", "open", (int)e->open);
}

__attribute__((visibility("default"))) const struct lv_job loopvisor_job = {
	.abi_version = LV_JOB_ABI_VERSION,
	.name = "echo",
	.start = echo_start,
	.stop = echo_stop,
	.inspect = echo_inspect,
};
