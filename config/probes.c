/* probes (config): validates a pool's "probes" key (startup, liveness, readiness) into
 * struct lv_probe_config; what the probes mean at run time is docs/probes.md. */
#include "config/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/check.h"
#include "config/template.h"
#include "daemon/lib/strv.h"

static const char *const role_keys[] = { "startup", "liveness", "readiness", NULL };

const char *lv_probe_role_name(enum lv_probe_role role)
{
	return (unsigned)role < LV_PROBE_ROLES ? role_keys[role] : "unknown";
}

static const char *const probe_keys[] = {
	"http", "tcp", "exec", "log", "status", "body", "period_ms", "timeout_ms",
	"initial_delay_ms", "failure_threshold", "success_threshold", NULL,
};

static const char *const kind_keys[] = { "http", "tcp", "exec", "log" };

void lv_probes_clear(struct lv_probe_config probes[LV_PROBE_ROLES])
{
	for (int r = 0; r < LV_PROBE_ROLES; r++) {
		free(probes[r].target);
		free(probes[r].body);
		lv_strv_free(probes[r].argv);
		memset(&probes[r], 0, sizeof probes[r]);
	}
}

int lv_probes_copy(struct lv_probe_config dst[LV_PROBE_ROLES],
                   const struct lv_probe_config src[LV_PROBE_ROLES])
{
	bool ok = true;

	for (int r = 0; r < LV_PROBE_ROLES; r++) {
		dst[r] = src[r];
		dst[r].target = src[r].target ? strdup(src[r].target) : NULL;
		dst[r].body = src[r].body ? strdup(src[r].body) : NULL;
		dst[r].argv = src[r].argv ? lv_strv_dup(src[r].argv) : NULL;
		ok = ok && !src[r].target == !dst[r].target && !src[r].body == !dst[r].body &&
		     !src[r].argv == !dst[r].argv;
	}
	if (!ok)
		lv_probes_clear(dst);
	return ok ? 0 : -1;
}

/* A POSIX extended regex, compiled once to know it is one; the text is what is kept. What
 * would make regcomp build a huge tree is refused before it is compiled (regex.c). */
static int check_regex(struct cfgerr *e, const char *prefix, const char *key, const char *re)
{
	regex_t rx;
	int rc;

	if (lv_regex_cost(re) > LV_REGEX_COST_MAX)
		return cfg_fail(e, prefix, key, "too costly a regex: its repetitions ('+', '{n}') "
		                "multiply out to over %d copies", LV_REGEX_COST_MAX);
	if ((rc = regcomp(&rx, re, REG_EXTENDED | REG_NOSUB)) != 0) {
		char why[128];

		regerror(rc, &rx, why, sizeof why);
		return cfg_fail(e, prefix, key, "not a valid POSIX extended regex: %s", why);
	}
	regfree(&rx);
	return 0;
}

/* HOST is an IP literal or localhost, never a name to resolve: the daemon usually runs as
 * root, and a lookup could block its loop or send its probes wherever DNS says. */
static bool host_ok(const char *host, size_t len, bool bracketed)
{
	unsigned char addr[16];
	char buf[INET6_ADDRSTRLEN];

	if (len == 0 || len >= sizeof buf)
		return false;
	memcpy(buf, host, len);
	buf[len] = '\0';
	if (bracketed)
		return inet_pton(AF_INET6, buf, addr) == 1;
	return !strcmp(buf, "localhost") || inet_pton(AF_INET, buf, addr) == 1;
}

/* Checks "HOST:PORT" at the start of hp (a target as written, a template): no placeholder
 * in HOST, so every worker probes the host checked here; PORT as expanded for worker 0 is
 * 1..65535. *rest is what follows the port (a port ends at '/' for http). */
static int check_hostport(struct cfgerr *e, const char *prefix, const char *key,
                          const char *hp, const struct lv_pool_config *p, bool http,
                          const char **rest)
{
	char name[LV_POOL_NAME_MAX + 3], port[24], portraw[64], why[256], *end;
	struct lv_template_vars vars = { .pool = p->name, .name = name, .index = 0 };
	bool bracketed = hp[0] == '[';
	const char *host = hp + bracketed, *hend, *colon;
	size_t portlen;
	long long n;

	hend = bracketed ? strchr(host, ']') : host + strcspn(host, ":/?#");
	if (!hend)
		return cfg_fail(e, prefix, key, "an IPv6 HOST needs its closing ']'");
	colon = hend + bracketed;
	if (memchr(host, '{', (size_t)(hend - host)) || memchr(host, '}', (size_t)(hend - host)))
		return cfg_fail(e, prefix, key, "placeholders are not allowed in the HOST, only in "
		                "the PORT%s", http ? " and the path" : "");
	if (!host_ok(host, (size_t)(hend - host), bracketed))
		return cfg_fail(e, prefix, key, "HOST \"%.*s\" must be an IP address (IPv6 in brackets, "
		                "as [::1]) or localhost: probes never resolve names, so that loopvisord "
		                "(usually root) neither blocks on DNS nor is steered by it",
		                (int)(hend - host) > 64 ? 64 : (int)(hend - host), host);
	if (*colon != ':')
		return cfg_fail(e, prefix, key, "must be %sHOST:PORT%s", http ? "http://" : "",
		                http ? " then an optional path starting with /" : "");
	portlen = http ? strcspn(colon + 1, "/") : strlen(colon + 1);
	*rest = colon + 1 + portlen;
	snprintf(name, sizeof name, "%s:0", p->name);
	snprintf(portraw, sizeof portraw, "%.*s", (int)portlen, colon + 1);
	if (portlen >= sizeof portraw ||
	    lv_template_expand(portraw, &vars, port, sizeof port, why, sizeof why) < 0 ||
	    !isdigit((unsigned char)port[0]) || strspn(port, "0123456789") != strlen(port) ||
	    (n = strtoll(port, &end, 10)) < 1 || n > 65535)
		return cfg_fail(e, prefix, key, "PORT \"%s\" must be 1 to 65535 (for worker 0; "
		                "{index+N} gives N, N+1, ...)", portlen >= sizeof portraw ? "..." : portraw);
	return 0;
}

/* "http://HOST:PORT[/PATH[?QUERY]]" into pc->target, with "/" when the path is absent. */
static int parse_http(struct cfgerr *e, const json_t *obj, const char *prefix,
                      const struct lv_pool_config *p, struct lv_probe_config *pc)
{
	const char *url = NULL, *rest, *body = NULL;
	json_t *status = json_object_get(obj, "status");

	if (cfg_string(e, obj, prefix, "http", true, &url) < 0 ||
	    cfg_template(e, prefix, "http", url) < 0)
		return -1;
	for (const char *c = url; *c; c++)
		if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f || *c == '#')
			return cfg_fail(e, prefix, "http", "must not contain spaces, control characters, "
			                "non-ASCII bytes (percent-encode them) or a #fragment");
	if (!strncmp(url, "https://", 8))
		return cfg_fail(e, prefix, "http", "https is not supported: probes speak plain HTTP "
		                "to the worker on this host; use http://");
	if (strncmp(url, "http://", 7) != 0)
		return cfg_fail(e, prefix, "http", "must start with http://");
	if (check_hostport(e, prefix, "http", url + 7, p, true, &rest) < 0)
		return -1;
	if (*rest && *rest != '/')
		return cfg_fail(e, prefix, "http", "the path must start with /");
	if (asprintf(&pc->target, "%s%s", url, *rest ? "" : "/") < 0) {
		pc->target = NULL;
		return cfg_fail(e, prefix, "http", "out of memory");
	}
	pc->status_min = 200;
	pc->status_max = 399;
	if (status) {
		json_t *lo = json_array_get(status, 0), *hi = json_array_get(status, 1);

		if (!json_is_array(status) || json_array_size(status) != 2 || !json_is_integer(lo) ||
		    !json_is_integer(hi) || json_integer_value(lo) < 100 ||
		    json_integer_value(hi) > 599 || json_integer_value(lo) > json_integer_value(hi))
			return cfg_fail(e, prefix, "status", "must be [LO, HI] with 100 <= LO <= HI <= 599");
		pc->status_min = (unsigned)json_integer_value(lo);
		pc->status_max = (unsigned)json_integer_value(hi);
	}
	if (cfg_string(e, obj, prefix, "body", true, &body) < 0)
		return -1;
	if (body && (check_regex(e, prefix, "body", body) < 0))
		return -1;
	if (body && !(pc->body = strdup(body)))
		return cfg_fail(e, prefix, "body", "out of memory");
	return 0;
}

/* The one kind of check this probe makes, and the keys that only go with some kinds. */
static int parse_kind(struct cfgerr *e, const json_t *obj, const char *prefix,
                      enum lv_probe_role role, const char *base_dir,
                      const struct lv_pool_config *p, struct lv_probe_config *pc)
{
	const char *text = NULL, *rest;
	size_t kinds = 0, k = 0;

	for (size_t i = 0; i < sizeof kind_keys / sizeof kind_keys[0]; i++)
		if (json_object_get(obj, kind_keys[i])) {
			kinds++;
			k = i;
		}
	if (kinds != 1)
		return cfg_fail(e, prefix, NULL, "needs exactly one of \"http\", \"tcp\", \"exec\" or "
		                "\"log\"");
	pc->kind = (enum lv_probe_kind)(LV_PROBE_HTTP + k);
	if (pc->kind != LV_PROBE_HTTP && json_object_get(obj, "status"))
		return cfg_fail(e, prefix, "status", "only allowed with \"http\"");
	if (pc->kind != LV_PROBE_HTTP && json_object_get(obj, "body"))
		return cfg_fail(e, prefix, "body", "only allowed with \"http\"");
	switch (pc->kind) {
	case LV_PROBE_HTTP:
		return parse_http(e, obj, prefix, p, pc);
	case LV_PROBE_TCP:
		if (cfg_string(e, obj, prefix, "tcp", true, &text) < 0 ||
		    cfg_template(e, prefix, "tcp", text) < 0 ||
		    check_hostport(e, prefix, "tcp", text, p, false, &rest) < 0)
			return -1;
		if (!(pc->target = strdup(text)))
			return cfg_fail(e, prefix, "tcp", "out of memory");
		return 0;
	case LV_PROBE_EXEC: {
		json_t *argv = json_object_get(obj, "exec");

		if (!json_is_array(argv) || json_array_size(argv) == 0)
			return cfg_fail(e, prefix, "exec", "must be a non-empty array of strings");
		return cfg_argv(e, argv, prefix, "exec", base_dir, &pc->argv);
	}
	case LV_PROBE_LOG:
		if (role == LV_PROBE_LIVENESS)
			return cfg_fail(e, prefix, "log", "only allowed for startup and readiness probes: a "
			                "line seen once says nothing about whether the worker is alive now");
		if (p->output != LV_OUTPUT_CAPTURE)
			return cfg_fail(e, prefix, "log", "needs the pool's output captured (\"output\": "
			                "\"capture\", the default), not \"%s\"",
			                p->output == LV_OUTPUT_NULL ? "null" : "inherit");
		if (cfg_string(e, obj, prefix, "log", true, &text) < 0 ||
		    check_regex(e, prefix, "log", text) < 0)
			return -1;
		if (!(pc->target = strdup(text)))
			return cfg_fail(e, prefix, "log", "out of memory");
		return 0;
	default:
		return cfg_fail(e, prefix, NULL, "internal error: unknown probe kind");
	}
}

/* When and how often it runs, and how many results in a row change its verdict. */
static int parse_timing(struct cfgerr *e, const json_t *obj, const char *prefix,
                        enum lv_probe_role role, struct lv_probe_config *pc)
{
	long long period = 10000, timeout = 1000, delay = 0, failures = 3, successes = 1;

	if (cfg_int(e, obj, prefix, "period_ms", 100, 3600000, &period) < 0 ||
	    cfg_int(e, obj, prefix, "timeout_ms", 1, 60000, &timeout) < 0 ||
	    cfg_int(e, obj, prefix, "initial_delay_ms", 0, 3600000, &delay) < 0 ||
	    cfg_int(e, obj, prefix, "failure_threshold", 1, 1000, &failures) < 0 ||
	    cfg_int(e, obj, prefix, "success_threshold", 1, 1000, &successes) < 0)
		return -1;
	/* an unwritten timeout never makes a short period an error naming a key not written */
	if (!json_object_get(obj, "timeout_ms") && period < timeout)
		timeout = period;
	if (timeout > period)
		return cfg_fail(e, prefix, "timeout_ms", "must be at most period_ms (%lld)", period);
	if (successes != 1 && role != LV_PROBE_READINESS)
		return cfg_fail(e, prefix, "success_threshold", "must be 1 except for readiness "
		                "(one success ends a startup probe, and liveness only counts failures)");
	pc->period_ms = (unsigned)period;
	pc->timeout_ms = (unsigned)timeout;
	pc->initial_delay_ms = (unsigned)delay;
	pc->failure_threshold = (unsigned)failures;
	pc->success_threshold = (unsigned)successes;
	return 0;
}

static int parse_probe(struct cfgerr *e, const json_t *obj, const char *prefix,
                       enum lv_probe_role role, const char *base_dir,
                       const struct lv_pool_config *p, struct lv_probe_config *pc)
{
	char sub[192];

	if (p->kind == LV_KIND_MODULE && role == LV_PROBE_STARTUP)
		return cfg_fail(e, prefix, "startup", "not allowed for a \"module\" pool: its loops' "
		                "readiness is its startup probe; only \"readiness\" is");
	if (p->kind == LV_KIND_MODULE && role == LV_PROBE_LIVENESS)
		return cfg_fail(e, prefix, "liveness", "not allowed for a \"module\" pool: its loops' "
		                "heartbeats are its liveness probe (hang_timeout_ms); only \"readiness\" "
		                "is");
	snprintf(sub, sizeof sub, "%s.%s", prefix, role_keys[role]);
	if (!json_is_object(obj))
		return cfg_fail(e, sub, NULL, "must be an object such as {\"tcp\": "
		                "\"127.0.0.1:{index+8000}\"}");
	if (cfg_known_keys(e, obj, sub, probe_keys) < 0 ||
	    parse_kind(e, obj, sub, role, base_dir, p, pc) < 0)
		return -1;
	return parse_timing(e, obj, sub, role, pc);
}

int lv_probes_from_json(const json_t *probes, const char *base_dir, const char *prefix,
                        struct lv_pool_config *pool, char *err, size_t errlen)
{
	struct cfgerr e = { err, errlen };
	char sub[160];

	memset(pool->probes, 0, sizeof pool->probes);
	if (!probes)
		return 0;
	snprintf(sub, sizeof sub, "%s.probes", prefix);
	if (!json_is_object(probes)) {
		cfg_fail(&e, prefix, "probes", "must be an object with \"startup\", \"liveness\" "
		         "and/or \"readiness\"");
		return -1;
	}
	if (cfg_known_keys(&e, probes, sub, role_keys) < 0)
		return -1;
	for (int r = 0; r < LV_PROBE_ROLES; r++) {
		json_t *obj = json_object_get(probes, role_keys[r]);

		if (obj && parse_probe(&e, obj, sub, (enum lv_probe_role)r, base_dir, pool,
		                       &pool->probes[r]) < 0) {
			lv_probes_clear(pool->probes);
			return -1;
		}
	}
	return 0;
}

int lv_probe_target_split(enum lv_probe_kind kind, const char *target, char *host,
                          size_t hostlen, unsigned *port, char *path, size_t pathlen,
                          char *why, size_t whylen)
{
	const char *h = target + (kind == LV_PROBE_HTTP && !strncmp(target, "http://", 7) ? 7 : 0);
	bool bracketed = *h == '[';
	const char *hbeg = h + bracketed;
	const char *hend = bracketed ? strchr(hbeg, ']') : hbeg + strcspn(hbeg, ":/?#");
	const char *digits, *rest;
	char *end;
	unsigned long n;

	if (kind == LV_PROBE_HTTP && h == target) {
		snprintf(why, whylen, "%s: must start with http://", target);
		return -1;
	}
	if (!hend || !host_ok(hbeg, (size_t)(hend - hbeg), bracketed) ||
	    hend[bracketed] != ':' || (size_t)(hend - hbeg) >= hostlen) {
		snprintf(why, whylen, "%s: needs HOST:PORT, HOST an IP address or localhost", target);
		return -1;
	}
	digits = hend + bracketed + 1;
	rest = digits + (kind == LV_PROBE_HTTP ? strcspn(digits, "/") : strlen(digits));
	n = strtoul(digits, &end, 10);
	if (end != rest || digits == rest || *digits < '1' || *digits > '9' || n > 65535) {
		snprintf(why, whylen, "%s: port %.*s is not 1..65535", target, (int)(rest - digits),
		         digits);
		return -1;
	}
	if (strlen(rest) >= pathlen) {
		snprintf(why, whylen, "%s: the path is too long", target);
		return -1;
	}
	snprintf(host, hostlen, "%.*s", (int)(hend - hbeg), hbeg);
	if (!strcmp(host, "localhost"))
		snprintf(host, hostlen, "127.0.0.1");
	*port = (unsigned)n;
	snprintf(path, pathlen, "%s", kind == LV_PROBE_HTTP && !*rest ? "/" : rest);
	return 0;
}
