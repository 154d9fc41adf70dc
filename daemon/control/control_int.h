/* control_int: the control socket's own types, shared by control.c (connections and
 * their sessions) and subscribers.c (who receives events and log lines). Not for others. */
#ifndef LV_CONTROL_INT_H
#define LV_CONTROL_INT_H

#include <stdbool.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "daemon/control/control.h"
#include "daemon/control/peers.h"
#include "daemon/control/request_stats.h"
#include "daemon/control/replymem.h"
#include "daemon/lib/sockfile.h"

struct client {
	LIST_ENTRY(client) link; /* in ctl->clients */
	struct control *ctl;
	struct bufferevent *bev;
	struct lv_rpc_session *session;
	int closing;            /* 1: close once the output is written; 2: dropped (freed next) */
	unsigned sub_mask;      /* subscribed events, 0 for none */
	char *sub_target;       /* only events of this pool or worker, or NULL */
	struct event *linger;   /* frees it: after a last notice's 30 s, or at once once dropped */
	struct event *more;     /* serves the rest of its requests on the next loop turn */
	struct ucred peer;      /* who connected (SO_PEERCRED, as of connect()) */
	bool privileged;        /* root or the daemon's user: not counted against a uid */
	enum lv_rpc_role role;  /* its role under config generation role_gen */
	unsigned role_gen;
	bool follows;           /* receives log lines ... */
	char *follow_target;    /* ... of this pool or worker, or of all */
	unsigned long long skipped; /* fell behind: lines skipped until it reads half its queue */
	struct replymem_user out; /* its unread replies, as counted in ctl->replies */
};

struct control {
	struct supervisor *sup;
	const struct lv_rpc_method *methods;
	struct evconnlistener *listener;
	struct event *resume;   /* re-enables accepting after EMFILE */
	LIST_HEAD(client_list, client) clients;
	unsigned n_clients;
	unsigned n_follows;     /* clients that follow log lines */
	struct peers peers;     /* roles and connection slots per uid */
	struct replymem replies;/* unread reply bytes of all clients */
	char *path;
	mode_t mode;
	struct lv_sockfile made; /* the socket file bound at path: only it is removed */
	bool adopted;           /* passed by systemd: its path is not ours to remove */
	struct request_stats stats; /* what it answered, for /metrics */
};

/* The client's role under the access list in force now (a reload may revoke it). */
enum lv_rpc_role control_client_role(struct client *cl);
/* Frees the client (a timer callback: arg is the client). */
void control_on_linger(evutil_socket_t fd, short what, void *arg);
/* Stops reading from and sending to the client: it has 30 s to read what is queued (a
 * last notice), then it is disconnected; sooner once it has read it. */
void subscribers_close_after_notice(struct client *cl);
/* A follower that fell behind hears how many lines it missed before the next one. */
void subscribers_send_skipped(struct client *cl);
/* Whether a stream's target ("POOL", "POOL:INDEX" or NULL for all) covers an item. */
bool subscribers_target_matches(const char *target, const char *pool, const char *worker);
/* Whether a subscriber or follower may still receive; if a reload took its role away,
 * its stream ends here with a -32003 notice. */
bool subscribers_may_stream(struct client *cl);

#endif
