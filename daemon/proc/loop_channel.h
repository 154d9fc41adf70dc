/* loop_channel: the supervisor's end of a worker loop's channel (see ipc/channel.h): what
 * the loop reports, and the lag and counters it reported last. */
#ifndef LV_LOOP_CHANNEL_H
#define LV_LOOP_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <jansson.h>

#include "daemon/lib/ratewin.h"
#include "ipc/channel.h"

struct output;

/* What the channels report, with the owner and the index of the loop. */
struct loop_channel_hooks {
	void (*ready)(void *ctx, void *owner, unsigned loop);
	void (*beat)(void *ctx, void *owner, unsigned loop);          /* lag and counters are new */
	void (*misbehaved)(void *ctx, void *owner, const char *why);  /* floods, invalid messages */
	void (*inspected)(void *ctx, void *owner, unsigned loop, json_t *msg);
	void *ctx;
};

/* What every channel shares. */
struct loop_channels {
	struct event_base *base;
	struct loop_channel_hooks hooks;
};

struct loop_channel {
	struct loop_channels *all;
	void *owner;                         /* handed back in every report */
	unsigned index;                      /* which loop of its owner */
	const char *name;                    /* the owner's name, for the log */
	struct output *output;               /* where its lv_log lines go */
	struct bufferevent *bev;             /* module: this end of the loop's socketpair */
	int64_t lag_us, lag_max_us, events;  /* as last reported */
	json_t *counters;                    /* as last reported, or NULL */
	char *counters_text;                 /* their JSON text, when read without a parser */
	size_t counters_len;
	struct lv_ratewin window;            /* messages and their bytes this second */
	uint64_t throttled_ms;               /* the window last throttled */
	unsigned invalid_msgs;               /* invalid messages in all */
	unsigned window_reads, window_left;  /* reads this second, those that left bytes unread */
	size_t kept;                         /* bytes left in the input after the last read */
	unsigned flood_seconds;              /* consecutive seconds over budget or kept full */
	struct event *resume;                /* reads again after a throttled second */
};

/* Watches fd (the supervisor end of a loop's socketpair); takes ownership of it. */
int loop_channel_open(struct loop_channel *c, int fd);
/* Stops watching and closes it; what the loop reported stays until loop_channel_forget. */
void loop_channel_close(struct loop_channel *c);
/* A new process: its lag and counters are not known yet. */
void loop_channel_forget(struct loop_channel *c);
/* Sends a message with extra members (stolen, may be NULL); -1 if the loop has none, or
 * does not read it and has 64 KiB waiting (a stop is queued all the same). */
int loop_channel_send(struct loop_channel *c, enum lv_msg_type type, json_t *members);

#endif
