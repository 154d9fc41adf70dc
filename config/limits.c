/* limits (config): validates a pool's "limits" object and its "memory_restart" key into
 * struct lv_cgroup_limits. The daemon writes them to each worker's own cgroup v2 leaf
 * (docs/cgroups.md); here only their form and bounds are checked, and every number is
 * refused rather than wrapped when it does not fit. */
#include "config/config.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "config/check.h"

static const char *const limits_keys[] = {
	"memory_max", "memory_high", "pids_max", "cpu_max", "cpu_weight", "memory_oom_group",
	NULL,
};

/* Below a page the kernel could not even map the worker's program: the limit would kill it
 * before it starts, which is a config mistake, not a policy. */
#define SIZE_MIN_BYTES 4096ULL
/* Sizes stay JSON integers wherever the daemon reports them (status, the state file). */
#define SIZE_MAX_BYTES ((unsigned long long)LLONG_MAX)
#define PIDS_MAX 4194304        /* the kernel's own pid_max ceiling */
#define CPU_PCT_MAX (100 * 1024) /* 1024 CPUs at 100% each */

enum num { NUM_OK, NUM_FORM, NUM_BIG };

/* n decimal digits (at least one, nothing else) into *out, at most max; too large is found
 * before the value could wrap. */
static enum num digits(const char *s, size_t n, unsigned long long max, unsigned long long *out)
{
	unsigned long long v = 0;

	if (n == 0 || strspn(s, "0123456789") < n)
		return NUM_FORM;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (v > (max - d) / 10)
			return NUM_BIG;
		v = v * 10 + d;
	}
	*out = v;
	return NUM_OK;
}

/* "N" or "N" with one of K, M, G, T (any case, powers of 1024); nothing else, so "1.5G",
 * "10KB" and " 5M" are mistakes to fix rather than guesses. */
static enum num size_text(const char *s, unsigned long long *out)
{
	static const char units[] = "kmgt";
	size_t n = strlen(s);
	unsigned shift = 0;
	const char *u;
	enum num rc;

	if (n > 0 && (u = strchr(units, s[n - 1] | 0x20))) {
		shift = 10 * (unsigned)(u - units + 1);
		n--;
	}
	rc = digits(s, n, SIZE_MAX_BYTES >> shift, out);
	if (rc == NUM_OK)
		*out <<= shift;
	return rc;
}

/* A size: a JSON integer of bytes or a string for size_text, 4096 bytes at least. */
static int parse_size(struct cfgerr *e, const char *prefix, const char *key, const json_t *v,
                      unsigned long long *out)
{
	enum num rc = NUM_FORM;

	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (unsigned long long)json_integer_value(v);
		rc = NUM_OK;
	} else if (json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v)) {
		rc = size_text(json_string_value(v), out);
	}
	if (rc == NUM_BIG)
		return cfg_fail(e, prefix, key, "too large: at most %llu bytes", SIZE_MAX_BYTES);
	if (rc == NUM_FORM)
		return cfg_fail(e, prefix, key, "must be a number of bytes or a string such as "
		                "\"512M\" (digits, then K, M, G or T)");
	if (*out < SIZE_MIN_BYTES)
		return cfg_fail(e, prefix, key, "must be at least 4096 bytes (a smaller memory limit "
		                "kills the worker before it starts)");
	return 0;
}

/* "N%" with N in 1..max: the only form of a percentage. */
static bool percent(const json_t *v, unsigned long long max, unsigned long long *out)
{
	const char *s = json_string_value(v);
	size_t n = s ? strlen(s) : 0;

	if (!s || n != json_string_length(v) || n < 2 || s[n - 1] != '%')
		return false;
	return digits(s, n - 1, max, out) == NUM_OK && *out >= 1;
}

static bool is_percent(const json_t *v)
{
	const char *s = json_string_value(v);

	return s && *s && s[strlen(s) - 1] == '%';
}

static int parse_memory(struct cfgerr *e, const json_t *lim, const char *sub,
                        struct lv_cgroup_limits *out)
{
	json_t *max = json_object_get(lim, "memory_max"), *high = json_object_get(lim, "memory_high");

	if ((max && parse_size(e, sub, "memory_max", max, &out->memory_max) < 0) ||
	    (high && parse_size(e, sub, "memory_high", high, &out->memory_high) < 0))
		return -1;
	if (max && high && out->memory_high > out->memory_max)
		return cfg_fail(e, sub, "memory_high", "must be at most memory_max");
	return 0;
}

static int parse_cpu_and_pids(struct cfgerr *e, const json_t *lim, const char *sub,
                              struct lv_cgroup_limits *out)
{
	json_t *cpu = json_object_get(lim, "cpu_max");
	long long pids = 0, weight = 0;
	unsigned long long pct = 0;
	bool oom = false;

	if (cpu && !percent(cpu, CPU_PCT_MAX, &pct))
		return cfg_fail(e, sub, "cpu_max", "must be a percentage of one CPU from \"1%%\" to "
		                "\"%d%%\", such as \"50%%\" or \"250%%\" (2.5 CPUs)", CPU_PCT_MAX);
	if (cfg_int(e, lim, sub, "pids_max", 1, PIDS_MAX, &pids) < 0 ||
	    cfg_int(e, lim, sub, "cpu_weight", 1, 10000, &weight) < 0 ||
	    cfg_bool(e, lim, sub, "memory_oom_group", &oom) < 0)
		return -1;
	out->cpu_max_pct = (unsigned)pct;
	out->pids_max = (unsigned)pids;
	out->cpu_weight = (unsigned)weight;
	out->memory_oom_group = json_object_get(lim, "memory_oom_group") ? oom : -1;
	return 0;
}

/* memory_restart: a size, or a percentage of memory_high; below memory_max in any case. */
static int parse_restart(struct cfgerr *e, const json_t *v, const char *prefix,
                         struct lv_cgroup_limits *out)
{
	unsigned long long pct, h = out->memory_high;

	if (!is_percent(v)) {
		if (parse_size(e, prefix, "memory_restart", v, &out->memory_restart) < 0)
			return -1;
	} else if (!percent(v, 100, &pct)) {
		return cfg_fail(e, prefix, "memory_restart", "a percentage must be from \"1%%\" to "
		                "\"100%%\"");
	} else if (!h) {
		return cfg_fail(e, prefix, "memory_restart", "as a percentage needs limits.memory_high");
	} else {
		/* h * pct / 100 without the product, which could wrap */
		out->memory_restart = h / 100 * pct + h % 100 * pct / 100;
		if (out->memory_restart < SIZE_MIN_BYTES)
			return cfg_fail(e, prefix, "memory_restart", "is %llu bytes: must be at least "
			                "4096", out->memory_restart);
	}
	if (out->memory_max && out->memory_restart >= out->memory_max)
		return cfg_fail(e, prefix, "memory_restart", "must be below limits.memory_max (a "
		                "restart above the hard limit would never come before the OOM killer)");
	return 0;
}

static int parse_all(struct cfgerr *e, const json_t *pool, const char *prefix,
                     struct lv_cgroup_limits *out)
{
	json_t *lim = json_object_get(pool, "limits"), *restart;
	char sub[96];

	snprintf(sub, sizeof sub, "%s.limits", prefix);
	if (lim && !json_is_object(lim))
		return cfg_fail(e, prefix, "limits", "must be an object such as "
		                "{\"memory_max\": \"512M\"}");
	if (lim && (cfg_known_keys(e, lim, sub, limits_keys) < 0 ||
	            parse_memory(e, lim, sub, out) < 0 || parse_cpu_and_pids(e, lim, sub, out) < 0))
		return -1;
	restart = json_object_get(pool, "memory_restart");
	return restart ? parse_restart(e, restart, prefix, out) : 0;
}

int lv_cgroup_limits_from_json(const json_t *pool, const char *prefix,
                               struct lv_cgroup_limits *out, char *err, size_t errlen)
{
	struct cfgerr e = { err, errlen };

	memset(out, 0, sizeof *out);
	out->memory_oom_group = -1;
	if (parse_all(&e, pool, prefix, out) < 0) {
		memset(out, 0, sizeof *out);
		return -1;
	}
	return 0;
}
