/* http_events: GET /events, the event stream as Server-Sent Events: one "id: SEQ",
 * "event: NAME", "data: JSON" record per event. The last LV_SSE_RING events are kept, so a
 * client that reconnects with Last-Event-ID gets what it missed (or an "overflow" record
 * when that is gone too). A client that stops reading is dropped, never waited for. */
#include "daemon/control/http_events.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>

#include "daemon/lib/log.h"

struct sse_client {
	struct evhttp_request *req;
	struct evhttp_connection *conn;
	struct sse *sse;
	LIST_ENTRY(sse_client) link;
};

static void record_free(struct sse *s, unsigned i)
{
	free(s->ring[i].text);
	s->ring[i].text = NULL;
}

static void client_free(struct sse_client *c)
{
	LIST_REMOVE(c, link);
	c->sse->n_clients--;
	free(c);
}

/* Sends text as one chunk; drops the client (ending its reply) once too much waits. */
static bool send_to(struct sse_client *c, const char *text, size_t len)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(c->conn);
	struct evbuffer *chunk;

	if (bev && evbuffer_get_length(bufferevent_get_output(bev)) > LV_SSE_MAX_QUEUE) {
		log_warn("http: an /events client is %d KiB behind: dropping it",
		         LV_SSE_MAX_QUEUE / 1024);
		evhttp_send_reply_end(c->req); /* the connection closes after it */
		client_free(c);
		return false;
	}
	if (!(chunk = evbuffer_new()))
		return true;
	evbuffer_add(chunk, text, len);
	evhttp_send_reply_chunk(c->req, chunk);
	evbuffer_free(chunk);
	return true;
}

void sse_event(struct sse *s, uint64_t seq, const char *name, json_t *params)
{
	char *data = json_dumps(params, JSON_COMPACT), *text = NULL;
	unsigned at = (unsigned)(seq % LV_SSE_RING);
	int n;

	if (!data)
		return;
	n = asprintf(&text, "id: %" PRIu64 "\nevent: %s\ndata: %s\n\n", seq, name, data);
	free(data);
	if (n < 0)
		return;
	record_free(s, at);
	s->ring[at] = (struct sse_record){ .seq = seq, .text = text, .len = (size_t)n };
	sse_broadcast(s, text, (size_t)n);
}

/* What a reconnecting client missed after last_id, oldest first, from the ring. */
static void replay(struct sse_client *c, uint64_t last_id, uint64_t newest)
{
	struct sse *s = c->sse;
	uint64_t from = last_id + 1;

	if (newest >= LV_SSE_RING && from <= newest - LV_SSE_RING) {
		char note[128];
		int n = snprintf(note, sizeof note, "event: overflow\ndata: {\"missed_after\":%" PRIu64
		                 "}\n\n", last_id);

		if (!send_to(c, note, (size_t)n))
			return;
		from = newest - LV_SSE_RING + 1;
	}
	for (uint64_t seq = from; seq <= newest; seq++) {
		const struct sse_record *r = &s->ring[seq % LV_SSE_RING];

		if (r->text && r->seq == seq && !send_to(c, r->text, r->len))
			return;
	}
}

bool sse_attach(struct sse *s, struct evhttp_request *req, uint64_t newest)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	const char *last = evhttp_find_header(evhttp_request_get_input_headers(req),
	                                      "Last-Event-ID");
	struct sse_client *c;
	char *end;

	if (s->n_clients >= LV_SSE_MAX_CLIENTS || !(c = calloc(1, sizeof *c)))
		return false;
	*c = (struct sse_client){ .req = req, .conn = conn, .sse = s };
	LIST_INSERT_HEAD(&s->clients, c, link);
	s->n_clients++;
	evhttp_connection_set_timeout(conn, LV_SSE_IDLE_S); /* it reads; we write */
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	                  "text/event-stream");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	evhttp_send_reply_start(req, HTTP_OK, "OK");
	if (!send_to(c, ": loopvisord events\n\n", 21))
		return true;
	if (last && *last) {
		unsigned long long id = strtoull(last, &end, 10);

		if (!*end && id <= newest)
			replay(c, id, newest);
	}
	return true;
}

void sse_conn_closed(struct sse *s, struct evhttp_connection *conn)
{
	struct sse_client *c, *next;

	for (c = LIST_FIRST(&s->clients); c; c = next) {
		next = LIST_NEXT(c, link);
		if (c->conn != conn)
			continue;
		/* a peer gone mid-stream leaves the unfinished request to us (evhttp takes it
		 * off the connection); one still on it goes with the connection */
		if (!evhttp_request_get_connection(c->req))
			evhttp_request_free(c->req);
		client_free(c);
	}
}

void sse_broadcast(struct sse *s, const char *text, size_t len)
{
	struct sse_client *c, *next;

	for (c = LIST_FIRST(&s->clients); c; c = next) {
		next = LIST_NEXT(c, link);
		send_to(c, text, len);
	}
}

void sse_free(struct sse *s)
{
	while (!LIST_EMPTY(&s->clients))
		client_free(LIST_FIRST(&s->clients));
	for (unsigned i = 0; i < LV_SSE_RING; i++)
		record_free(s, i);
}
