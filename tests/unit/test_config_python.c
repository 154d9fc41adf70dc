/* test_config_python: a pool's "python" object (docs/python.md): what it becomes (a module
 * pool of the "python" job and LOOPVISOR_PYTHON_* entries of its env, paths resolved
 * against the config's folder), and each mistake's message with its key path. */
#include <check.h>

#include "check_run.h"
#include <stdio.h>
#include <string.h>

#include "config/config.h"

static char err[LV_ERRBUF];

/* A config with one pool "py" whose keys are pool_keys: 0 and *cfg, or -1 with err. */
static int load(const char *pool_keys, struct lv_config **cfg)
{
	char text[2048];
	json_t *root;
	int rc;

	snprintf(text, sizeof text, "{\"pools\":[{\"name\":\"py\",%s}]}", pool_keys);
	ck_assert_msg((root = json_loads(text, JSON_REJECT_DUPLICATES, NULL)) != NULL, "%s", text);
	*cfg = NULL;
	rc = lv_config_from_json(root, "/etc/lv", cfg, err, sizeof err);
	json_decref(root);
	return rc;
}

static void fails(const char *pool_keys, const char *message)
{
	struct lv_config *cfg;

	ck_assert_int_eq(load(pool_keys, &cfg), -1);
	ck_assert_str_eq(err, message);
}

static bool has_env(const struct lv_pool_config *p, const char *entry)
{
	for (char **e = p->env; e && *e; e++)
		if (!strcmp(*e, entry))
			return true;
	return false;
}

START_TEST(a_python_pool_is_a_module_pool_of_the_python_job)
{
	struct lv_config *cfg;
	const struct lv_pool_config *p;

	ck_assert_msg(load("\"python\":{\"app\":\"web.app:main\",\"path\":[\"src\",\"/opt/lib\"],"
	                   "\"venv\":\"venv\"},\"env\":{\"A\":\"1\"},\"stop_timeout_ms\":2500,"
	                   "\"ready\":\"notify\",\"loops\":2,\"params\":{\"k\":1}", &cfg) == 0, "%s", err);
	p = &cfg->pools[0];
	ck_assert(p->python && p->python_ready_late && !p->ready_notify);
	ck_assert_int_eq(p->kind, LV_KIND_MODULE);
	ck_assert_str_eq(p->module, "python");
	ck_assert_uint_eq(p->loops, 2);
	ck_assert_int_eq(json_integer_value(json_object_get(p->params, "k")), 1);
	ck_assert(has_env(p, "A=1"));
	ck_assert(has_env(p, "LOOPVISOR_PYTHON_APP=web.app:main"));
	ck_assert(has_env(p, "LOOPVISOR_PYTHON_PATH=/etc/lv/src:/opt/lib"));
	ck_assert(has_env(p, "LOOPVISOR_PYTHON_VENV=/etc/lv/venv"));
	ck_assert(has_env(p, "LOOPVISOR_STOP_TIMEOUT_MS=2500"));
	ck_assert(has_env(p, "LOOPVISOR_PYTHON_READY=notify"));
	lv_config_free(cfg);
	/* the least: an app; ready when main runs */
	ck_assert_msg(load("\"python\":{\"app\":\"app:main\"}", &cfg) == 0, "%s", err);
	p = &cfg->pools[0];
	ck_assert(!p->python_ready_late && !has_env(p, "LOOPVISOR_PYTHON_READY=notify"));
	ck_assert(has_env(p, "LOOPVISOR_STOP_TIMEOUT_MS=10000"));
	lv_config_free(cfg);
	/* an ASGI app (an attribute path too): ready once uvicorn listens */
	ck_assert_msg(load("\"python\":{\"asgi\":\"svc.web:api.app\"}", &cfg) == 0, "%s", err);
	p = &cfg->pools[0];
	ck_assert(p->python_ready_late && has_env(p, "LOOPVISOR_PYTHON_READY=notify"));
	ck_assert(has_env(p, "LOOPVISOR_PYTHON_ASGI=svc.web:api.app"));
	ck_assert(!has_env(p, "LOOPVISOR_PYTHON_APP=svc.web:api.app"));
	lv_config_free(cfg);
}
END_TEST

START_TEST(mistakes_name_their_key)
{
	fails("\"python\":\"app:main\"", "pools[0].python: must be an object");
	fails("\"python\":{}", "pools[0].python: needs exactly one of \"app\" or \"asgi\"");
	fails("\"python\":{\"app\":\"a:main\",\"asgi\":\"a:app\"}",
	      "pools[0].python: needs exactly one of \"app\" or \"asgi\"");
	fails("\"python\":{\"asgi\":\"a\"}", "pools[0].python.asgi: must be \"package.module:app\"");
	fails("\"python\":{\"app\":\"app\"}", "pools[0].python.app: must be \"package.module:callable\"");
	fails("\"python\":{\"app\":\"a..b:main\"}",
	      "pools[0].python.app: must be \"package.module:callable\"");
	fails("\"python\":{\"app\":\"a.b:\"}", "pools[0].python.app: must be \"package.module:callable\"");
	fails("\"python\":{\"app\":\"1a:main\"}", "pools[0].python.app: must be \"package.module:callable\"");
	fails("\"python\":{\"app\":\"a:main()\"}",
	      "pools[0].python.app: must be \"package.module:callable\"");
	fails("\"python\":{\"app\":\"a:main\",\"apps\":1}",
	      "pools[0].python.apps: unknown key; did you mean \"app\"?");
	fails("\"python\":{\"app\":\"a:main\",\"path\":\"src\"}",
	      "pools[0].python.path: must be an array of folders");
	fails("\"python\":{\"app\":\"a:main\",\"path\":[\"a:b\"]}",
	      "pools[0].python.path: each entry must be a folder, without ':'");
	fails("\"python\":{\"app\":\"a:main\",\"venv\":3}", "pools[0].python.venv: must be a non-empty string");
	fails("\"python\":{\"app\":\"a:main\"},\"module\":\"ticker\"",
	      "pools[0]: needs exactly one of \"exec\", \"module\" or \"python\"");
	fails("\"python\":{\"app\":\"a:main\"},\"ready\":\"exec\"",
	      "pools[0].ready: with \"python\" must be \"notify\" (the app calls ctx.ready())");
}
END_TEST

int main(void)
{
	Suite *su = suite_create("config_python");
	TCase *tc = tcase_create("python");

	tcase_add_test(tc, a_python_pool_is_a_module_pool_of_the_python_job);
	tcase_add_test(tc, mistakes_name_their_key);
	suite_add_tcase(su, tc);
	return lv_check_run(su);
}
