/* fsm: the worker state machine as one pure function: (state, input, the facts it needs)
 * in, (next state, actions, delay) out. No I/O, no calls out of the core's arithmetic. */
#ifndef LV_FSM_H
#define LV_FSM_H

#include <stdbool.h>

#include "config/config.h"

enum worker_state {
	WS_STOPPED = 0,
	WS_WAITING,     /* wants to run, held back by the pools its pool follows ("after") */
	WS_SPAWNING,    /* its process is asked for (a zygote forks it): no pid yet */
	WS_STARTING,    /* its process runs and has not reported readiness yet */
	WS_RUNNING,
	WS_STOPPING,    /* asked to stop, its process has not exited yet */
	WS_BACKOFF,     /* waits out its restart delay */
	WS_FAILED,
};
#define WS_COUNT 8

/* The protocol knows six states: a waiting or spawning worker is "starting" on the wire. */
static inline enum worker_state fsm_on_wire(enum worker_state s)
{
	return s == WS_WAITING || s == WS_SPAWNING ? WS_STARTING : s;
}

enum fsm_input {
	FI_START,          /* command: start (forgets failures unless already on its way) */
	FI_STOP,           /* command: stop, and stay stopped */
	FI_RESTART,        /* command: stop the process if any, then start */
	FI_DEPS_READY,     /* the pools it follows run now */
	FI_SPAWNED,        /* the process asked for exists: its pid is known */
	FI_SPAWN_FAILED,   /* the process could not be made */
	FI_READY,          /* the process reported readiness */
	FI_EXITED,         /* the process exited */
	FI_TIMER,          /* the worker's one timer is due */
	FI_HUNG,           /* a loop of the process stopped beating */
	FI_FAULT,          /* the daemon found its process faulty: its startup (starting) or
	                    * liveness (running) probe failed past its threshold, or its
	                    * memory passed memory_restart */
};
#define FI_COUNT 11

/* Why the daemon is stopping a process for a fault it found (facts and step: fault): a
 * failed startup or liveness probe, or memory past memory_restart; while starting, the
 * fault is a failed start. */
enum fsm_fault { FSM_FAULT_NONE = 0, FSM_FAULT_STARTUP, FSM_FAULT_LIVENESS };

/* What the input finds: only facts of the worker, its pool and the daemon. */
struct fsm_facts {
	bool want_running;        /* desired state before the input */
	unsigned quick_failures;  /* consecutive short runs before the input */
	bool has_process;         /* a process exists or is being made (not reaped) */
	bool hung;                /* that process was aborted as hung */
	bool stop_requested;      /* that process was asked to stop (an exit is expected) */
	enum fsm_fault fault;     /* that process is stopped for a fault */
	bool shutting_down;       /* the daemon drains: nothing starts again */
	bool removing;            /* the worker was scaled away */
	bool deps_ready;          /* the pools its pool follows all run */
	bool start_limit_hit;     /* one more start would pass the start limit */
	enum lv_restart restart;  /* the pool's policy */
	int exit_status;          /* FI_EXITED: the waitpid status */
	bool stable_run;          /* FI_EXITED: it ran at least LV_STABLE_RUN_MS */
	unsigned start_timeout_ms, stop_timeout_ms;
};

/* What the caller must do, in this order: forget, error texts, signals, then spawn. */
enum fsm_action {
	FA_FORGET_FAILURES = 1 << 0,  /* reset the start limit (quick_failures is in the step) */
	FA_SPAWN           = 1 << 1,  /* ask for the process (record the start first): then
	                               * FI_SPAWNED or FI_SPAWN_FAILED follows */
	FA_ASK_STOP        = 1 << 2,  /* ask the process to stop gracefully */
	FA_KILL            = 1 << 3,  /* SIGKILL its process group */
	FA_ABORT           = 1 << 4,  /* SIGABRT the process (a core shows where it hung) */
	FA_ARM_TIMER       = 1 << 5,  /* (re)arm the worker's timer for delay_ms */
	FA_CLEAR_TIMER     = 1 << 6,
	FA_ARM_HANG        = 1 << 7,  /* start watching its loops' heartbeats */
	FA_DISARM_HANG     = 1 << 8,  /* stop watching them (a draining loop may stall) */
	FA_ERR_DEPS        = 1 << 9,  /* error text: which pool it waits for */
	FA_ERR_START_LIMIT = 1 << 10, /* error text: the start limit was hit */
	FA_ERR_START_TIMEOUT = 1 << 11, /* exit error: not ready within start_timeout_ms */
	FA_ERR_HUNG        = 1 << 12, /* exit error: no heartbeat; the process is hung */
	FA_ERR_FAULT       = 1 << 13, /* exit error: what the fault is */
};

struct fsm_step {
	enum worker_state next;
	unsigned actions;          /* enum fsm_action bits */
	unsigned delay_ms;         /* for FA_ARM_TIMER */
	bool want_running;         /* desired state after the input */
	unsigned quick_failures;   /* after the input */
	bool stop_requested;       /* after the input */
	bool hung;                 /* after the input */
	enum fsm_fault fault; /* after the input */
};

/* A hung process gets this long after SIGABRT before SIGKILL. */
#define FSM_HANG_KILL_GRACE_MS 2000

struct fsm_step fsm_step(enum worker_state state, enum fsm_input in, const struct fsm_facts *f);

const char *fsm_wire_name(enum worker_state s);   /* its name on the wire */
int fsm_from_wire_name(const char *name);         /* a wire name, or -1 */
const char *fsm_state_name(enum worker_state s);      /* its own name, for the log */
const char *fsm_input_name(enum fsm_input in);

#endif
