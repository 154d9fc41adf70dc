/* test_config_limits: a pool's "limits" and "memory_restart" keys and the top level
 * "cgroup": each size form and its exact bytes, every bound, numbers too large to fit
 * (refused, never wrapped), and each message's key path. */
#include <check.h>

#include "check_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

static char err[LV_ERRBUF];

#define MIB (1024ULL * 1024)
#define GIB (1024 * MIB)
#define TIB (1024 * GIB)

/* A config with one exec pool "web" and pool_keys added to it ("" for none), and top_keys
 * added to the root. */
static json_t *doc(const char *top_keys, const char *pool_keys)
{
	char text[2048];
	json_error_t jerr;
	json_t *root;

	snprintf(text, sizeof text, "{%s%s\"pools\":[{\"name\":\"web\",\"exec\":[\"/bin/srv\"]%s%s}]}",
	         top_keys, *top_keys ? "," : "", *pool_keys ? "," : "", pool_keys);
	root = json_loads(text, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	ck_assert_msg(root != NULL, "test JSON: %s: %s", jerr.text, text);
	return root;
}

static struct lv_config *load_ok(const char *top_keys, const char *pool_keys)
{
	json_t *root = doc(top_keys, pool_keys);
	struct lv_config *cfg = NULL;

	ck_assert_msg(lv_config_from_json(root, "/etc/lv", &cfg, err, sizeof err) == 0, "%s: %s",
	              pool_keys, err);
	json_decref(root);
	return cfg;
}

static void load_fail(const char *top_keys, const char *pool_keys, const char *message)
{
	json_t *root = doc(top_keys, pool_keys);
	struct lv_config *cfg = (void *)1;

	ck_assert_msg(lv_config_from_json(root, "/etc/lv", &cfg, err, sizeof err) == -1,
	              "accepted: %s %s", top_keys, pool_keys);
	ck_assert_ptr_null(cfg);
	ck_assert_str_eq(err, message);
	json_decref(root);
}

/* The pool's limits for pool_keys, which must be valid. */
static struct lv_cgroup_limits limits_of(const char *pool_keys)
{
	struct lv_config *cfg = load_ok("", pool_keys);
	struct lv_cgroup_limits l = cfg->pools[0].limits;

	lv_config_free(cfg);
	return l;
}

static void bad(const char *pool_keys, const char *message)
{
	load_fail("", pool_keys, message);
}

/* memory_max set to value (JSON text): the bytes it means. */
static unsigned long long memory_max(const char *value)
{
	char keys[256];

	snprintf(keys, sizeof keys, "\"limits\":{\"memory_max\":%s}", value);
	return limits_of(keys).memory_max;
}

static void bad_memory_max(const char *value, const char *why)
{
	char keys[256], message[512];

	snprintf(keys, sizeof keys, "\"limits\":{\"memory_max\":%s}", value);
	snprintf(message, sizeof message, "pools[0].limits.memory_max: %s", why);
	bad(keys, message);
}

#define FORM "must be a number of bytes or a string such as \"512M\" (digits, then K, M, G or T)"
#define SMALL "must be at least 4096 bytes (a smaller memory limit kills the worker before it " \
              "starts)"
#define BIG "too large: at most 9223372036854775807 bytes"

START_TEST(absent_means_none)
{
	struct lv_config *cfg = load_ok("", "");
	const struct lv_cgroup_limits *l = &cfg->pools[0].limits;

	ck_assert_int_eq(cfg->cgroup, LV_CGROUP_AUTO);
	ck_assert_uint_eq(l->memory_max, 0);
	ck_assert_uint_eq(l->memory_high, 0);
	ck_assert_uint_eq(l->pids_max, 0);
	ck_assert_uint_eq(l->cpu_max_pct, 0);
	ck_assert_uint_eq(l->cpu_weight, 0);
	ck_assert_int_eq(l->memory_oom_group, -1);
	ck_assert_uint_eq(l->memory_restart, 0);
	lv_config_free(cfg);
	ck_assert_int_eq(limits_of("\"limits\":{}").memory_oom_group, -1);
}
END_TEST

START_TEST(every_key)
{
	struct lv_cgroup_limits l = limits_of(
		"\"limits\":{\"memory_max\":\"512M\",\"memory_high\":\"400M\",\"pids_max\":100,"
		"\"cpu_max\":\"250%\",\"cpu_weight\":100,\"memory_oom_group\":true},"
		"\"memory_restart\":\"300M\"");

	ck_assert_uint_eq(l.memory_max, 536870912);
	ck_assert_uint_eq(l.memory_high, 400 * MIB);
	ck_assert_uint_eq(l.pids_max, 100);
	ck_assert_uint_eq(l.cpu_max_pct, 250);
	ck_assert_uint_eq(l.cpu_weight, 100);
	ck_assert_int_eq(l.memory_oom_group, 1);
	ck_assert_uint_eq(l.memory_restart, 300 * MIB);
	l = limits_of("\"limits\":{\"memory_oom_group\":false,\"cpu_max\":\"50%\"}");
	ck_assert_int_eq(l.memory_oom_group, 0);
	ck_assert_uint_eq(l.cpu_max_pct, 50);
	ck_assert_uint_eq(l.memory_max, 0);
}
END_TEST

START_TEST(sizes)
{
	ck_assert_uint_eq(memory_max("\"512M\""), 536870912);
	ck_assert_uint_eq(memory_max("\"512m\""), 536870912);
	ck_assert_uint_eq(memory_max("\"1G\""), 1073741824);
	ck_assert_uint_eq(memory_max("\"1g\""), GIB);
	ck_assert_uint_eq(memory_max("\"4k\""), 4096);
	ck_assert_uint_eq(memory_max("\"4K\""), 4096);
	ck_assert_uint_eq(memory_max("\"2T\""), 2 * TIB);
	ck_assert_uint_eq(memory_max("\"4096\""), 4096);
	ck_assert_uint_eq(memory_max("\"0010M\""), 10 * MIB);
	ck_assert_uint_eq(memory_max("1048576"), 1048576);
	ck_assert_uint_eq(memory_max("4096"), 4096);
	/* the largest of each form still fits */
	ck_assert_uint_eq(memory_max("\"8388607T\""), 8388607 * TIB);
	ck_assert_uint_eq(memory_max("\"9223372036854775807\""), 9223372036854775807ULL);
	ck_assert_uint_eq(memory_max("9223372036854775807"), 9223372036854775807ULL);
	ck_assert_uint_eq(limits_of("\"limits\":{\"memory_high\":\"3G\"}").memory_high, 3 * GIB);
}
END_TEST

START_TEST(sizes_refused)
{
	static const char *const forms[] = {
		"\"10X\"", "\"-1\"", "-1", "\"\"", "\"1.5G\"", "\"10KB\"", "\"10KiB\"", "\"M\"",
		"\" 5M\"", "\"5M \"", "\"+5M\"", "\"5 M\"", "\"0x1000\"", "\"1e6\"", "\"50%\"",
		"1.5", "4096.0", "true", "null", "[4096]", "{}", "\"4096\\u0000\"",
	};

	for (size_t i = 0; i < sizeof forms / sizeof *forms; i++)
		bad_memory_max(forms[i], FORM);
	bad_memory_max("\"99999999999999999999G\"", BIG);
	bad_memory_max("\"99999999999999999999\"", BIG);
	bad_memory_max("\"8388608T\"", BIG);
	bad_memory_max("\"9223372036854775808\"", BIG);
	bad_memory_max("\"18446744073709551616\"", BIG); /* 2^64 wraps to 0 */
	bad_memory_max("\"16777216T\"", BIG);            /* 2^64 bytes: wraps to 0 */
	bad_memory_max("\"50\"", SMALL);
	bad_memory_max("\"4095\"", SMALL);
	bad_memory_max("4095", SMALL);
	bad_memory_max("0", SMALL);
	bad_memory_max("\"0G\"", SMALL);
	bad("\"limits\":{\"memory_high\":\"1.5G\"}", "pools[0].limits.memory_high: " FORM);
	bad("\"limits\":{\"memory_high\":\"99999999999999999999G\"}",
	    "pools[0].limits.memory_high: " BIG);
}
END_TEST

START_TEST(memory_high_at_most_max)
{
	struct lv_cgroup_limits l = limits_of("\"limits\":{\"memory_max\":\"1G\","
	                                      "\"memory_high\":\"1024M\"}");

	ck_assert_uint_eq(l.memory_high, l.memory_max);
	bad("\"limits\":{\"memory_max\":\"1G\",\"memory_high\":1073741825}",
	    "pools[0].limits.memory_high: must be at most memory_max");
	bad("\"limits\":{\"memory_high\":\"2G\",\"memory_max\":\"1G\"}",
	    "pools[0].limits.memory_high: must be at most memory_max");
}
END_TEST

START_TEST(pids_and_cpu_bounds)
{
	struct lv_cgroup_limits l = limits_of("\"limits\":{\"pids_max\":1,\"cpu_weight\":1,"
	                                      "\"cpu_max\":\"1%\"}");

	ck_assert_uint_eq(l.pids_max, 1);
	ck_assert_uint_eq(l.cpu_weight, 1);
	ck_assert_uint_eq(l.cpu_max_pct, 1);
	l = limits_of("\"limits\":{\"pids_max\":4194304,\"cpu_weight\":10000,"
	              "\"cpu_max\":\"102400%\"}");
	ck_assert_uint_eq(l.pids_max, 4194304);
	ck_assert_uint_eq(l.cpu_weight, 10000);
	ck_assert_uint_eq(l.cpu_max_pct, 102400);
	static const char *const pids[] = { "0", "4194305", "-1", "\"100\"", "1.5", "true" };
	for (size_t i = 0; i < sizeof pids / sizeof *pids; i++) {
		char keys[128];

		snprintf(keys, sizeof keys, "\"limits\":{\"pids_max\":%s}", pids[i]);
		bad(keys, "pools[0].limits.pids_max: must be an integer between 1 and 4194304");
	}
	static const char *const weights[] = { "0", "10001", "\"100\"" };
	for (size_t i = 0; i < sizeof weights / sizeof *weights; i++) {
		char keys[128];

		snprintf(keys, sizeof keys, "\"limits\":{\"cpu_weight\":%s}", weights[i]);
		bad(keys, "pools[0].limits.cpu_weight: must be an integer between 1 and 10000");
	}
	bad("\"limits\":{\"memory_oom_group\":1}",
	    "pools[0].limits.memory_oom_group: must be true or false");
}
END_TEST

START_TEST(cpu_max_refused)
{
	static const char *const values[] = {
		"\"50\"", "50", "\"0%\"", "\"50.5%\"", "\"%\"", "\"\"", "\"102401%\"",
		"\"99999999999999999999%\"", "\"50 %\"", "\"-5%\"", "\"+5%\"", "\"50%%\"", "0.5",
		"\"1.5\"", "true", "null",
	};

	for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
		char keys[128];

		snprintf(keys, sizeof keys, "\"limits\":{\"cpu_max\":%s}", values[i]);
		bad(keys, "pools[0].limits.cpu_max: must be a percentage of one CPU from \"1%\" to "
		    "\"102400%\", such as \"50%\" or \"250%\" (2.5 CPUs)");
	}
}
END_TEST

START_TEST(unknown_keys_and_types)
{
	bad("\"limits\":{\"memory_maxx\":\"1G\"}",
	    "pools[0].limits.memory_maxx: unknown key; did you mean \"memory_max\"?");
	bad("\"limits\":{\"io_max\":1}", "pools[0].limits.io_max: unknown key");
	bad("\"limits\":[]", "pools[0].limits: must be an object such as {\"memory_max\": \"512M\"}");
	bad("\"limits\":\"512M\"",
	    "pools[0].limits: must be an object such as {\"memory_max\": \"512M\"}");
	/* memory_restart is the pool's key, not one of the limits */
	bad("\"limits\":{\"memory_restart\":\"1G\"}",
	    "pools[0].limits.memory_restart: unknown key");
}
END_TEST

START_TEST(memory_restart)
{
	struct lv_cgroup_limits l = limits_of("\"memory_restart\":\"1G\"");

	ck_assert_uint_eq(l.memory_restart, GIB);
	ck_assert_uint_eq(l.memory_max, 0);
	ck_assert_uint_eq(limits_of("\"memory_restart\":8192").memory_restart, 8192);
	l = limits_of("\"limits\":{\"memory_high\":\"400M\"},\"memory_restart\":\"90%\"");
	ck_assert_uint_eq(l.memory_restart, 377487360);
	l = limits_of("\"limits\":{\"memory_high\":\"400M\"},\"memory_restart\":\"100%\"");
	ck_assert_uint_eq(l.memory_restart, 400 * MIB);
	l = limits_of("\"limits\":{\"memory_high\":\"400M\"},\"memory_restart\":\"1%\"");
	ck_assert_uint_eq(l.memory_restart, 4194304);
	/* a percentage of the largest memory_high is computed without wrapping */
	l = limits_of("\"limits\":{\"memory_high\":9223372036854775807},"
	              "\"memory_restart\":\"100%\"");
	ck_assert_uint_eq(l.memory_restart, 9223372036854775807ULL);
	l = limits_of("\"limits\":{\"memory_high\":9223372036854775807},"
	              "\"memory_restart\":\"50%\"");
	ck_assert_uint_eq(l.memory_restart, 4611686018427387903ULL);
	/* just below the hard limit */
	l = limits_of("\"limits\":{\"memory_max\":\"1G\"},\"memory_restart\":1073741823");
	ck_assert_uint_eq(l.memory_restart, GIB - 1);
	l = limits_of("\"limits\":{\"memory_max\":\"1G\",\"memory_high\":\"800M\"},"
	              "\"memory_restart\":\"90%\"");
	ck_assert_uint_eq(l.memory_restart, 720 * MIB);
}
END_TEST

START_TEST(memory_restart_refused)
{
#define BELOW "pools[0].memory_restart: must be below limits.memory_max (a restart above the " \
              "hard limit would never come before the OOM killer)"
	bad("\"memory_restart\":\"90%\"",
	    "pools[0].memory_restart: as a percentage needs limits.memory_high");
	bad("\"limits\":{\"memory_max\":\"1G\"},\"memory_restart\":\"90%\"",
	    "pools[0].memory_restart: as a percentage needs limits.memory_high");
	bad("\"limits\":{\"memory_max\":\"1G\"},\"memory_restart\":\"1G\"", BELOW);
	bad("\"limits\":{\"memory_max\":\"1G\"},\"memory_restart\":\"2G\"", BELOW);
	bad("\"limits\":{\"memory_max\":\"1G\",\"memory_high\":\"1G\"},"
	    "\"memory_restart\":\"100%\"", BELOW);
#undef BELOW
	static const char *const pcts[] = { "\"0%\"", "\"101%\"", "\"1.5%\"", "\"%\"", "\"-1%\"",
	                                    "\"99999999999999999999%\"" };
	for (size_t i = 0; i < sizeof pcts / sizeof *pcts; i++) {
		char keys[128];

		snprintf(keys, sizeof keys, "\"limits\":{\"memory_high\":\"1G\"},"
		         "\"memory_restart\":%s", pcts[i]);
		bad(keys, "pools[0].memory_restart: a percentage must be from \"1%\" to \"100%\"");
	}
	bad("\"memory_restart\":\"1.5G\"", "pools[0].memory_restart: " FORM);
	bad("\"memory_restart\":\"10X\"", "pools[0].memory_restart: " FORM);
	bad("\"memory_restart\":\"\"", "pools[0].memory_restart: " FORM);
	bad("\"memory_restart\":true", "pools[0].memory_restart: " FORM);
	bad("\"memory_restart\":\"50\"", "pools[0].memory_restart: " SMALL);
	bad("\"memory_restart\":\"99999999999999999999G\"", "pools[0].memory_restart: " BIG);
	bad("\"limits\":{\"memory_high\":\"4K\"},\"memory_restart\":\"1%\"",
	    "pools[0].memory_restart: is 40 bytes: must be at least 4096");
}
END_TEST

START_TEST(cgroup_mode)
{
	struct lv_config *cfg = load_ok("\"cgroup\":\"off\"", "");

	ck_assert_int_eq(cfg->cgroup, LV_CGROUP_OFF);
	lv_config_free(cfg);
	cfg = load_ok("\"cgroup\":\"auto\"", "");
	ck_assert_int_eq(cfg->cgroup, LV_CGROUP_AUTO);
	lv_config_free(cfg);
	static const char *const values[] = { "\"on\"", "\"\"", "\"Off\"", "\"AUTO\"", "\"off \"",
	                                      "\"off\\u0000\"", "true", "false", "0", "null",
	                                      "{}", "[\"off\"]" };
	for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
		char top[64];

		snprintf(top, sizeof top, "\"cgroup\":%s", values[i]);
		load_fail(top, "", "cgroup: must be \"auto\" or \"off\"");
	}
	load_fail("\"cgroups\":\"off\"", "", "cgroups: unknown key; did you mean \"cgroup\"?");
}
END_TEST

/* The single-pool validator (runtime "add") says the same with its own prefix and leaves a
 * failed pool zeroed; a struct copy carries the limits; a change of limits alone is a
 * change of the pool (reload restarts its workers). */
START_TEST(single_pool_and_reload)
{
	json_t *ok = json_loads("{\"name\":\"x\",\"exec\":[\"y\"],\"limits\":{\"pids_max\":64,"
	                        "\"memory_max\":\"1G\"},\"memory_restart\":\"900M\"}", 0, NULL);
	json_t *ko = json_loads("{\"name\":\"x\",\"exec\":[\"y\"],\"limits\":{\"pids_max\":64,"
	                        "\"cpu_max\":\"0%\"}}", 0, NULL);
	json_t *other = json_loads("{\"name\":\"x\",\"exec\":[\"y\"],\"limits\":{\"pids_max\":65,"
	                           "\"memory_max\":\"1G\"},\"memory_restart\":\"900M\"}", 0, NULL);
	static const struct lv_pool_config zero;
	struct lv_pool_config p, q, copy;

	ck_assert_int_eq(lv_pool_config_from_json(ko, "/", "pool", &p, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "pool.limits.cpu_max: must be a percentage"));
	ck_assert(memcmp(&p, &zero, sizeof p) == 0);
	ck_assert_int_eq(lv_pool_config_from_json(ok, "/", "pool", &p, err, sizeof err), 0);
	ck_assert_int_eq(lv_pool_config_from_json(other, "/", "pool", &q, err, sizeof err), 0);
	copy = p;
	ck_assert_uint_eq(copy.limits.pids_max, 64);
	ck_assert_uint_eq(copy.limits.memory_max, GIB);
	ck_assert_uint_eq(copy.limits.memory_restart, 900 * MIB);
	ck_assert_int_eq(copy.limits.memory_oom_group, -1);
	ck_assert(lv_pool_config_differs(&p, &q));
	ck_assert(!lv_pool_config_differs(&p, &p));
	lv_pool_config_clear(&p);
	lv_pool_config_clear(&q);
	ck_assert(memcmp(&p, &zero, sizeof p) == 0);
	json_decref(ok);
	json_decref(ko);
	json_decref(other);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("config_limits");
	TCase *tc = tcase_create("limits");

	tcase_add_test(tc, absent_means_none);
	tcase_add_test(tc, every_key);
	tcase_add_test(tc, sizes);
	tcase_add_test(tc, sizes_refused);
	tcase_add_test(tc, memory_high_at_most_max);
	tcase_add_test(tc, pids_and_cpu_bounds);
	tcase_add_test(tc, cpu_max_refused);
	tcase_add_test(tc, unknown_keys_and_types);
	tcase_add_test(tc, memory_restart);
	tcase_add_test(tc, memory_restart_refused);
	tcase_add_test(tc, cgroup_mode);
	tcase_add_test(tc, single_pool_and_reload);
	suite_add_tcase(su, tc);
	return lv_check_run(su);
}
