/* peers: who a control peer is: its role under the access list in force (cached per uid
 * until the next reload), and whether it may take one more connection slot. */
#ifndef LV_PEERS_H
#define LV_PEERS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "config/config.h"
#include "daemon/lib/ratewin.h"
#include "ipc/jsonrpc.h"

#define LV_PEER_ROLE_CACHE 64

struct peers {
	/* roles already worked out, by (uid, gid) and config generation: group lookups
	 * (getpwuid, getgrouplist) can be slow, and a peer may connect in a loop */
	struct peer_role_entry {
		uid_t uid;
		gid_t gid;
		unsigned gen;
		enum lv_rpc_role role;
		bool used;
	} roles[LV_PEER_ROLE_CACHE];
	unsigned next_role;
	struct peer_uid { uid_t uid; unsigned n; } *uids; /* connections per unprivileged uid */
	size_t n_uids;
	unsigned n_others;        /* connections of unprivileged peers in all */
	struct lv_ratewin refusals; /* began at the last log line about refusals; count: the
	                             * refusals since, not logged one by one */
};

/* root and the daemon's own user: admins, never limited per uid, and only they may use
 * the reserved connection slots and parked-wait places. */
bool peer_privileged(uid_t uid);

/* The peer's role under cfg's access list (by uid and by every group of the uid);
 * gen is the config generation the answer is cached under. */
enum lv_rpc_role peers_role(struct peers *ps, const struct lv_config *cfg, unsigned gen,
                            const struct ucred *peer);

/* Reads the credentials of a new connection into *peer and admits it (counted until
 * peers_leave) while n_all connections are open; or refuses it: answers one line
 * (-32003 no role, -32010 no slot left for it) and closes fd. Refusals are logged at most
 * once a second. Root and the daemon's user always find a slot left. */
bool peers_admit(struct peers *ps, const struct lv_config *cfg, unsigned gen, unsigned n_all,
                 int fd, struct ucred *peer);
/* An admitted connection of uid closed. */
void peers_leave(struct peers *ps, uid_t uid);
void peers_free(struct peers *ps);

#endif
