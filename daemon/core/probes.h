/* probes: a worker's startup, liveness and readiness probes (docs/probes.md), with the
 * Kubernetes semantics: the startup probe gates the others and its failure is a failed
 * start; a liveness failure restarts the worker (reason "probe"); readiness is a flag of a
 * running worker that "after", rolling restarts, /readyz and the metrics read. */
#ifndef LV_PROBES_H
#define LV_PROBES_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "daemon/core/fsm.h"
#include "daemon/core/probe_exec.h"
#include "daemon/proc/probe_net.h"

struct worker;

struct probe_state {
	struct worker *w;
	enum lv_probe_role role;
	struct event *timer;              /* the next attempt, or the attempt's end (exec) */
	struct probe_net *net;            /* an http or tcp attempt on its way */
	struct probe_keep keep;           /* http: the connection kept between attempts */
	char *target;                     /* http, tcp: expanded for this worker, while it runs */
	regex_t re;                       /* http: the body's regex */
	bool re_ok;                       /* re is compiled (while the probe runs) */
	bool in_flight;
	uint64_t attempt_us;              /* when the attempt began */
	unsigned successes, failures;     /* consecutive */
	bool passed;                      /* startup: it passed; readiness: ready now */
	int last;                         /* -1 no result yet, 0 failed, 1 succeeded */
	char why[160];                    /* what the last result said */
	struct probe_proc exec;           /* exec: its process */
};

struct worker_probes {
	struct probe_state p[LV_PROBE_ROLES];
	/* log probes watch every line from the process's start, whenever their probe runs */
	regex_t log_re[LV_PROBE_ROLES];
	bool log_re_ok[LV_PROBE_ROLES];
	bool log_seen[LV_PROBE_ROLES];    /* a line matched since the process started */
	bool ready_owed;                  /* readiness came before the startup probe passed */
};

/* Sets up w's probes (nothing runs yet); 0 or -1 (no memory). */
int probes_init(struct worker *w);
void probes_free(struct worker *w);
/* w moved from `from` to w->state: probes start, stop or hand over. */
void probes_state_changed(struct worker *w, enum worker_state from);
/* The process reported readiness: false while a startup probe has not passed (the
 * readiness is then owed, and handed on once it has). */
bool probes_let_ready(struct worker *w);
/* Readiness of a running worker: its readiness probe's verdict, true without one. */
bool probes_ready(const struct worker *w);
/* A captured line of w, for its log probe. */
void probes_line(void *arg, const char *text, size_t len);

/* What a verdict asks of its worker; the core installs worker.c's (process_hooks.c), so
 * that probes, below the worker, never call up into it. */
struct probe_hooks {
	void (*failed)(struct worker *w, const char *detail); /* startup or liveness, past its
	                                                        * threshold */
	void (*ready)(struct worker *w);  /* the readiness it owed: its startup probe passed */
};

#endif
