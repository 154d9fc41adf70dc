/* zygote_wire: what travels on a zygote's socket (a SOCK_SEQPACKET pair). A request is
 * one message: the spawn as JSON with its descriptors attached in a fixed order (error
 * pipe, stdout, stderr, channels, listening sockets). The zygote sends struct zygote_msg
 * back: SPAWNED with the worker's pid (or minus the errno of a failed fork) for each
 * request, in order, and EXITED with pid and wait status for each worker it reaped, never
 * before that worker's SPAWNED. */
#ifndef LV_ZYGOTE_WIRE_H
#define LV_ZYGOTE_WIRE_H

#include <stdint.h>
#include <jansson.h>

#include "worker/spawn.h"

#define ZYGOTE_FD 3 /* the zygote's end of its socket */
#define ZYGOTE_MAX_MSG (1 << 20)
#define ZYGOTE_MAX_FDS (3 + LV_LOOPS_MAX + LV_LISTEN_MAX)

struct zygote_msg {
	int32_t kind; /* ZYGOTE_SPAWNED or ZYGOTE_EXITED */
	int32_t pid;  /* SPAWNED: the worker, or -errno */
	int32_t status;
};
enum { ZYGOTE_SPAWNED, ZYGOTE_EXITED };

/* The daemon's side: the request for sp, and its descriptors in wire order (returns how
 * many; fds holds ZYGOTE_MAX_FDS). */
json_t *zygote_wire_request(const struct lv_spawn *sp);
int zygote_wire_fds(const struct lv_spawn *sp, int *fds);

/* The zygote's side: a spawn rebuilt from a request; every pointer points into doc or
 * into this struct. The caller fills doc and fds; parse fills the rest (0, or -1 for a
 * request that does not hold together); free closes the descriptors. */
struct wire_spawn {
	struct lv_spawn sp;
	json_t *doc;
	char **argv, **env, **listen_names;
	int fds[ZYGOTE_MAX_FDS], n_fds;
	int channels[LV_LOOPS_MAX];
	struct lv_pool_config limits;
};
int zygote_wire_parse(struct wire_spawn *ws);
void zygote_wire_free(struct wire_spawn *ws);

#endif
