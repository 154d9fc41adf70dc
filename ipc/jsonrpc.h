/* jsonrpc: JSON-RPC 2.0 sessions: decode lines, validate, dispatch through a method table,
 * and emit responses in request order, including batches and parked (asynchronous) calls. */
#ifndef LV_JSONRPC_H
#define LV_JSONRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

#include "ipc/rpc_errors.h"

struct lv_rpc_call;
struct lv_rpc_session;

/* Parameter schema: one entry per accepted key; the list ends with name == NULL. */
enum lv_rpc_type {
	LV_RPC_STRING = 1 << 0,
	LV_RPC_INT = 1 << 1,
	LV_RPC_BOOL = 1 << 2,
	LV_RPC_OBJECT = 1 << 3,
	LV_RPC_ARRAY = 1 << 4,
};
struct lv_rpc_param {
	const char *name;
	unsigned types;   /* mask of lv_rpc_type */
	bool required;
};

/* A handler answers with lv_rpc_reply/lv_rpc_fail, now or later. params is always an
 * object that passed the schema. If it answers later it must lv_rpc_park the call. */
typedef void (*lv_rpc_handler)(struct lv_rpc_call *call, json_t *params, void *app);

/* Who may call a method; a session has the role of its peer. */
enum lv_rpc_role { LV_ROLE_NONE = 0, LV_ROLE_READ = 1, LV_ROLE_ADMIN = 2 };

struct lv_rpc_method {
	const char *name;
	const struct lv_rpc_param *params; /* NULL: accepts no params */
	lv_rpc_handler handler;
	enum lv_rpc_role role;             /* the least role that may call it */
};

/* Sends one complete line (with its newline) to the peer. */
typedef void (*lv_rpc_send_fn)(void *io, const char *data, size_t len);
/* Hears each answered call: its method (NULL when the request named none of the table's),
 * the error code (0 for a result) and the microseconds from its dispatch to its answer. */
typedef void (*lv_rpc_done_fn)(void *io, const struct lv_rpc_method *method, int code,
                               uint64_t us);

#define LV_RPC_MAX_BATCH 256

struct lv_rpc_session *lv_rpc_session_new(const struct lv_rpc_method *methods, void *app,
                                          lv_rpc_send_fn send, void *io);
/* The caller's role (default admin); a call needing more gets -32003 and denied(io, method)
 * runs, e.g. to log it. */
void lv_rpc_session_set_done(struct lv_rpc_session *s, lv_rpc_done_fn done);
void lv_rpc_session_set_role(struct lv_rpc_session *s, enum lv_rpc_role role,
                             void (*denied)(void *io, const char *method));

/* Who the caller is, as the transport's kernel says (SO_PEERCRED): handlers that act on
 * the caller's behalf (e.g. run something as a user) need more than its role. */
void lv_rpc_session_set_peer(struct lv_rpc_session *s, uid_t uid, gid_t gid);
/* 0 with the caller's uid and gid, or -1 if the transport never said (treat it as a
 * stranger). */
int lv_rpc_call_peer(const struct lv_rpc_call *call, uid_t *uid, gid_t *gid);

/* Cancels parked calls (their cancel hooks run) and frees the session. */
void lv_rpc_session_free(struct lv_rpc_session *s);
/* Handles one received line: a request, a notification or a batch. */
void lv_rpc_session_handle(struct lv_rpc_session *s, const char *line, size_t len);
/* Number of requests received whose responses are not sent yet. */
size_t lv_rpc_session_pending(const struct lv_rpc_session *s);
/* Number of calls dispatched and not answered yet (parked), the one running included. */
size_t lv_rpc_session_open_calls(const struct lv_rpc_session *s);
/* Sends a server-initiated notification. */
void lv_rpc_session_notify(struct lv_rpc_session *s, const char *method, json_t *params);
/* Sends a bare error response (id null), e.g. before closing on an oversize line. */
void lv_rpc_session_send_error(struct lv_rpc_session *s, int code, const char *message);

/* Completing a call: both steal result/data. After either, the call is gone. */
void lv_rpc_reply(struct lv_rpc_call *call, json_t *result);
/* The same with the result already as compact JSON text (malloc'd, stolen): for big
 * replies (status of thousands of workers) written without building jansson objects. */
void lv_rpc_reply_text(struct lv_rpc_call *call, char *result);
void lv_rpc_fail(struct lv_rpc_call *call, int code, const char *message, json_t *data);
void lv_rpc_failf(struct lv_rpc_call *call, int code, json_t *data, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Marks a call as answered later; cancel(arg) runs if its session closes first, after
 * which the call must not be used. */
void lv_rpc_park(struct lv_rpc_call *call, void (*cancel)(void *arg), void *arg);
/* The session a call belongs to (e.g. to find the connection's peer). */
struct lv_rpc_session *lv_rpc_call_session(const struct lv_rpc_call *call);
void *lv_rpc_session_io(const struct lv_rpc_session *s);

/* The shared params validator: NULL params become {}; -1 with a message naming the
 * field ("params.target: must be a string") on failure. */
int lv_rpc_check_params(const struct lv_rpc_param *schema, json_t *params, char *err,
                        size_t errlen);

#endif
