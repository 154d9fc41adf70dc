/* fuzz_rpc: the control socket's input path, exactly as the daemon runs it: bytes into an
 * evbuffer, framed into lines (256 KiB max), each handled by a JSON-RPC session whose
 * methods check their params and answer. */
#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>

#include "ipc/frame.h"
#include "ipc/jsonrpc.h"

static void sink(void *io, const char *data, size_t len)
{
	(void)io;
	(void)data;
	(void)len;
}

static void reply(struct lv_rpc_call *call, json_t *params, void *app)
{
	(void)app;
	lv_rpc_reply(call, json_incref(params));
}

static void park(struct lv_rpc_call *call, json_t *params, void *app)
{
	(void)params;
	(void)app;
	lv_rpc_park(call, NULL, NULL); /* answered never: the session must clean it up */
}

static const struct lv_rpc_param p_target[] = {
	{ "target", LV_RPC_STRING, true }, { "n", LV_RPC_INT, false },
	{ "states", LV_RPC_STRING | LV_RPC_ARRAY, false }, { NULL, 0, false } };
static const struct lv_rpc_method methods[] = {
	{ "status", p_target, reply, LV_ROLE_READ },
	{ "wait", p_target, park, LV_ROLE_READ },
	{ "stop", p_target, reply, LV_ROLE_ADMIN },
	{ NULL, NULL, NULL, LV_ROLE_NONE },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lv_rpc_session *s = lv_rpc_session_new(methods, NULL, sink, NULL);
	struct evbuffer *in = evbuffer_new();
	const char *line;
	size_t len;

	lv_rpc_session_set_role(s, size % 2 ? LV_ROLE_READ : LV_ROLE_ADMIN, NULL);
	evbuffer_add(in, data, size);
	while (lv_frame_next(in, 256 * 1024, &line, &len) == LV_FRAME_LINE) {
		lv_rpc_session_handle(s, line, len);
		lv_frame_consume(in, len);
	}
	evbuffer_free(in);
	lv_rpc_session_free(s);
	return 0;
}
