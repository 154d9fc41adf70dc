/* pidmap: pid -> process lookup in O(1), an open-addressing hash table.
 * SIGCHLD handling must not scan all processes, so every live pid is kept here. */
#ifndef LV_PIDMAP_H
#define LV_PIDMAP_H

#include <stddef.h>
#include <sys/types.h>

struct lv_pidmap {
	struct lv_pidmap_slot { pid_t pid; void *value; } *slots;
	size_t cap, used, tombstones;
};

int lv_pidmap_put(struct lv_pidmap *m, pid_t pid, void *value);
void *lv_pidmap_get(const struct lv_pidmap *m, pid_t pid);
void *lv_pidmap_del(struct lv_pidmap *m, pid_t pid);
void lv_pidmap_free(struct lv_pidmap *m);

#endif
