/* test_config_probes: a pool's "probes" key: every default and bound, the roles each kind
 * and each pool kind may have, hosts that are not IP literals, and each message's key path. */
#include <check.h>

#include "check_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

static char err[LV_ERRBUF];

/* A config with one pool "web" (exec, or module when pool_extra says so) and these probes. */
static json_t *doc(const char *pool, const char *probes)
{
	char text[2048];
	json_error_t jerr;
	json_t *root;

	snprintf(text, sizeof text, "{\"pools\":[{\"name\":\"web\",%s,\"probes\":%s}]}", pool, probes);
	root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	ck_assert_msg(root != NULL, "test JSON: %s: %s", jerr.text, text);
	return root;
}

#define EXEC "\"exec\":[\"/bin/srv\"]"
#define MODULE "\"module\":\"http\""

static struct lv_config *probes_ok(const char *pool, const char *probes)
{
	json_t *root = doc(pool, probes);
	struct lv_config *cfg = NULL;

	ck_assert_msg(lv_config_from_json(root, "/etc/lv", &cfg, err, sizeof err) == 0, "%s", err);
	json_decref(root);
	return cfg;
}

static void probes_fail(const char *pool, const char *probes, const char *message)
{
	json_t *root = doc(pool, probes);
	struct lv_config *cfg = (void *)1;

	ck_assert_int_eq(lv_config_from_json(root, "/etc/lv", &cfg, err, sizeof err), -1);
	ck_assert_ptr_null(cfg);
	ck_assert_str_eq(err, message);
	json_decref(root);
}

static void bad(const char *probes, const char *message)
{
	probes_fail(EXEC, probes, message);
}

START_TEST(absent_means_none)
{
	struct lv_config *cfg = probes_ok(EXEC, "{}");

	for (int r = 0; r < LV_PROBE_ROLES; r++) {
		ck_assert_int_eq(cfg->pools[0].probes[r].kind, LV_PROBE_NONE);
		ck_assert_ptr_null(cfg->pools[0].probes[r].target);
		ck_assert_ptr_null(cfg->pools[0].probes[r].argv);
		ck_assert_uint_eq(cfg->pools[0].probes[r].period_ms, 0);
	}
	lv_config_free(cfg);
}
END_TEST

START_TEST(defaults)
{
	struct lv_config *cfg = probes_ok(EXEC, "{\"startup\":{\"tcp\":\"127.0.0.1:{index+8000}\"},"
	                                  "\"liveness\":{\"http\":\"http://localhost:8080\"},"
	                                  "\"readiness\":{\"exec\":[\"check\",\"--quick\"]}}");
	const struct lv_probe_config *s = &cfg->pools[0].probes[LV_PROBE_STARTUP],
	                             *l = &cfg->pools[0].probes[LV_PROBE_LIVENESS],
	                             *r = &cfg->pools[0].probes[LV_PROBE_READINESS];

	ck_assert_int_eq(s->kind, LV_PROBE_TCP);
	ck_assert_str_eq(s->target, "127.0.0.1:{index+8000}");
	ck_assert_int_eq(l->kind, LV_PROBE_HTTP);
	ck_assert_str_eq(l->target, "http://localhost:8080/"); /* a path, always */
	ck_assert_uint_eq(l->status_min, 200);
	ck_assert_uint_eq(l->status_max, 399);
	ck_assert_ptr_null(l->body);
	ck_assert_int_eq(r->kind, LV_PROBE_EXEC);
	ck_assert_str_eq(r->argv[0], "check");
	ck_assert_str_eq(r->argv[1], "--quick");
	ck_assert_ptr_null(r->argv[2]);
	for (const struct lv_probe_config *p = s; p <= r; p++) {
		ck_assert_uint_eq(p->period_ms, 10000);
		ck_assert_uint_eq(p->timeout_ms, 1000);
		ck_assert_uint_eq(p->initial_delay_ms, 0);
		ck_assert_uint_eq(p->failure_threshold, 3);
		ck_assert_uint_eq(p->success_threshold, 1);
	}
	lv_config_free(cfg);
}
END_TEST

START_TEST(every_key)
{
	struct lv_config *cfg = probes_ok(EXEC,
		"{\"readiness\":{\"http\":\"http://[::1]:{index+8000}/health?deep=1\","
		"\"status\":[200,204],\"body\":\"^ok( |$)\",\"period_ms\":500,\"timeout_ms\":500,"
		"\"initial_delay_ms\":3600000,\"failure_threshold\":1000,\"success_threshold\":1000},"
		"\"startup\":{\"log\":\"listening on [0-9]+\",\"period_ms\":3600000,\"timeout_ms\":60000},"
		"\"liveness\":{\"exec\":[\"./bin/check\",\"{name}\"],\"failure_threshold\":1}}");
	const struct lv_probe_config *s = &cfg->pools[0].probes[LV_PROBE_STARTUP],
	                             *l = &cfg->pools[0].probes[LV_PROBE_LIVENESS],
	                             *r = &cfg->pools[0].probes[LV_PROBE_READINESS];

	ck_assert_str_eq(r->target, "http://[::1]:{index+8000}/health?deep=1");
	ck_assert_uint_eq(r->status_min, 200);
	ck_assert_uint_eq(r->status_max, 204);
	ck_assert_str_eq(r->body, "^ok( |$)");
	ck_assert_uint_eq(r->period_ms, 500);
	ck_assert_uint_eq(r->timeout_ms, 500);
	ck_assert_uint_eq(r->initial_delay_ms, 3600000);
	ck_assert_uint_eq(r->failure_threshold, 1000);
	ck_assert_uint_eq(r->success_threshold, 1000);
	ck_assert_int_eq(s->kind, LV_PROBE_LOG);
	ck_assert_str_eq(s->target, "listening on [0-9]+");
	ck_assert_uint_eq(s->period_ms, 3600000);
	ck_assert_uint_eq(s->timeout_ms, 60000);
	ck_assert_str_eq(l->argv[0], "/etc/lv/./bin/check"); /* as a pool's exec[0] */
	ck_assert_str_eq(l->argv[1], "{name}");
	ck_assert_uint_eq(l->failure_threshold, 1);
	lv_config_free(cfg);
}
END_TEST

START_TEST(bounds)
{
	struct lv_config *cfg = probes_ok(EXEC,
		"{\"readiness\":{\"tcp\":\"0.0.0.0:1\",\"period_ms\":100,\"timeout_ms\":1,"
		"\"initial_delay_ms\":0,\"failure_threshold\":1,\"success_threshold\":1},"
		"\"liveness\":{\"http\":\"http://127.0.0.1:65535/\",\"status\":[100,100]},"
		"\"startup\":{\"http\":\"http://127.0.0.1:80/\",\"status\":[599,599]}}");
	ck_assert_uint_eq(cfg->pools[0].probes[LV_PROBE_READINESS].period_ms, 100);
	ck_assert_uint_eq(cfg->pools[0].probes[LV_PROBE_READINESS].timeout_ms, 1);
	ck_assert_uint_eq(cfg->pools[0].probes[LV_PROBE_LIVENESS].status_min, 100);
	ck_assert_uint_eq(cfg->pools[0].probes[LV_PROBE_STARTUP].status_max, 599);
	lv_config_free(cfg);
}
END_TEST

START_TEST(bounds_refused)
{
#define T "\"tcp\":\"127.0.0.1:80\""
	bad("{\"readiness\":{" T ",\"period_ms\":99}}",
	    "pools[0].probes.readiness.period_ms: must be an integer between 100 and 3600000");
	bad("{\"readiness\":{" T ",\"period_ms\":3600001}}",
	    "pools[0].probes.readiness.period_ms: must be an integer between 100 and 3600000");
	bad("{\"readiness\":{" T ",\"timeout_ms\":0}}",
	    "pools[0].probes.readiness.timeout_ms: must be an integer between 1 and 60000");
	bad("{\"readiness\":{" T ",\"period_ms\":3600000,\"timeout_ms\":60001}}",
	    "pools[0].probes.readiness.timeout_ms: must be an integer between 1 and 60000");
	bad("{\"readiness\":{" T ",\"initial_delay_ms\":-1}}",
	    "pools[0].probes.readiness.initial_delay_ms: must be an integer between 0 and 3600000");
	bad("{\"readiness\":{" T ",\"initial_delay_ms\":3600001}}",
	    "pools[0].probes.readiness.initial_delay_ms: must be an integer between 0 and 3600000");
	bad("{\"readiness\":{" T ",\"failure_threshold\":0}}",
	    "pools[0].probes.readiness.failure_threshold: must be an integer between 1 and 1000");
	bad("{\"readiness\":{" T ",\"failure_threshold\":1001}}",
	    "pools[0].probes.readiness.failure_threshold: must be an integer between 1 and 1000");
	bad("{\"readiness\":{" T ",\"success_threshold\":0}}",
	    "pools[0].probes.readiness.success_threshold: must be an integer between 1 and 1000");
	bad("{\"readiness\":{" T ",\"success_threshold\":1001}}",
	    "pools[0].probes.readiness.success_threshold: must be an integer between 1 and 1000");
	bad("{\"readiness\":{" T ",\"period_ms\":\"1s\"}}",
	    "pools[0].probes.readiness.period_ms: must be an integer between 100 and 3600000");
	/* the timeout must fit in the period, whether the period is set or the default */
	bad("{\"readiness\":{" T ",\"period_ms\":500,\"timeout_ms\":501}}",
	    "pools[0].probes.readiness.timeout_ms: must be at most period_ms (500)");
	bad("{\"liveness\":{" T ",\"timeout_ms\":10001}}",
	    "pools[0].probes.liveness.timeout_ms: must be at most period_ms (10000)");
#undef T
	/* unwritten, the timeout is 1000 or the period when that is shorter */
	struct lv_config *cfg = probes_ok(EXEC, "{\"readiness\":{\"tcp\":\"127.0.0.1:80\","
	                                  "\"period_ms\":250},\"liveness\":{\"tcp\":\"127.0.0.1:80\","
	                                  "\"period_ms\":1001}}");
	ck_assert_uint_eq(cfg->pools[0].probes[LV_PROBE_READINESS].timeout_ms, 250);
	ck_assert_uint_eq(cfg->pools[0].probes[LV_PROBE_LIVENESS].timeout_ms, 1000);
	lv_config_free(cfg);
}
END_TEST

START_TEST(status_and_body)
{
	static const char *const ranges[] = { "[99,200]", "[200,600]", "[300,200]", "[200]",
	                                      "[200,300,400]", "200", "[\"200\",300]", "[200.0,300]" };

	for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
		char probes[256];

		snprintf(probes, sizeof probes, "{\"liveness\":{\"http\":\"http://127.0.0.1:80/\","
		         "\"status\":%s}}", ranges[i]);
		bad(probes, "pools[0].probes.liveness.status: must be [LO, HI] with 100 <= LO <= HI "
		    "<= 599");
	}
	bad("{\"liveness\":{\"http\":\"http://127.0.0.1:80/\",\"body\":\"(ok\"}}",
	    "pools[0].probes.liveness.body: not a valid POSIX extended regex: Unmatched ( or \\(");
	bad("{\"liveness\":{\"http\":\"http://127.0.0.1:80/\",\"body\":\"\"}}",
	    "pools[0].probes.liveness.body: must be a non-empty string");
	bad("{\"liveness\":{\"tcp\":\"127.0.0.1:80\",\"status\":[200,299]}}",
	    "pools[0].probes.liveness.status: only allowed with \"http\"");
	bad("{\"readiness\":{\"log\":\"up\",\"body\":\"ok\"}}",
	    "pools[0].probes.readiness.body: only allowed with \"http\"");
}
END_TEST

START_TEST(exactly_one_kind)
{
	bad("{\"readiness\":{}}",
	    "pools[0].probes.readiness: needs exactly one of \"http\", \"tcp\", \"exec\" or \"log\"");
	bad("{\"readiness\":{\"period_ms\":1000}}",
	    "pools[0].probes.readiness: needs exactly one of \"http\", \"tcp\", \"exec\" or \"log\"");
	bad("{\"startup\":{\"tcp\":\"127.0.0.1:80\",\"http\":\"http://127.0.0.1:80/\"}}",
	    "pools[0].probes.startup: needs exactly one of \"http\", \"tcp\", \"exec\" or \"log\"");
	bad("{\"readiness\":{\"exec\":[\"x\"],\"log\":\"up\"}}",
	    "pools[0].probes.readiness: needs exactly one of \"http\", \"tcp\", \"exec\" or \"log\"");
	bad("{\"readiness\":\"tcp:127.0.0.1:80\"}",
	    "pools[0].probes.readiness: must be an object such as {\"tcp\": "
	    "\"127.0.0.1:{index+8000}\"}");
	bad("[]", "pools[0].probes: must be an object with \"startup\", \"liveness\" and/or "
	    "\"readiness\"");
}
END_TEST

START_TEST(unknown_keys)
{
	bad("{\"readyness\":{\"tcp\":\"127.0.0.1:80\"}}",
	    "pools[0].probes.readyness: unknown key; did you mean \"readiness\"?");
	bad("{\"health\":{\"tcp\":\"127.0.0.1:80\"}}", "pools[0].probes.health: unknown key");
	bad("{\"liveness\":{\"tcp\":\"127.0.0.1:80\",\"period_sm\":1000}}",
	    "pools[0].probes.liveness.period_sm: unknown key; did you mean \"period_ms\"?");
	bad("{\"liveness\":{\"tpc\":\"127.0.0.1:80\"}}",
	    "pools[0].probes.liveness.tpc: unknown key; did you mean \"tcp\"?");
	bad("{\"liveness\":{\"tcp\":\"127.0.0.1:80\",\"grpc\":\"x\"}}",
	    "pools[0].probes.liveness.grpc: unknown key");
	/* a pool's own keys know "probes" */
	probes_fail(EXEC ",\"probe\":{}", "{}", "pools[0].probe: unknown key; did you mean \"probes\"?");
}
END_TEST

START_TEST(hosts)
{
	struct lv_config *cfg = probes_ok(EXEC, "{\"readiness\":{\"tcp\":\"[::1]:9000\"},"
	                                  "\"liveness\":{\"tcp\":\"localhost:{index+1}\"},"
	                                  "\"startup\":{\"http\":\"http://10.1.2.3:80/x?y=1&z=%20\"}}");
	lv_config_free(cfg);
#define DNS(h) "pools[0].probes.liveness.tcp: HOST \"" h "\" must be an IP address (IPv6 in " \
	"brackets, as [::1]) or localhost: probes never resolve names, so that loopvisord " \
	"(usually root) neither blocks on DNS nor is steered by it"
	bad("{\"liveness\":{\"tcp\":\"example.com:80\"}}", DNS("example.com"));
	bad("{\"liveness\":{\"tcp\":\"localhost.localdomain:80\"}}", DNS("localhost.localdomain"));
	bad("{\"liveness\":{\"tcp\":\":80\"}}", DNS(""));
	bad("{\"liveness\":{\"tcp\":\"::1:80\"}}", DNS(""));
	bad("{\"liveness\":{\"tcp\":\"[127.0.0.1]:80\"}}", DNS("127.0.0.1"));
	bad("{\"liveness\":{\"tcp\":\"127.0.0.256:80\"}}", DNS("127.0.0.256"));
#undef DNS
	bad("{\"liveness\":{\"http\":\"http://db.internal:5432/\"}}",
	    "pools[0].probes.liveness.http: HOST \"db.internal\" must be an IP address (IPv6 in "
	    "brackets, as [::1]) or localhost: probes never resolve names, so that loopvisord "
	    "(usually root) neither blocks on DNS nor is steered by it");
	bad("{\"liveness\":{\"http\":\"http://me@127.0.0.1:80/\"}}",
	    "pools[0].probes.liveness.http: HOST \"me@127.0.0.1\" must be an IP address (IPv6 in "
	    "brackets, as [::1]) or localhost: probes never resolve names, so that loopvisord "
	    "(usually root) neither blocks on DNS nor is steered by it");
	bad("{\"liveness\":{\"tcp\":\"[::1:80\"}}",
	    "pools[0].probes.liveness.tcp: an IPv6 HOST needs its closing ']'");
	bad("{\"liveness\":{\"tcp\":\"127.0.0.{index}:80\"}}",
	    "pools[0].probes.liveness.tcp: placeholders are not allowed in the HOST, only in the "
	    "PORT");
	bad("{\"liveness\":{\"http\":\"http://{pool}:80/\"}}",
	    "pools[0].probes.liveness.http: placeholders are not allowed in the HOST, only in the "
	    "PORT and the path");
}
END_TEST

START_TEST(urls_and_ports)
{
	bad("{\"liveness\":{\"http\":\"https://127.0.0.1:443/\"}}",
	    "pools[0].probes.liveness.http: https is not supported: probes speak plain HTTP to the "
	    "worker on this host; use http://");
	bad("{\"liveness\":{\"http\":\"ftp://127.0.0.1:21/\"}}",
	    "pools[0].probes.liveness.http: must start with http://");
	bad("{\"liveness\":{\"http\":\"127.0.0.1:80/\"}}",
	    "pools[0].probes.liveness.http: must start with http://");
	bad("{\"liveness\":{\"http\":\"http://127.0.0.1/health\"}}",
	    "pools[0].probes.liveness.http: must be http://HOST:PORT then an optional path "
	    "starting with /");
	bad("{\"liveness\":{\"http\":\"http://127.0.0.1:80?x=1\"}}",
	    "pools[0].probes.liveness.http: PORT \"80?x=1\" must be 1 to 65535 (for worker 0; "
	    "{index+N} gives N, N+1, ...)");
	bad("{\"liveness\":{\"http\":\"http://127.0.0.1:80/a b\"}}",
	    "pools[0].probes.liveness.http: must not contain spaces, control characters, non-ASCII "
	    "bytes (percent-encode them) or a #fragment");
	bad("{\"liveness\":{\"http\":\"http://127.0.0.1:80/\\r\\nHost: x\"}}",
	    "pools[0].probes.liveness.http: must not contain spaces, control characters, non-ASCII "
	    "bytes (percent-encode them) or a #fragment");
	bad("{\"liveness\":{\"http\":\"http://127.0.0.1:80/#top\"}}",
	    "pools[0].probes.liveness.http: must not contain spaces, control characters, non-ASCII "
	    "bytes (percent-encode them) or a #fragment");
	bad("{\"liveness\":{\"http\":\"\"}}", "pools[0].probes.liveness.http: must be a non-empty string");
	bad("{\"liveness\":{\"tcp\":80}}", "pools[0].probes.liveness.tcp: must be a non-empty string");
	bad("{\"liveness\":{\"tcp\":\"127.0.0.1\"}}", "pools[0].probes.liveness.tcp: must be HOST:PORT");
#define PORT(p) "pools[0].probes.liveness.tcp: PORT \"" p "\" must be 1 to 65535 (for worker 0; " \
	"{index+N} gives N, N+1, ...)"
	bad("{\"liveness\":{\"tcp\":\"127.0.0.1:0\"}}", PORT("0"));
	bad("{\"liveness\":{\"tcp\":\"127.0.0.1:65536\"}}", PORT("65536"));
	bad("{\"liveness\":{\"tcp\":\"127.0.0.1:\"}}", PORT(""));
	bad("{\"liveness\":{\"tcp\":\"127.0.0.1:+80\"}}", PORT("+80"));
	bad("{\"liveness\":{\"tcp\":\"127.0.0.1:80/x\"}}", PORT("80/x"));
	bad("{\"liveness\":{\"tcp\":\"127.0.0.1:{index}\"}}", PORT("{index}")); /* 0 for worker 0 */
	bad("{\"liveness\":{\"tcp\":\"127.0.0.1:{pool}\"}}", PORT("{pool}"));
	bad("{\"liveness\":{\"tcp\":\"127.0.0.1:{index+65536}\"}}", PORT("{index+65536}"));
#undef PORT
	struct lv_config *cfg = probes_ok(EXEC, "{\"liveness\":{\"tcp\":\"127.0.0.1:{index+65535}\"},"
	                                  "\"readiness\":{\"tcp\":\"127.0.0.1:{index+1}\"}}");
	lv_config_free(cfg);
}
END_TEST

START_TEST(template_errors)
{
	bad("{\"liveness\":{\"tcp\":\"127.0.0.1:{index+x}\"}}",
	    "pools[0].probes.liveness.tcp: bad placeholder {index+x}: write {index+N} with N a "
	    "number from 0 to 1000000");
	bad("{\"liveness\":{\"http\":\"http://127.0.0.1:80/{worker}\"}}",
	    "pools[0].probes.liveness.http: unknown placeholder {worker}: known are {index}, "
	    "{index+N}, {pool}, {name}; {{ is a literal {");
	bad("{\"readiness\":{\"exec\":[\"check\",\"{index\"]}}",
	    "pools[0].probes.readiness.exec[1]: unclosed placeholder \"{index\" (write {{ for a "
	    "literal {)");
}
END_TEST

START_TEST(exec_as_pool_exec)
{
	bad("{\"readiness\":{\"exec\":[]}}",
	    "pools[0].probes.readiness.exec: must be a non-empty array of strings");
	bad("{\"readiness\":{\"exec\":\"check\"}}",
	    "pools[0].probes.readiness.exec: must be a non-empty array of strings");
	bad("{\"readiness\":{\"exec\":[\"\"]}}", "pools[0].probes.readiness.exec[0]: must not be empty");
	bad("{\"readiness\":{\"exec\":[\"check\",1]}}",
	    "pools[0].probes.readiness.exec[1]: must be a string");
}
END_TEST

START_TEST(module_pools_have_readiness_only)
{
	struct lv_config *cfg = probes_ok(MODULE, "{\"readiness\":{\"http\":\"http://127.0.0.1:8080/\"}}");

	ck_assert_int_eq(cfg->pools[0].probes[LV_PROBE_READINESS].kind, LV_PROBE_HTTP);
	lv_config_free(cfg);
	probes_fail(MODULE, "{\"startup\":{\"tcp\":\"127.0.0.1:80\"}}",
	            "pools[0].probes.startup: not allowed for a \"module\" pool: its loops' readiness "
	            "is its startup probe; only \"readiness\" is");
	probes_fail(MODULE, "{\"liveness\":{\"tcp\":\"127.0.0.1:80\"}}",
	            "pools[0].probes.liveness: not allowed for a \"module\" pool: its loops' "
	            "heartbeats are its liveness probe (hang_timeout_ms); only \"readiness\" is");
}
END_TEST

START_TEST(log_probes)
{
	struct lv_config *cfg = probes_ok(EXEC ",\"output\":\"capture\"",
	                                  "{\"readiness\":{\"log\":\"ready\"},"
	                                  "\"startup\":{\"log\":\"up\"}}");

	ck_assert_int_eq(cfg->pools[0].probes[LV_PROBE_READINESS].kind, LV_PROBE_LOG);
	ck_assert_str_eq(cfg->pools[0].probes[LV_PROBE_READINESS].target, "ready");
	lv_config_free(cfg);
	cfg = probes_ok(MODULE, "{\"readiness\":{\"log\":\"ready\"}}");
	lv_config_free(cfg);
	bad("{\"liveness\":{\"log\":\"alive\"}}",
	    "pools[0].probes.liveness.log: only allowed for startup and readiness probes: a line "
	    "seen once says nothing about whether the worker is alive now");
	probes_fail(EXEC ",\"output\":\"null\"", "{\"readiness\":{\"log\":\"ready\"}}",
	            "pools[0].probes.readiness.log: needs the pool's output captured (\"output\": "
	            "\"capture\", the default), not \"null\"");
	probes_fail(EXEC ",\"output\":\"inherit\"", "{\"startup\":{\"log\":\"ready\"}}",
	            "pools[0].probes.startup.log: needs the pool's output captured (\"output\": "
	            "\"capture\", the default), not \"inherit\"");
	bad("{\"readiness\":{\"log\":\"[a-\"}}",
	    "pools[0].probes.readiness.log: not a valid POSIX extended regex: Unmatched [, [^, [:, "
	    "[., or [=");
	bad("{\"readiness\":{\"log\":\"\"}}", "pools[0].probes.readiness.log: must be a non-empty string");
	/* a regex, not a template: braces are a repetition */
	cfg = probes_ok(EXEC, "{\"readiness\":{\"log\":\"^x{2}$\"}}");
	lv_config_free(cfg);
}
END_TEST

START_TEST(success_threshold_readiness_only)
{
	struct lv_config *cfg = probes_ok(EXEC, "{\"readiness\":{\"tcp\":\"127.0.0.1:80\","
	                                  "\"success_threshold\":2},\"startup\":{\"tcp\":\"127.0.0.1:80\","
	                                  "\"success_threshold\":1}}");

	ck_assert_uint_eq(cfg->pools[0].probes[LV_PROBE_READINESS].success_threshold, 2);
	lv_config_free(cfg);
	bad("{\"startup\":{\"tcp\":\"127.0.0.1:80\",\"success_threshold\":2}}",
	    "pools[0].probes.startup.success_threshold: must be 1 except for readiness (one success "
	    "ends a startup probe, and liveness only counts failures)");
	bad("{\"liveness\":{\"tcp\":\"127.0.0.1:80\",\"success_threshold\":3}}",
	    "pools[0].probes.liveness.success_threshold: must be 1 except for readiness (one success "
	    "ends a startup probe, and liveness only counts failures)");
}
END_TEST

/* The single-pool validator (runtime "add") says the same with its own prefix, leaves a
 * failed pool zeroed, and a copy of the probes owns its own strings. */
START_TEST(single_pool_clear_and_copy)
{
	json_t *ok = json_loads("{\"name\":\"x\",\"exec\":[\"y\"],\"probes\":{\"readiness\":"
	                        "{\"http\":\"http://127.0.0.1:80/\",\"body\":\"ok\"},\"liveness\":"
	                        "{\"exec\":[\"c\"]}}}", 0, NULL);
	json_t *ko = json_loads("{\"name\":\"x\",\"exec\":[\"y\"],\"probes\":{\"readiness\":"
	                        "{\"http\":\"http://127.0.0.1:80/\",\"body\":\"ok\"},\"liveness\":"
	                        "{\"exec\":[\"c\"],\"timeout_ms\":20000}}}", 0, NULL);
	static const struct lv_pool_config zero;
	struct lv_probe_config copy[LV_PROBE_ROLES];
	struct lv_pool_config p;

	ck_assert_int_eq(lv_pool_config_from_json(ko, "/", "pool", &p, err, sizeof err), -1);
	ck_assert_str_eq(err, "pool.probes.liveness.timeout_ms: must be at most period_ms (10000)");
	ck_assert(memcmp(&p, &zero, sizeof p) == 0);
	ck_assert_int_eq(lv_pool_config_from_json(ok, "/", "pool", &p, err, sizeof err), 0);
	ck_assert_int_eq(lv_probes_copy(copy, p.probes), 0);
	ck_assert_ptr_ne(copy[LV_PROBE_READINESS].target, p.probes[LV_PROBE_READINESS].target);
	ck_assert_str_eq(copy[LV_PROBE_READINESS].body, "ok");
	ck_assert_str_eq(copy[LV_PROBE_LIVENESS].argv[0], "c");
	ck_assert_ptr_ne(copy[LV_PROBE_LIVENESS].argv, p.probes[LV_PROBE_LIVENESS].argv);
	ck_assert_uint_eq(copy[LV_PROBE_LIVENESS].period_ms, 10000);
	ck_assert_int_eq(copy[LV_PROBE_STARTUP].kind, LV_PROBE_NONE);
	lv_pool_config_clear(&p);
	ck_assert(memcmp(&p, &zero, sizeof p) == 0);
	ck_assert_str_eq(copy[LV_PROBE_READINESS].target, "http://127.0.0.1:80/");
	lv_probes_clear(copy);
	ck_assert_ptr_null(copy[LV_PROBE_READINESS].target);
	json_decref(ok);
	json_decref(ko);
}
END_TEST

/* A target expanded for one worker, as the daemon connects to it. */
START_TEST(expanded_targets_split)
{
	char host[64], path[256], why[256];
	unsigned port = 0;

	ck_assert_int_eq(lv_probe_target_split(LV_PROBE_HTTP, "http://127.0.0.1:8001/health?x=1",
	                                       host, sizeof host, &port, path, sizeof path, why,
	                                       sizeof why), 0);
	ck_assert_str_eq(host, "127.0.0.1");
	ck_assert_uint_eq(port, 8001);
	ck_assert_str_eq(path, "/health?x=1");
	ck_assert_int_eq(lv_probe_target_split(LV_PROBE_HTTP, "http://[::1]:80", host, sizeof host,
	                                       &port, path, sizeof path, why, sizeof why), 0);
	ck_assert_str_eq(host, "::1");
	ck_assert_str_eq(path, "/");
	ck_assert_int_eq(lv_probe_target_split(LV_PROBE_TCP, "localhost:6379", host, sizeof host,
	                                       &port, path, sizeof path, why, sizeof why), 0);
	ck_assert_str_eq(host, "127.0.0.1");
	ck_assert_str_eq(path, "");
	static const char *const bad_http[] = {
		"http://127.0.0.1:70000/", "http://127.0.0.1:0/", "http://example.com:80/",
		"https://127.0.0.1:80/", "http://127.0.0.1/", "http://127.0.0.1:08/", "127.0.0.1:80",
		"http://[::1:80/",
	};
	for (size_t i = 0; i < sizeof bad_http / sizeof *bad_http; i++)
		ck_assert_msg(lv_probe_target_split(LV_PROBE_HTTP, bad_http[i], host, sizeof host,
		                                    &port, path, sizeof path, why, sizeof why) == -1,
		              "%s", bad_http[i]);
	ck_assert_int_eq(lv_probe_target_split(LV_PROBE_TCP, "127.0.0.1:80/x", host, sizeof host,
	                                       &port, path, sizeof path, why, sizeof why), -1);
	ck_assert_ptr_nonnull(strstr(why, "port"));
}
END_TEST

int main(void)
{
	Suite *su = suite_create("config_probes");
	TCase *tc = tcase_create("probes");

	tcase_add_test(tc, absent_means_none);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, every_key);
	tcase_add_test(tc, bounds);
	tcase_add_test(tc, bounds_refused);
	tcase_add_test(tc, status_and_body);
	tcase_add_test(tc, exactly_one_kind);
	tcase_add_test(tc, unknown_keys);
	tcase_add_test(tc, hosts);
	tcase_add_test(tc, urls_and_ports);
	tcase_add_test(tc, template_errors);
	tcase_add_test(tc, exec_as_pool_exec);
	tcase_add_test(tc, module_pools_have_readiness_only);
	tcase_add_test(tc, log_probes);
	tcase_add_test(tc, success_threshold_readiness_only);
	tcase_add_test(tc, single_pool_clear_and_copy);
	tcase_add_test(tc, expanded_targets_split);
	suite_add_tcase(su, tc);
	return lv_check_run(su);
}
