/* http_events: the event stream of the HTTP listener (GET /events) as Server-Sent Events,
 * with the last events kept for clients that come back with Last-Event-ID. */
#ifndef LV_HTTP_EVENTS_H
#define LV_HTTP_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <jansson.h>

#define LV_SSE_RING        1024          /* events kept for a Last-Event-ID */
#define LV_SSE_MAX_CLIENTS 32
#define LV_SSE_MAX_QUEUE   (256 * 1024)  /* unsent bytes of a client before it is dropped */
#define LV_SSE_IDLE_S      60            /* a stream's timeout: something comes every second */

struct evhttp_request;
struct evhttp_connection;
struct sse_client;

struct sse {
	struct sse_record { uint64_t seq; char *text; size_t len; } ring[LV_SSE_RING];
	LIST_HEAD(sse_clients, sse_client) clients;
	unsigned n_clients;
};

/* Keeps the event (seq from the stream, name, params not stolen) and sends it to every
 * client. */
void sse_event(struct sse *s, uint64_t seq, const char *name, json_t *params);
/* Starts the stream on req (its Last-Event-ID replayed from the ring up to newest); false
 * when there is no room for another client (the caller answers). */
bool sse_attach(struct sse *s, struct evhttp_request *req, uint64_t newest);
/* The connection closed: its client goes. */
void sse_conn_closed(struct sse *s, struct evhttp_connection *conn);
/* text (whole records, or a comment line) to every client, kept nowhere. */
void sse_broadcast(struct sse *s, const char *text, size_t len);
void sse_free(struct sse *s);

#endif
