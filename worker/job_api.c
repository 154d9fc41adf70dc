/* job_api: the functions job modules call (declared in loopvisor/job.h), resolved against
 * the loopvisord binary when a worker dlopens a module. Each acts on one loop's ctx. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/channel.h"
#include "worker/loop.h"

struct event_base *lv_base(lv_ctx *ctx) { return ctx->base; }
const json_t *lv_params(lv_ctx *ctx) { return ctx->spawn->params; }
const char *lv_pool(lv_ctx *ctx) { return ctx->spawn->pool; }
unsigned lv_index(lv_ctx *ctx) { return ctx->spawn->index; }
unsigned lv_loop(lv_ctx *ctx) { return ctx->loop; }
unsigned lv_loops(lv_ctx *ctx) { return ctx->spawn->loops; }
void lv_set_data(lv_ctx *ctx, void *data) { ctx->data = data; }
void *lv_data(lv_ctx *ctx) { return ctx->data; }
unsigned lv_listen_count(lv_ctx *ctx) { return ctx->spawn->n_listen; }

int lv_listen_fd(lv_ctx *ctx, unsigned i)
{
	return i < ctx->spawn->n_listen ? ctx->spawn->listen_fds[i] : -1;
}

const char *lv_listen_name(lv_ctx *ctx, unsigned i)
{
	return i < ctx->spawn->n_listen ? ctx->spawn->listen_names[i] : NULL;
}

/* A message's text is whole up to LOG_TEXT_MAX: its channel line must stay under
 * LV_CHANNEL_MAX_LINE with JSON escapes, so text that escapes to more is cut to
 * LOG_TEXT_SAFE, which fits even if every byte becomes a six-byte \u escape. */
#define LOG_TEXT_MAX (LV_CHANNEL_MAX_LINE - 1024)
#define LOG_TEXT_SAFE ((LV_CHANNEL_MAX_LINE - 1024) / 6)

/* not UTF-8: keep the line, lose the odd bytes */
static json_t *log_text(char *msg)
{
	json_t *text = json_string(msg);

	if (!text) {
		for (char *c = msg; *c; c++)
			if ((unsigned char)*c >= 0x80)
				*c = '?';
		text = json_string(msg);
	}
	return text;
}

void lv_log(lv_ctx *ctx, int level, const char *fmt, ...)
{
	char small[2048], *big = NULL;
	va_list ap;
	json_t *text;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof small) { /* longer: whole, not cut at 2 KiB */
		size_t len = n < LOG_TEXT_MAX ? (size_t)n : LOG_TEXT_MAX;

		if ((big = malloc(len + 1))) {
			va_start(ap, fmt);
			vsnprintf(big, len + 1, fmt, ap);
			va_end(ap);
		}
	}
	text = log_text(big ? big : small);
	if (big && json_dumpb(text, NULL, 0, JSON_ENCODE_ANY) > LOG_TEXT_MAX) {
		size_t k = LOG_TEXT_SAFE;

		while (k > 0 && ((unsigned char)big[k] & 0xC0) == 0x80) /* not inside a character */
			k--;
		big[k] = '\0';
		json_decref(text);
		text = log_text(big);
	}
	free(big);
	lv_loop_send(ctx, lv_msg_new(LV_MSG_LOG, json_pack("{s:i, s:o}", "level", level, "msg", text)));
}

void lv_fail(lv_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx->fail, sizeof ctx->fail, fmt, ap);
	va_end(ap);
}

void lv_ready(lv_ctx *ctx)
{
	lv_loop_send_ready(ctx);
}

static int counter_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 63)
		return 0;
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      *c == '_' || *c == '.' || *c == '-'))
			return 0;
	return 1;
}

void lv_counter_add(lv_ctx *ctx, const char *name, long long delta)
{
	json_t *c;

	if (!counter_name_ok(name))
		return;
	c = json_object_get(ctx->counters, name);
	if (c)
		json_integer_set(c, json_integer_value(c) + delta);
	else if (json_object_size(ctx->counters) < LV_COUNTERS_MAX)
		json_object_set_new(ctx->counters, name, json_integer(delta));
}
