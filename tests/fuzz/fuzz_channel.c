/* fuzz_channel: what a (possibly compromised) worker can send on its channel: framing,
 * parsing and typing of messages, as the supervisor reads them. */
#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>

#include "ipc/channel.h"

static void handle(void *arg, enum lv_msg_type type, json_t *msg)
{
	(void)arg;
	/* the supervisor reads these members of the messages it accepts */
	if (type != LV_MSG_INVALID && msg) {
		json_integer_value(json_object_get(msg, "lag_us"));
		json_string_value(json_object_get(msg, "msg"));
		json_is_object(json_object_get(msg, "counters"));
	}
}

/* the supervisor parses the counters of a heartbeat read without a parser */
static void heartbeat(void *arg, const struct lv_heartbeat *hb)
{
	(void)arg;
	json_decref(json_loadb(hb->counters, hb->counters_len, JSON_REJECT_DUPLICATES, NULL));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evbuffer *in = evbuffer_new();

	evbuffer_add(in, data, size);
	lv_channel_read(in, handle, heartbeat, NULL);
	evbuffer_free(in);
	return 0;
}
