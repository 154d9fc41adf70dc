/* fuzz_notify: the sd_notify datagram parser the daemon runs on worker datagrams. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ipc/notify_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lv_notify_msg m;
	char copy[256];

	lv_notify_parse((const char *)data, size, &m);
	if (m.status) /* what the daemon copies out of it */
		memcpy(copy, m.status, m.status_len);
	return 0;
}
