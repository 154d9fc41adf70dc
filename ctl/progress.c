/* progress: while start, stop or restart waits, one line on the terminal that counts the
 * workers there ("412/1000 running"), fed by the event stream on a second connection and
 * rewritten in place at most ten times a second; cleared before the summary. */
#include "ctl/progress.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl/client.h"

struct progress {
	struct lv_client *sub;
	FILE *tty;
	const char *word;          /* "running", "stopped", "replaced" */
	const char *done_event;    /* the event that brings a worker there */
	bool count_now;            /* workers there already count (start, stop) */
	bool rolling;              /* pool.rolling events say it all */
	json_t *targets;           /* the commands' targets: POOL or POOL:INDEX */
	json_t *there;             /* name -> true: the workers counted */
	unsigned total, rolled, roll_total;
	long long drawn_ms;
	bool shown;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool targeted(const struct progress *p, const char *worker)
{
	const json_t *t;
	size_t i, len = strcspn(worker, ":");

	json_array_foreach(p->targets, i, t) {
		const char *s = json_string_value(t);

		if (!strcmp(s, worker) || (strlen(s) == len && !strncmp(s, worker, len)))
			return true;
	}
	return false;
}

static void draw(struct progress *p, bool force)
{
	long long now = now_ms();

	if (!force && now - p->drawn_ms < 100)
		return;
	p->drawn_ms = now;
	if (p->rolling)
		fprintf(p->tty, "\r\033[K%u/%u replaced, one at a time", p->rolled, p->roll_total);
	else
		fprintf(p->tty, "\r\033[K%zu/%u %s", json_object_size(p->there), p->total, p->word);
	fflush(p->tty);
	p->shown = true;
}

/* Counts what status says now: the workers targeted, and those there already. */
static int take_status(struct progress *p, struct lv_client *c)
{
	json_t *result, *error, *w;
	size_t i;

	if (lv_client_call(c, "status", NULL, 10000, &result, &error) < 0 || error) {
		json_decref(error);
		return -1;
	}
	json_array_foreach(json_object_get(result, "workers"), i, w) {
		const char *name = json_string_value(json_object_get(w, "name"));
		const char *state = json_string_value(json_object_get(w, "state"));

		if (!name || !targeted(p, name))
			continue;
		p->total++;
		if (p->count_now && state && !strcmp(state, p->word))
			json_object_set_new(p->there, name, json_true());
	}
	json_decref(result);
	return 0;
}

struct progress *progress_begin(FILE *tty, const char *socket, struct lv_client *c,
                                const char *cmd, bool rolling, const json_t *targets)
{
	struct progress *p = calloc(1, sizeof *p);
	json_t *res = NULL, *err = NULL;

	if (!p)
		return NULL;
	p->tty = tty;
	p->rolling = rolling;
	p->targets = json_deep_copy(targets);
	p->there = json_object();
	p->count_now = strcmp(cmd, "restart") != 0;
	p->word = !strcmp(cmd, "stop") ? "stopped" : "running";
	p->done_event = !strcmp(cmd, "stop") ? "worker.stopped" : "worker.running";
	/* subscribed before status is read, so that no change falls between the two */
	if (!(p->sub = lv_client_connect(socket)) ||
	    lv_client_call(p->sub, "subscribe", NULL, 10000, &res, &err) < 0 || err ||
	    take_status(p, c) < 0) {
		json_decref(err);
		progress_end(p);
		return NULL;
	}
	json_decref(res);
	return p;
}

/* Drops what streamed in before the commands went out (a restart counts from there). */
void progress_sent(struct progress *p)
{
	char *line;

	if (!p || p->count_now)
		return;
	while ((line = lv_client_read_line(p->sub, 0)) != NULL)
		free(line);
}

static void take_event(struct progress *p, const json_t *ev)
{
	const char *event = json_string_value(json_object_get(ev, "event"));
	const char *worker = json_string_value(json_object_get(ev, "worker"));
	const char *pool = json_string_value(json_object_get(ev, "pool"));

	if (!event)
		return;
	if (p->rolling && !strcmp(event, "pool.rolling") && pool && targeted(p, pool)) {
		p->rolled = (unsigned)json_integer_value(json_object_get(ev, "done"));
		p->roll_total = (unsigned)json_integer_value(json_object_get(ev, "total"));
	} else if (worker && targeted(p, worker)) {
		if (!strcmp(event, p->done_event))
			json_object_set_new(p->there, worker, json_true());
		else if (p->count_now)
			json_object_del(p->there, worker); /* left again */
	}
}

void progress_pump(struct progress *p)
{
	char *line;
	bool any = false;

	if (!p)
		return;
	while ((line = lv_client_read_line(p->sub, 0)) != NULL) {
		json_t *msg = json_loads(line, 0, NULL);

		take_event(p, json_object_get(msg, "params"));
		json_decref(msg);
		free(line);
		any = true;
	}
	if (any || !p->shown)
		draw(p, !p->shown);
}

void progress_clear(struct progress *p)
{
	if (!p || !p->shown)
		return;
	fprintf(p->tty, "\r\033[K");
	fflush(p->tty);
	p->shown = false;
}

void progress_end(struct progress *p)
{
	if (!p)
		return;
	progress_clear(p);
	if (p->sub)
		lv_client_close(p->sub);
	json_decref(p->targets);
	json_decref(p->there);
	free(p);
}
