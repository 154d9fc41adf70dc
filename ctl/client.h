/* client: a small blocking JSON-RPC 2.0 client for the control socket.
 * Used by loopvisorctl and by the integration tests; one line per message each way. */
#ifndef LV_CLIENT_H
#define LV_CLIENT_H

#include <stddef.h>
#include <jansson.h>

struct lv_client;

/* Connects to the Unix socket at path. Returns NULL and sets errno on failure. */
struct lv_client *lv_client_connect(const char *path);
void lv_client_close(struct lv_client *c);
int lv_client_fd(const struct lv_client *c);

/* Sends one request (params may be NULL; the reference is stolen) and waits up to
 * timeout_ms (-1: forever) for the response with the same id, skipping notifications.
 * Returns 0 with *result set (a new reference) or *error set (the error object),
 * or -1 with errno (ETIMEDOUT, ECONNRESET for EOF, EPROTO for a malformed reply). */
int lv_client_call(struct lv_client *c, const char *method, json_t *params, int timeout_ms,
                   json_t **result, json_t **error);

/* The two halves of lv_client_call, for several requests in flight at once (replies come
 * in request order): send returns the request's id; receive waits for that id's reply. */
int lv_client_send(struct lv_client *c, const char *method, json_t *params, long *id);
int lv_client_receive(struct lv_client *c, long id, int timeout_ms, json_t **result,
                      json_t **error);

/* Raw access: send one line (a newline is appended) and read one line (without it).
 * read_line returns a malloc'd string, or NULL with errno (ECONNRESET on EOF). */
int lv_client_send_line(struct lv_client *c, const char *line, size_t len);
char *lv_client_read_line(struct lv_client *c, int timeout_ms);

#endif
