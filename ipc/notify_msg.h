/* notify_msg: parsing one sd_notify(3) datagram ("READY=1\nSTATUS=...") into the few
 * assignments loopvisor acts on. Pure: the daemon decides whose datagram it was. */
#ifndef LV_NOTIFY_MSG_H
#define LV_NOTIFY_MSG_H

#include <stdbool.h>
#include <stddef.h>

struct lv_notify_msg {
	bool ready, watchdog, stopping;
	const char *status;  /* into the datagram, or NULL */
	size_t status_len;   /* at most 255 */
};

void lv_notify_parse(const char *data, size_t len, struct lv_notify_msg *out);

#endif
