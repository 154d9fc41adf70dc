/* status: the JSON shape of pools and workers that status, wait and start/stop replies
 * share, exactly as docs/protocol.md documents it. */
#include "daemon/supervisor.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "config/signame.h"

static json_t *exit_json(const struct worker *w)
{
	if (!w->has_exited)
		return json_null();
	if (WIFSIGNALED(w->last_status)) {
		const char *name = lv_signal_name(WTERMSIG(w->last_status));
		return name ? json_pack("{s:s}", "signal", name)
		            : json_pack("{s:i}", "signal", WTERMSIG(w->last_status));
	}
	return json_pack("{s:i}", "code", WEXITSTATUS(w->last_status));
}

/* Worker-supplied text may not be UTF-8: such bytes become '?' rather than a lost reply. */
static json_t *text_json(const char *text)
{
	json_t *s;
	char *copy;

	if (!text)
		return json_null();
	if ((s = json_string(text)) != NULL || !(copy = strdup(text)))
		return s ? s : json_null();
	for (char *c = copy; *c; c++)
		if ((unsigned char)*c >= 0x80)
			*c = '?';
	s = json_string(copy);
	free(copy);
	return s ? s : json_null();
}

json_t *worker_to_json(const struct worker *w)
{
	uint64_t uptime = w->pid > 0 ? lv_now_ms() - w->started_ms : 0;

	return json_pack("{s:s, s:s, s:i, s:s, s:o, s:i, s:I, s:o, s:o}",
	                 "name", w->name,
	                 "pool", w->pool->cfg.name,
	                 "index", (int)w->index,
	                 "state", worker_state_name(w->state),
	                 "pid", w->pid > 0 ? json_integer(w->pid) : json_null(),
	                 "restarts", (int)w->restarts,
	                 "uptime_ms", (json_int_t)uptime,
	                 "last_exit", exit_json(w),
	                 "last_error", text_json(w->last_error));
}

json_t *pool_to_json(const struct pool *p)
{
	return json_pack("{s:s, s:s, s:i, s:i}",
	                 "name", p->cfg.name,
	                 "kind", p->cfg.kind == LV_KIND_EXEC ? "exec" : "module",
	                 "workers", (int)p->cfg.workers,
	                 "running", (int)p->running);
}
