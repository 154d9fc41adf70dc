/* zygote_wire: what travels on a zygote's socket (a SOCK_SEQPACKET pair). The daemon sends
 * two kinds of request, one message each: a spawn, as JSON with its descriptors attached in
 * a fixed order (error pipe, stdout, stderr, channels, listening sockets, cgroup leaf), and
 * a signal for
 * one of the zygote's workers (struct zygote_signal, no answer). The zygote sends struct
 * zygote_msg back: SPAWNED with the worker's pid (or minus the errno of a failed fork) for
 * each spawn, in order, and EXITED with pid and wait status for each worker that exited,
 * never before that worker's SPAWNED and always before the zygote reaps it. */
#ifndef LV_ZYGOTE_WIRE_H
#define LV_ZYGOTE_WIRE_H

#include <stdint.h>
#include <jansson.h>

#include "worker/spawn.h"

#define ZYGOTE_FD 3 /* the zygote's end of its socket */
#define ZYGOTE_MAX_MSG (1 << 20)
#define ZYGOTE_MAX_FDS (4 + LV_LOOPS_MAX + LV_LISTEN_MAX)

struct zygote_msg {
	int32_t kind; /* ZYGOTE_SPAWNED or ZYGOTE_EXITED */
	int32_t pid;  /* SPAWNED: the worker, or -errno */
	int32_t status;
};
/* Signal pid (group: its process group) if it is a child the zygote has not reaped yet. A
 * reaped pid may belong to anyone by now; only the reaper knows, so only it may decide. */
struct zygote_signal {
	int32_t kind; /* ZYGOTE_SIGNAL: a spawn request is JSON text, whose first byte is '{' */
	int32_t pid;
	int32_t sig;
	int32_t group;
};
enum { ZYGOTE_SPAWNED, ZYGOTE_EXITED, ZYGOTE_SIGNAL };

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
