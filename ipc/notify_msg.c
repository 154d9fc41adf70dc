/* notify_msg: splits a datagram into newline-separated assignments and keeps the ones
 * loopvisor knows; unknown ones are ignored, as systemd does. */
#include "ipc/notify_msg.h"

#include <string.h>

static bool is(const char *line, size_t len, const char *what)
{
	return len == strlen(what) && !memcmp(line, what, len);
}

void lv_notify_parse(const char *data, size_t len, struct lv_notify_msg *out)
{
	memset(out, 0, sizeof *out);
	for (const char *p = data, *end = data + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (is(p, n, "READY=1"))
			out->ready = true;
		else if (is(p, n, "WATCHDOG=1"))
			out->watchdog = true;
		else if (is(p, n, "STOPPING=1"))
			out->stopping = true;
		else if (n >= 7 && !memcmp(p, "STATUS=", 7)) {
			out->status = p + 7;
			out->status_len = n - 7 > 255 ? 255 : n - 7;
		}
		p += n + 1;
	}
}
