/* peers: admission of control peers: roles from SO_PEERCRED and control.access, looked up
 * once per uid and reload, and connection slots bounded per uid with a reserve for root. */
#include "daemon/control/peers.h"

#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "daemon/control/control.h"
#include "daemon/lib/clock.h"
#include "daemon/lib/log.h"

bool peer_privileged(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/* Every group of the uid, not only the primary one; a user in more groups than a fixed
 * buffer holds is asked again with room for all. */
static bool in_group(const struct ucred *peer, gid_t gid)
{
	gid_t fixed[64], *groups = fixed;
	int n = 64, rc;
	struct passwd *pw;
	bool found = false;

	if (peer->gid == gid)
		return true;
	if (!(pw = getpwuid(peer->uid)))
		return false;
	if ((rc = getgrouplist(pw->pw_name, pw->pw_gid, groups, &n)) < 0 && n > 64 &&
	    (groups = calloc((size_t)n, sizeof *groups)))
		rc = getgrouplist(pw->pw_name, pw->pw_gid, groups, &n);
	for (int i = 0; rc >= 0 && i < n && !found; i++)
		found = groups[i] == gid;
	if (groups != fixed)
		free(groups);
	return found;
}

static enum lv_rpc_role role_from_access(const struct lv_config *cfg, const struct ucred *peer)
{
	int role = LV_ROLE_NONE;

	for (size_t i = 0; i < cfg->n_access; i++) {
		const struct lv_access *a = &cfg->access[i];

		if (a->role > role && (a->is_group ? in_group(peer, a->gid) : a->uid == peer->uid))
			role = a->role;
	}
	return (enum lv_rpc_role)role;
}

enum lv_rpc_role peers_role(struct peers *ps, const struct lv_config *cfg, unsigned gen,
                            const struct ucred *peer)
{
	struct peer_role_entry *slot;

	if (peer->uid == (uid_t)-1)
		return LV_ROLE_NONE; /* credentials unknown */
	if (peer_privileged(peer->uid))
		return LV_ROLE_ADMIN;
	for (unsigned i = 0; i < LV_PEER_ROLE_CACHE; i++) {
		struct peer_role_entry *e = &ps->roles[i];

		if (e->used && e->gen == gen && e->uid == peer->uid && e->gid == peer->gid)
			return e->role;
	}
	slot = &ps->roles[ps->next_role++ % LV_PEER_ROLE_CACHE];
	*slot = (struct peer_role_entry){ .uid = peer->uid, .gid = peer->gid, .gen = gen,
	                                  .role = role_from_access(cfg, peer), .used = true };
	return slot->role;
}

static struct peer_uid *uid_entry(struct peers *ps, uid_t uid)
{
	for (size_t i = 0; i < ps->n_uids; i++)
		if (ps->uids[i].uid == uid)
			return &ps->uids[i];
	return NULL;
}

/* NULL if a peer of uid may take another slot, else the limit it hits (and *max). */
static const char *slot_refused(struct peers *ps, uid_t uid, unsigned n_all, unsigned *max)
{
	struct peer_uid *u;

	*max = LV_CONTROL_MAX_CLIENTS;
	if (n_all >= LV_CONTROL_MAX_CLIENTS)
		return "connections";
	if (peer_privileged(uid))
		return NULL;
	if ((u = uid_entry(ps, uid)) && u->n >= LV_CONTROL_MAX_PER_UID) {
		*max = LV_CONTROL_MAX_PER_UID;
		return "connections_per_uid";
	}
	*max = LV_CONTROL_MAX_CLIENTS - LV_CONTROL_RESERVED;
	return ps->n_others >= *max ? "connections" : NULL;
}

static void log_refusal(struct peers *ps, const struct ucred *peer, const char *why)
{
	unsigned unlogged = ps->refusals.count;

	if (!lv_ratewin_roll(&ps->refusals, lv_now_ms())) { /* one line a second at most */
		lv_ratewin_charge(&ps->refusals, 0);
		return;
	}
	log_warn("control: refused a connection of uid %u (pid %d): %s (and %u more since the "
	         "last such message)", (unsigned)peer->uid, (int)peer->pid, why, unlogged);
}

/* Says why in one line (never waiting: a fresh socket has room for it) and closes. */
static void refuse(struct peers *ps, int fd, const struct ucred *peer, const char *limit,
                   unsigned max)
{
	char line[320];
	int n;

	if (!limit)
		n = snprintf(line, sizeof line, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":%d,"
		             "\"message\":\"permission denied: uid %u has no role on this socket\"},"
		             "\"id\":null}\n", LV_RPC_PERMISSION_DENIED, (unsigned)peer->uid);
	else
		n = snprintf(line, sizeof line, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":%d,"
		             "\"message\":\"too many connections (%s: %u)\",\"data\":{\"limit\":"
		             "\"%s\",\"max\":%u}},\"id\":null}\n", LV_RPC_LIMIT_REACHED, limit, max,
		             limit, max);
	if (send(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_debug("control: the refused peer is gone already");
	close(fd);
	log_refusal(ps, peer, limit ? limit : "no role");
}

static int count_in(struct peers *ps, uid_t uid)
{
	struct peer_uid *u = uid_entry(ps, uid), *grown;

	if (!u) {
		if (!(grown = realloc(ps->uids, (ps->n_uids + 1) * sizeof *grown)))
			return -1;
		ps->uids = grown;
		u = &ps->uids[ps->n_uids++];
		*u = (struct peer_uid){ .uid = uid, .n = 0 };
	}
	u->n++;
	ps->n_others++;
	return 0;
}

bool peers_admit(struct peers *ps, const struct lv_config *cfg, unsigned gen, unsigned n_all,
                 int fd, struct ucred *peer)
{
	socklen_t len = sizeof *peer;
	const char *limit;
	unsigned max;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, peer, &len) < 0)
		peer->uid = (uid_t)-1; /* unknown: no role at all */
	if (peers_role(ps, cfg, gen, peer) == LV_ROLE_NONE) {
		refuse(ps, fd, peer, NULL, 0);
		return false;
	}
	if ((limit = slot_refused(ps, peer->uid, n_all, &max))) {
		refuse(ps, fd, peer, limit, max);
		return false;
	}
	if (!peer_privileged(peer->uid) && count_in(ps, peer->uid) < 0) {
		close(fd);
		return false;
	}
	return true;
}

void peers_leave(struct peers *ps, uid_t uid)
{
	struct peer_uid *u;

	if (peer_privileged(uid) || !(u = uid_entry(ps, uid)))
		return;
	ps->n_others--;
	if (--u->n == 0)
		*u = ps->uids[--ps->n_uids];
}

void peers_free(struct peers *ps)
{
	free(ps->uids);
	ps->uids = NULL;
	ps->n_uids = 0;
}
