/* jsonrpc: the JSON-RPC 2.0 session machinery shared by the control socket and its tests.
 * Knows nothing about workers: methods come in a table, output goes through a callback. */
#include "ipc/jsonrpc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/queue.h>

#include "ipc/utf8.h"

/* One received line that owes the peer output: a single request or a batch. Units are
 * answered strictly in the order they arrived. */
struct lv_rpc_unit {
	STAILQ_ENTRY(lv_rpc_unit) link; /* in the session's queue of units */
	bool batch;
	size_t outstanding;  /* calls not yet answered */
	size_t n;            /* slots */
	char **slots;        /* response per call as compact JSON text, NULL for notifications */
};

struct lv_rpc_call {
	struct lv_rpc_session *session;
	struct lv_rpc_unit *unit;  /* NULL for a notification */
	size_t slot;
	json_t *id;                /* NULL for a notification */
	void (*cancel)(void *arg);
	void *cancel_arg;
	const struct lv_rpc_method *method; /* NULL until it is found */
	uint64_t start_us;
	LIST_ENTRY(lv_rpc_call) link; /* in the session's list of open calls */
};

struct lv_rpc_session {
	const struct lv_rpc_method *methods;
	void *app;
	lv_rpc_send_fn send;
	void *io;
	STAILQ_HEAD(lv_rpc_units, lv_rpc_unit) units; /* oldest first */
	size_t pending;
	LIST_HEAD(lv_rpc_calls, lv_rpc_call) calls;
	size_t n_calls;            /* calls dispatched and not answered yet (parked ones) */
	enum lv_rpc_role role;
	void (*denied)(void *io, const char *method);
	lv_rpc_done_fn done;
	bool has_peer;             /* uid/gid are known */
	uid_t uid;
	gid_t gid;
};

struct lv_rpc_session *lv_rpc_session_new(const struct lv_rpc_method *methods, void *app,
                                          lv_rpc_send_fn send, void *io)
{
	struct lv_rpc_session *s = calloc(1, sizeof *s);

	if (!s)
		return NULL;
	s->methods = methods;
	s->app = app;
	s->role = LV_ROLE_ADMIN;
	s->send = send;
	s->io = io;
	STAILQ_INIT(&s->units);
	LIST_INIT(&s->calls);
	return s;
}

static void unit_free(struct lv_rpc_unit *u)
{
	for (size_t i = 0; i < u->n; i++)
		free(u->slots[i]);
	free(u->slots);
	free(u);
}

static void call_unlink(struct lv_rpc_call *c)
{
	struct lv_rpc_session *s = c->session;

	LIST_REMOVE(c, link);
	s->n_calls--;
	json_decref(c->id);
	free(c);
}

void lv_rpc_session_free(struct lv_rpc_session *s)
{
	if (!s)
		return;
	while (!LIST_EMPTY(&s->calls)) {
		struct lv_rpc_call *c = LIST_FIRST(&s->calls);
		void (*cancel)(void *) = c->cancel;
		void *arg = c->cancel_arg;

		call_unlink(c);
		if (cancel)
			cancel(arg);
	}
	while (!STAILQ_EMPTY(&s->units)) {
		struct lv_rpc_unit *u = STAILQ_FIRST(&s->units);

		STAILQ_REMOVE_HEAD(&s->units, link);
		unit_free(u);
	}
	free(s);
}

void lv_rpc_session_set_role(struct lv_rpc_session *s, enum lv_rpc_role role,
                             void (*denied)(void *io, const char *method))
{
	s->role = role;
	s->denied = denied;
}

void lv_rpc_session_set_peer(struct lv_rpc_session *s, uid_t uid, gid_t gid)
{
	s->has_peer = true;
	s->uid = uid;
	s->gid = gid;
}

int lv_rpc_call_peer(const struct lv_rpc_call *call, uid_t *uid, gid_t *gid)
{
	if (!call->session->has_peer)
		return -1;
	*uid = call->session->uid;
	*gid = call->session->gid;
	return 0;
}

size_t lv_rpc_session_pending(const struct lv_rpc_session *s)
{
	return s->pending;
}

size_t lv_rpc_session_open_calls(const struct lv_rpc_session *s)
{
	return s->n_calls;
}

void *lv_rpc_session_io(const struct lv_rpc_session *s)
{
	return s->io;
}

struct lv_rpc_session *lv_rpc_call_session(const struct lv_rpc_call *call)
{
	return call->session;
}

/* Compact text of a JSON value (stolen), with one spare byte for a newline. */
static char *text_of(json_t *value)
{
	char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
	char *roomy = text ? realloc(text, strlen(text) + 2) : NULL;

	json_decref(value);
	if (!roomy)
		free(text);
	return roomy;
}

/* Sends a text from text_of as one line (uses its spare byte); NULL sends nothing. */
static void send_line(struct lv_rpc_session *s, char *text)
{
	size_t len;

	if (!text)
		return;
	len = strlen(text);
	text[len] = '\n';
	s->send(s->io, text, len + 1);
	text[len] = '\0';
}

/* A batch's responses as one array line; nothing when all were notifications. */
static void send_batch(struct lv_rpc_session *s, const struct lv_rpc_unit *u)
{
	size_t len = 1, at = 0;
	char *line;

	for (size_t i = 0; i < u->n; i++)
		len += u->slots[i] ? strlen(u->slots[i]) + 1 : 0;
	if (len == 1 || !(line = malloc(len + 1)))
		return;
	for (size_t i = 0; i < u->n; i++)
		if (u->slots[i]) {
			line[at] = at ? ',' : '[';
			at++;
			memcpy(line + at, u->slots[i], strlen(u->slots[i]));
			at += strlen(u->slots[i]);
		}
	line[at++] = ']';
	line[at++] = '\n';
	s->send(s->io, line, at);
	free(line);
}

/* Sends every finished unit at the head of the queue, keeping request order. */
static void flush_units(struct lv_rpc_session *s)
{
	struct lv_rpc_unit *u;

	while ((u = STAILQ_FIRST(&s->units)) && u->outstanding == 0) {
		if (u->batch) {
			send_batch(s, u);
		} else {
			send_line(s, u->slots[0]);
		}
		STAILQ_REMOVE_HEAD(&s->units, link);
		s->pending--;
		unit_free(u);
	}
}

/* jansson refuses a whole string for one byte that is not UTF-8 (a message cut by a
 * fixed-size buffer, a name a peer sent): the message is repaired instead, never lost. */
static json_t *error_object(int code, const char *message, json_t *data)
{
	json_t *e = json_pack("{s:i, s:s}", "code", code, "message", message);
	char *copy;

	if (!e && (copy = strdup(message))) {
		e = json_pack("{s:i, s:s}", "code", code, "message", lv_utf8_fix(copy));
		free(copy);
	}
	if (e && data)
		json_object_set_new(e, "data", data);
	else
		json_decref(data);
	return e;
}

/* The response when the real one cannot be encoded: every request with an id gets one. */
static char *fallback_response(json_t *id)
{
	char *idtext = id ? json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	char *resp = NULL;

	if (asprintf(&resp, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":%d,\"message\":"
	                    "\"internal error: the reply could not be encoded\"},\"id\":%s} ",
	             LV_RPC_INTERNAL_ERROR, idtext ? idtext : "null") < 0)
		abort(); /* out of memory: as unit_new and dispatch */
	resp[strlen(resp) - 1] = '\0'; /* the spare byte for the newline */
	free(idtext);
	return resp;
}

/* The response text; value is stolen (NULL: it could not be built). */
static char *response(json_t *id, const char *key, json_t *value)
{
	char *text = value ? text_of(json_pack("{s:s, s:o, s:O}", "jsonrpc", "2.0", key, value,
	                                       "id", id ? id : json_null()))
	                   : NULL;

	return text ? text : fallback_response(id);
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void lv_rpc_session_set_done(struct lv_rpc_session *s, lv_rpc_done_fn done)
{
	s->done = done;
}

static void complete(struct lv_rpc_call *c, char *resp, int code)
{
	struct lv_rpc_session *s = c->session;
	struct lv_rpc_unit *u = c->unit;

	if (s->done)
		s->done(s->io, c->method, code, now_us() - c->start_us);

	if (u && c->id) {
		u->slots[c->slot] = resp;
	} else {
		free(resp);
	}
	call_unlink(c);
	if (u) {
		u->outstanding--;
		flush_units(s);
	}
}

void lv_rpc_reply(struct lv_rpc_call *call, json_t *result)
{
	complete(call, response(call->id, "result", result ? result : json_null()), 0);
}

void lv_rpc_reply_text(struct lv_rpc_call *call, char *result)
{
	char *id = call->id ? json_dumps(call->id, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	char *resp = NULL;

	/* the same bytes lv_rpc_reply would make: jansson keeps insertion order */
	if (result && id && asprintf(&resp, "{\"jsonrpc\":\"2.0\",\"result\":%s,\"id\":%s} ",
	                             result, id) >= 0)
		resp[strlen(resp) - 1] = '\0'; /* the spare byte for the newline */
	else
		resp = NULL;
	free(id);
	free(result);
	if (!resp && call->id) {
		lv_rpc_fail(call, LV_RPC_INTERNAL_ERROR, "out of memory", NULL);
		return;
	}
	complete(call, resp, 0);
}

void lv_rpc_fail(struct lv_rpc_call *call, int code, const char *message, json_t *data)
{
	complete(call, response(call->id, "error", error_object(code, message, data)), code);
}

void lv_rpc_failf(struct lv_rpc_call *call, int code, json_t *data, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	lv_rpc_fail(call, code, lv_utf8_fix(msg), data);
}

void lv_rpc_park(struct lv_rpc_call *call, void (*cancel)(void *arg), void *arg)
{
	call->cancel = cancel;
	call->cancel_arg = arg;
}

void lv_rpc_session_notify(struct lv_rpc_session *s, const char *method, json_t *params)
{
	char *text = text_of(json_pack("{s:s, s:s, s:o}", "jsonrpc", "2.0", "method", method,
	                               "params", params ? params : json_object()));

	send_line(s, text);
	free(text);
}

void lv_rpc_session_send_error(struct lv_rpc_session *s, int code, const char *message)
{
	char *text = response(NULL, "error", error_object(code, message, NULL));

	send_line(s, text);
	free(text);
}

static const char *type_name(unsigned types)
{
	switch (types) {
	case LV_RPC_STRING: return "a string";
	case LV_RPC_INT: return "an integer";
	case LV_RPC_BOOL: return "a boolean";
	case LV_RPC_OBJECT: return "an object";
	case LV_RPC_ARRAY: return "an array";
	case LV_RPC_STRING | LV_RPC_INT: return "a string or an integer";
	case LV_RPC_STRING | LV_RPC_ARRAY: return "a string or an array";
	default: return "of another type";
	}
}

static bool type_ok(unsigned types, const json_t *v)
{
	return ((types & LV_RPC_STRING) && json_is_string(v)) ||
	       ((types & LV_RPC_INT) && json_is_integer(v)) ||
	       ((types & LV_RPC_BOOL) && json_is_boolean(v)) ||
	       ((types & LV_RPC_OBJECT) && json_is_object(v)) ||
	       ((types & LV_RPC_ARRAY) && json_is_array(v));
}

int lv_rpc_check_params(const struct lv_rpc_param *schema, json_t *params, char *err,
                        size_t errlen)
{
	const char *key;
	json_t *v;

	if (!json_is_object(params)) {
		snprintf(err, errlen, "params: must be an object");
		return -1;
	}
	json_object_foreach(params, key, v) {
		const struct lv_rpc_param *p = schema;

		while (p && p->name && strcmp(p->name, key) != 0)
			p++;
		if (!p || !p->name) {
			snprintf(err, errlen, "params.%s: unknown parameter", key);
			return -1;
		}
		if (!type_ok(p->types, v)) {
			snprintf(err, errlen, "params.%s: must be %s", key, type_name(p->types));
			return -1;
		}
	}
	for (const struct lv_rpc_param *p = schema; p && p->name; p++) {
		if (p->required && !json_object_get(params, p->name)) {
			snprintf(err, errlen, "params.%s: required", p->name);
			return -1;
		}
	}
	return 0;
}

static const struct lv_rpc_method *find_method(const struct lv_rpc_session *s, const char *name)
{
	for (const struct lv_rpc_method *m = s->methods; m->name; m++)
		if (strcmp(m->name, name) == 0)
			return m;
	return NULL;
}

static bool id_valid(const json_t *id)
{
	return json_is_string(id) || json_is_number(id) || json_is_null(id);
}

/* Validates the envelope; returns the method name or NULL with code/message set. */
static const char *check_envelope(json_t *req, int *code, const char **message)
{
	const char *key;
	json_t *v, *method = json_object_get(req, "method");

	*code = LV_RPC_INVALID_REQUEST;
	json_object_foreach(req, key, v) {
		if (strcmp(key, "jsonrpc") != 0 && strcmp(key, "method") != 0 &&
		    strcmp(key, "params") != 0 && strcmp(key, "id") != 0) {
			*message = "unknown member in request";
			return NULL;
		}
	}
	if (!json_is_string(json_object_get(req, "jsonrpc")) ||
	    strcmp(json_string_value(json_object_get(req, "jsonrpc")), "2.0") != 0) {
		*message = "jsonrpc must be \"2.0\"";
		return NULL;
	}
	if (!json_is_string(method)) {
		*message = "method must be a string";
		return NULL;
	}
	v = json_object_get(req, "params");
	if (v && !json_is_object(v) && !json_is_array(v)) { /* JSON-RPC 2.0, 4.2 */
		*message = "params must be an object or an array";
		return NULL;
	}
	return json_string_value(method);
}

static void dispatch(struct lv_rpc_session *s, struct lv_rpc_unit *u, size_t slot, json_t *req)
{
	struct lv_rpc_call *c = calloc(1, sizeof *c);
	json_t *id = json_is_object(req) ? json_object_get(req, "id") : NULL;
	const struct lv_rpc_method *m;
	const char *name, *message = NULL;
	json_t *params;
	char err[256];
	int code;

	if (!c)
		abort();
	c->session = s;
	c->slot = slot;
	c->start_us = s->done ? now_us() : 0;
	if (id && !id_valid(id))
		id = NULL;
	/* Everything that is not a valid notification owes a response. */
	c->id = id ? json_incref(id) : NULL;
	c->unit = u;
	LIST_INSERT_HEAD(&s->calls, c, link);
	s->n_calls++;

	if (!json_is_object(req)) {
		c->id = json_null();
		lv_rpc_fail(c, LV_RPC_INVALID_REQUEST, "request must be an object", NULL);
		return;
	}
	if (json_object_get(req, "id") && !id_valid(json_object_get(req, "id"))) {
		c->id = json_null();
		lv_rpc_fail(c, LV_RPC_INVALID_REQUEST, "id must be a string, a number or null", NULL);
		return;
	}
	if (!(name = check_envelope(req, &code, &message))) {
		if (!c->id)
			c->id = json_null();
		lv_rpc_fail(c, code, message, NULL);
		return;
	}
	if (!(m = find_method(s, name))) {
		lv_rpc_fail(c, LV_RPC_METHOD_NOT_FOUND, "method not found",
		            json_pack("{s:s}", "method", name));
		return;
	}
	c->method = m;
	if (s->role < m->role) {
		if (s->denied)
			s->denied(s->io, name);
		lv_rpc_fail(c, LV_RPC_PERMISSION_DENIED, "permission denied",
		            json_pack("{s:s}", "method", name));
		return;
	}
	params = json_object_get(req, "params");
	/* [] is how many clients say "no params": the same as none */
	if (json_is_array(params) && json_array_size(params) == 0)
		params = NULL;
	params = params ? json_incref(params) : json_object();
	if (lv_rpc_check_params(m->params, params, err, sizeof err) < 0) {
		lv_rpc_fail(c, LV_RPC_INVALID_PARAMS, lv_utf8_fix(err), NULL);
	} else {
		m->handler(c, params, s->app);
	}
	json_decref(params);
}

static struct lv_rpc_unit *unit_new(struct lv_rpc_session *s, bool batch, size_t n)
{
	struct lv_rpc_unit *u = calloc(1, sizeof *u);

	if (!u || !(u->slots = calloc(n ? n : 1, sizeof *u->slots)))
		abort();
	u->batch = batch;
	u->n = n ? n : 1;
	u->outstanding = u->n;
	STAILQ_INSERT_TAIL(&s->units, u, link);
	s->pending++;
	return u;
}

/* Spaces, tabs and a CR only: what a terminal sends for Enter. */
static bool blank(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			return false;
	return true;
}

void lv_rpc_session_handle(struct lv_rpc_session *s, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *doc;
	struct lv_rpc_unit *u;

	if (blank(line, len))
		return; /* nothing asked, nothing owed */
	doc = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!doc) {
		char msg[256];
		snprintf(msg, sizeof msg, "parse error: %s", jerr.text);
		lv_utf8_fix(msg);
		u = unit_new(s, false, 1);
		u->slots[0] = response(NULL, "error", error_object(LV_RPC_PARSE_ERROR, msg, NULL));
		u->outstanding = 0;
		flush_units(s);
		return;
	}
	if (json_is_array(doc)) {
		size_t n = json_array_size(doc);

		if (n == 0 || n > LV_RPC_MAX_BATCH) {
			u = unit_new(s, false, 1);
			u->slots[0] = response(NULL, "error", error_object(LV_RPC_INVALID_REQUEST,
			                       n ? "batch too large" : "empty batch", NULL));
			u->outstanding = 0;
			flush_units(s);
		} else {
			u = unit_new(s, true, n);
			/* Hold the unit back until every member dispatched. */
			u->outstanding++;
			for (size_t i = 0; i < n; i++)
				dispatch(s, u, i, json_array_get(doc, i));
			u->outstanding--;
			flush_units(s);
		}
	} else {
		u = unit_new(s, false, 1);
		dispatch(s, u, 0, doc);
	}
	json_decref(doc);
}
