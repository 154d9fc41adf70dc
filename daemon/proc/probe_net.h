/* probe_net: one http or tcp probe attempt on the daemon's loop, never blocking it: a
 * non-blocking connect to an IP literal (no name lookup), for http a GET on a connection
 * kept from one attempt to the next; one verdict by callback, within the timeout. */
#ifndef LV_PROBE_NET_H
#define LV_PROBE_NET_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>

#include "config/config.h"

#define LV_PROBE_BODY_MAX (64 * 1024) /* the body regex sees this much of the body at most */

/* ok, or why not ("status 503", "connect: Connection refused", "timed out after 1000 ms"). */
typedef void (*probe_done_fn)(void *arg, bool ok, const char *why);

/* An http probe's connection, kept between attempts (keep-alive: a probe each second of
 * 1,000 workers would otherwise be 1,000 connects and closes a second). */
struct probe_keep {
	struct event *ev;            /* the connection's read event (EV_PERSIST), NULL: none */
	struct probe_net *pn;        /* the attempt whose request is out on it, or NULL */
};

struct probe_net;

/* Starts a probe of cfg->kind (LV_PROBE_HTTP or LV_PROBE_TCP) at target, already expanded
 * for its worker; body_re: cfg->body compiled, or NULL; keep: the http connection to use and
 * keep (unused for tcp). done is called once, from the loop, never from within this call.
 * NULL with why when it cannot start (a bad target, no memory). */
struct probe_net *probe_net_start(struct event_base *base, const struct lv_probe_config *cfg,
                                  const char *target, const regex_t *body_re,
                                  struct probe_keep *keep, probe_done_fn done, void *arg,
                                  char *why, size_t whylen);
/* Drops a probe on its way: done is not called. */
void probe_net_cancel(struct probe_net *pn);
/* Closes a kept connection (no attempt may be on its way on it). */
void probe_keep_close(struct probe_keep *keep);

#endif
