/* zygote_wire: the spawn request, written by the daemon and read by a zygote (see
 * zygote_wire.h). */
#include "daemon/proc/zygote_wire.h"

#include <stdlib.h>
#include <unistd.h>

/* ---- written by the daemon --------------------------------------------------------- */

static json_t *strings(char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; v && (n ? i < n : v[i] != NULL); i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

json_t *zygote_wire_request(const struct lv_spawn *sp)
{
	json_t *limits = json_null();

	if (sp->limits) {
		json_t *rl = json_array();

		for (unsigned i = 0; i < sp->limits->n_rlimits; i++)
			json_array_append_new(rl, json_pack("[i, I]", sp->limits->rlimits[i].resource,
			                                    (json_int_t)sp->limits->rlimits[i].value));
		limits = json_pack("{s:b, s:i, s:o}", "no_new_privs", sp->limits->no_new_privs,
		                   "umask", sp->limits->umask, "rlimits", rl);
	}
	/* not the supervisor pid: the worker's parent is the zygote, which fills it in */
	return json_pack("{s:i, s:s, s:i, s:s, s:o, s:o, s:s?, s:b, s:i, s:i, s:s?, s:s?,"
	                 " s:O?, s:i, s:i, s:o, s:s?, s:I, s:b, s:b, s:o, s:b}",
	                 "kind", sp->kind, "pool", sp->pool, "index", sp->index, "worker", sp->worker,
	                 "argv", strings(sp->argv, 0),
	                 "env", strings(sp->env, 0), "cwd", sp->cwd, "set_ids", sp->set_ids,
	                 "uid", (int)sp->uid, "gid", (int)sp->gid, "user", sp->user,
	                 "module_path", sp->module_path, "params", sp->params, "loops", sp->loops,
	                 "heartbeat_ms", sp->heartbeat_ms,
	                 "listen_names", strings(sp->listen_names, sp->n_listen),
	                 "notify_socket", sp->notify_socket, "nofile_soft",
	                 (json_int_t)sp->nofile_soft, "output_null", sp->output_null, "capture",
	                 sp->stdout_fd >= 0, "limits", limits, "cgroup", sp->cgroup_fd >= 0);
}

int zygote_wire_fds(const struct lv_spawn *sp, int *fds)
{
	int n = 0;

	fds[n++] = sp->error_fd;
	if (sp->stdout_fd >= 0) {
		fds[n++] = sp->stdout_fd;
		fds[n++] = sp->stderr_fd;
	}
	for (unsigned i = 0; sp->kind == LV_KIND_MODULE && i < sp->loops; i++)
		fds[n++] = sp->channel_fds[i];
	for (unsigned i = 0; i < sp->n_listen; i++)
		fds[n++] = sp->listen_fds[i];
	if (sp->cgroup_fd >= 0)
		fds[n++] = sp->cgroup_fd;
	return n;
}

/* ---- read by a zygote ------------------------------------------------------------- */

static char **string_vector(const json_t *a)
{
	char **v = calloc(json_array_size(a) + 1, sizeof *v);
	size_t i;
	json_t *s;

	if (!v)
		return NULL;
	json_array_foreach(a, i, s)
		v[i] = (char *)json_string_value(s);
	return v;
}

static const char *str_or_null(const json_t *doc, const char *key)
{
	return json_string_value(json_object_get(doc, key));
}

int zygote_wire_parse(struct wire_spawn *ws)
{
	struct lv_spawn *sp = &ws->sp;
	json_t *d = ws->doc, *limits = json_object_get(d, "limits"), *v;
	int next = 0, need;
	size_t i;

	sp->kind = (enum lv_pool_kind)json_integer_value(json_object_get(d, "kind"));
	sp->pool = str_or_null(d, "pool");
	sp->index = (unsigned)json_integer_value(json_object_get(d, "index"));
	sp->worker = str_or_null(d, "worker");
	sp->cwd = str_or_null(d, "cwd");
	sp->set_ids = json_is_true(json_object_get(d, "set_ids"));
	sp->uid = (uid_t)json_integer_value(json_object_get(d, "uid"));
	sp->gid = (gid_t)json_integer_value(json_object_get(d, "gid"));
	sp->user = str_or_null(d, "user");
	sp->module_path = str_or_null(d, "module_path");
	sp->params = json_object_get(d, "params");
	sp->loops = (unsigned)json_integer_value(json_object_get(d, "loops"));
	sp->heartbeat_ms = (unsigned)json_integer_value(json_object_get(d, "heartbeat_ms"));
	sp->notify_socket = str_or_null(d, "notify_socket");
	sp->nofile_soft = (unsigned long)json_integer_value(json_object_get(d, "nofile_soft"));
	sp->output_null = json_is_true(json_object_get(d, "output_null"));
	if (!sp->pool || !sp->worker || sp->loops > LV_LOOPS_MAX ||
	    !(ws->argv = string_vector(json_object_get(d, "argv"))) ||
	    !(ws->env = string_vector(json_object_get(d, "env"))) ||
	    !(ws->listen_names = string_vector(json_object_get(d, "listen_names"))))
		return -1;
	sp->argv = ws->argv;
	sp->env = ws->env;
	sp->listen_names = ws->listen_names;
	sp->n_listen = (unsigned)json_array_size(json_object_get(d, "listen_names"));
	if (json_is_object(limits)) {
		ws->limits.no_new_privs = json_is_true(json_object_get(limits, "no_new_privs"));
		ws->limits.umask = (int)json_integer_value(json_object_get(limits, "umask"));
		json_array_foreach(json_object_get(limits, "rlimits"), i, v) {
			if (i >= sizeof ws->limits.rlimits / sizeof ws->limits.rlimits[0])
				return -1;
			ws->limits.rlimits[i].resource = (int)json_integer_value(json_array_get(v, 0));
			ws->limits.rlimits[i].value =
				(unsigned long long)json_integer_value(json_array_get(v, 1));
			ws->limits.n_rlimits++;
		}
		sp->limits = &ws->limits;
	}
	/* the descriptors, in the order zygote_wire_fds sent them */
	need = 1 + (json_is_true(json_object_get(d, "capture")) ? 2 : 0) +
	       (sp->kind == LV_KIND_MODULE ? (int)sp->loops : 0) + (int)sp->n_listen +
	       json_is_true(json_object_get(d, "cgroup"));
	if (need != ws->n_fds || sp->n_listen > LV_LISTEN_MAX)
		return -1;
	sp->error_fd = ws->fds[next++];
	sp->stdout_fd = sp->stderr_fd = -1;
	if (json_is_true(json_object_get(d, "capture"))) {
		sp->stdout_fd = ws->fds[next++];
		sp->stderr_fd = ws->fds[next++];
	}
	for (unsigned k = 0; sp->kind == LV_KIND_MODULE && k < sp->loops; k++)
		ws->channels[k] = ws->fds[next++];
	sp->channel_fds = ws->channels;
	sp->listen_fds = ws->fds + next;
	next += (int)sp->n_listen;
	sp->cgroup_fd = json_is_true(json_object_get(d, "cgroup")) ? ws->fds[next] : -1;
	sp->cgroup_placed = false;
	return 0;
}

void zygote_wire_free(struct wire_spawn *ws)
{
	for (int i = 0; i < ws->n_fds; i++)
		close(ws->fds[i]);
	json_decref(ws->doc);
	free(ws->argv);
	free(ws->env);
	free(ws->listen_names);
}
