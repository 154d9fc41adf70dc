/* loop_channel: the supervisor's end of the worker loop channels (see ipc/channel.h). */
#ifndef LV_CHANNELS_H
#define LV_CHANNELS_H

#include "daemon/core/supervisor.h"
#include "ipc/channel.h"

/* Watches fd (the supervisor end of a loop's socketpair); takes ownership of it. */
int channel_open(struct worker_loop *l, int fd);
void channel_close(struct worker_loop *l);
/* Sends a message with extra members (stolen, may be NULL); -1 if the loop has none, or
 * does not read it and has 64 KiB waiting (a stop is queued all the same). */
int channel_send(struct worker_loop *l, enum lv_msg_type type, json_t *members);

#endif
