/* test_config: the config validator: defaults, every key, path resolution, and the exact
 * message (with its key path) for each kind of mistake. */
#include <check.h>

#include "check_run.h"
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"

static char err[LV_ERRBUF];

static struct lv_config *parse_ok(const char *text)
{
	json_error_t jerr;
	json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	struct lv_config *cfg = NULL;

	ck_assert_msg(root != NULL, "test JSON: %s", jerr.text);
	ck_assert_msg(lv_config_from_json(root, "/etc/lv", &cfg, err, sizeof err) == 0, "%s", err);
	json_decref(root);
	return cfg;
}

static void parse_fails(const char *text, const char *message)
{
	json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	struct lv_config *cfg = (void *)1;

	ck_assert_msg(root != NULL, "test JSON does not parse: %s", text);
	ck_assert_int_eq(lv_config_from_json(root, "/etc/lv", &cfg, err, sizeof err), -1);
	ck_assert_ptr_null(cfg);
	ck_assert_str_eq(err, message);
	json_decref(root);
}

START_TEST(defaults)
{
	struct lv_config *cfg = parse_ok("{\"pools\":[{\"name\":\"a\",\"exec\":[\"sleep\",\"9\"]}]}");
	const struct lv_pool_config *p = &cfg->pools[0];

	ck_assert_ptr_null(cfg->control_socket);
	ck_assert_uint_eq(cfg->control_mode, 0600);
	ck_assert_ptr_null(cfg->job_path[0]);
	ck_assert_uint_eq(cfg->n_pools, 1);
	ck_assert_str_eq(p->name, "a");
	ck_assert_int_eq(p->kind, LV_KIND_EXEC);
	ck_assert_str_eq(p->argv[0], "sleep");
	ck_assert_str_eq(p->argv[1], "9");
	ck_assert_ptr_null(p->argv[2]);
	ck_assert_uint_eq(p->workers, 1);
	ck_assert_int_eq(p->restart, LV_RESTART_ALWAYS);
	ck_assert(p->autostart);
	ck_assert_int_eq(p->stop_signal, SIGTERM);
	ck_assert_uint_eq(p->stop_timeout_ms, 10000);
	ck_assert_uint_eq(p->start_limit_burst, 5);
	ck_assert_uint_eq(p->start_limit_interval_ms, 10000);
	ck_assert_ptr_nonnull(p->env);
	ck_assert_ptr_null(p->env[0]);
	ck_assert_ptr_null(p->cwd);
	ck_assert_ptr_null(p->user);
	ck_assert_uint_eq(p->loops, 1);
	ck_assert_uint_eq(p->heartbeat_ms, 1000);
	ck_assert_uint_eq(p->hang_timeout_ms, 10000);
	ck_assert_uint_eq(p->start_timeout_ms, 60000);
	ck_assert(!p->ready_notify);
	ck_assert_uint_eq(p->n_listen, 0);
	ck_assert_ptr_null(p->listen[0]);
	lv_config_free(cfg);
	cfg = parse_ok("{}");
	ck_assert_uint_eq(cfg->n_pools, 0);
	lv_config_free(cfg);
}
END_TEST

START_TEST(every_key)
{
	struct lv_config *cfg = parse_ok(
		"{\"control\":{\"socket\":\"run/ctl.sock\",\"mode\":\"0660\"},"
		"\"job_path\":[\"jobs\",\"/opt/jobs\"],"
		"\"pools\":[{\"name\":\"web.v2-x_1\",\"module\":\"http\",\"params\":{\"port\":8080},"
		"\"workers\":4,\"restart\":\"on-failure\",\"autostart\":false,\"stop_signal\":\"SIGINT\","
		"\"stop_timeout_ms\":2500,\"start_limit\":{\"burst\":3,\"interval_ms\":5000},"
		"\"env\":{\"A\":\"1\",\"B\":\"x=y\"},\"cwd\":\"srv\",\"loops\":3,\"heartbeat_ms\":250,"
		"\"hang_timeout_ms\":0,\"start_timeout_ms\":900,"
		"\"listen\":[\"tcp:127.0.0.1:80\",\"tcp:[::1]:81\",\"unix:run/a.sock\"]},"
		"{\"name\":\"b\",\"module\":\"./mods/b.so\",\"restart\":\"never\",\"stop_signal\":3,"
		"\"workers\":0},{\"name\":\"c\",\"exec\":[\"x\"],\"ready\":\"notify\"}]}");
	const struct lv_pool_config *p = &cfg->pools[0], *q = &cfg->pools[1];

	ck_assert_str_eq(cfg->control_socket, "/etc/lv/run/ctl.sock");
	ck_assert_uint_eq(cfg->control_mode, 0660);
	ck_assert_str_eq(cfg->job_path[0], "/etc/lv/jobs");
	ck_assert_str_eq(cfg->job_path[1], "/opt/jobs");
	ck_assert_int_eq(p->kind, LV_KIND_MODULE);
	ck_assert_str_eq(p->module, "http");
	ck_assert_int_eq(json_integer_value(json_object_get(p->params, "port")), 8080);
	ck_assert_uint_eq(p->workers, 4);
	ck_assert_int_eq(p->restart, LV_RESTART_ON_FAILURE);
	ck_assert(!p->autostart);
	ck_assert_int_eq(p->stop_signal, SIGINT);
	ck_assert_uint_eq(p->stop_timeout_ms, 2500);
	ck_assert_uint_eq(p->start_limit_burst, 3);
	ck_assert_uint_eq(p->start_limit_interval_ms, 5000);
	ck_assert_str_eq(p->env[0], "A=1");
	ck_assert_str_eq(p->env[1], "B=x=y");
	ck_assert_str_eq(p->cwd, "/etc/lv/srv");
	ck_assert_uint_eq(p->loops, 3);
	ck_assert_uint_eq(p->heartbeat_ms, 250);
	ck_assert_uint_eq(p->hang_timeout_ms, 0);
	ck_assert_uint_eq(p->start_timeout_ms, 900);
	ck_assert_uint_eq(p->n_listen, 3);
	ck_assert_str_eq(p->listen[0], "tcp:127.0.0.1:80");
	ck_assert_str_eq(p->listen[1], "tcp:[::1]:81");
	ck_assert_str_eq(p->listen[2], "unix:/etc/lv/run/a.sock");
	ck_assert_str_eq(q->module, "/etc/lv/./mods/b.so");
	ck_assert_int_eq(q->restart, LV_RESTART_NEVER);
	ck_assert_int_eq(q->stop_signal, SIGQUIT);
	ck_assert_uint_eq(q->workers, 0);
	ck_assert_int_eq(json_object_size(q->params), 0);
	ck_assert_int_eq(lv_config_find_pool(cfg, "b"), 1);
	ck_assert(cfg->pools[2].ready_notify);
	ck_assert_int_eq(lv_config_find_pool(cfg, "zz"), -1);
	lv_config_free(cfg);
}
END_TEST

START_TEST(errors_name_the_key_path)
{
	parse_fails("[]", "(root): must be an object");
	parse_fails("{\"pool\":[]}", "pool: unknown key; did you mean \"pools\"?");
	parse_fails("{\"pools\":{}}", "pools: must be an array");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"]},"
	            "{\"name\":\"b\",\"exec\":[\"x\"],\"wrokers\":2}]}",
	            "pools[1].wrokers: unknown key; did you mean \"workers\"?");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"workers\":10001}]}",
	            "pools[0].workers: must be an integer between 0 and 10000");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"workers\":\"2\"}]}",
	            "pools[0].workers: must be an integer between 0 and 10000");
	parse_fails("{\"pools\":[{\"name\":\"a\"}]}",
	            "pools[0]: needs exactly one of \"exec\", \"module\" or \"python\"");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"module\":\"m\"}]}",
	            "pools[0]: needs exactly one of \"exec\", \"module\" or \"python\"");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\",\"y\",3]}]}",
	            "pools[0].exec[2]: must be a string");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[]}]}",
	            "pools[0].exec: must be a non-empty array of strings");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"params\":{}}]}",
	            "pools[0].params: only allowed with \"module\" or \"python\"");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"module\":\"m\",\"params\":[]}]}",
	            "pools[0].params: must be an object");
	parse_fails("{\"pools\":[{\"exec\":[\"x\"]}]}", "pools[0].name: required");
	parse_fails("{\"pools\":[{\"name\":\"a b\",\"exec\":[\"x\"]}]}",
	            "pools[0].name: must match [A-Za-z0-9_.-]{1,64}");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"]},{\"name\":\"a\",\"exec\":[\"y\"]}]}",
	            "pools[1].name: duplicate pool name \"a\"");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"restart\":\"sometimes\"}]}",
	            "pools[0].restart: must be \"always\", \"on-failure\" or \"never\"");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"stop_signal\":\"BOGUS\"}]}",
	            "pools[0].stop_signal: must be a signal name such as \"TERM\" or a number");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"stop_timeout_ms\":0}]}",
	            "pools[0].stop_timeout_ms: must be an integer between 1 and 3600000");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"start_limit\":{\"bursts\":1}}]}",
	            "pools[0].start_limit.bursts: unknown key; did you mean \"burst\"?");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"start_limit\":{\"burst\":0}}]}",
	            "pools[0].start_limit.burst: must be an integer between 1 and 1000");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"env\":{\"A\":1}}]}",
	            "pools[0].env.A: must be a string");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"env\":{\"A=B\":\"1\"}}]}",
	            "pools[0].env.A=B: variable names must be non-empty, without '='");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"autostart\":1}]}",
	            "pools[0].autostart: must be true or false");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"cwd\":\"\"}]}",
	            "pools[0].cwd: must be a non-empty string");
	parse_fails("{\"control\":{\"mode\":\"rw\"}}",
	            "control.mode: must be an octal string such as \"0600\"");
	parse_fails("{\"control\":{\"mode\":\"01777\"}}",
	            "control.mode: must be an octal string such as \"0600\"");
	parse_fails("{\"control\":{\"socket\":\"/x\",\"owner\":\"me\"}}", "control.owner: unknown key");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"loops\":2}]}",
	            "pools[0].loops: only allowed with \"module\"");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"module\":\"m\",\"loops\":65}]}",
	            "pools[0].loops: must be an integer between 1 and 64");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"module\":\"m\",\"ready\":\"notify\"}]}",
	            "pools[0].ready: only allowed with \"exec\" or \"python\"");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"ready\":\"sometime\"}]}",
	            "pools[0].ready: must be \"exec\" or \"notify\"");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"output\":\"file\"}]}",
	            "pools[0].output: must be \"capture\", \"inherit\" or \"null\"");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"module\":\"m\",\"heartbeat_ms\":500,"
	            "\"hang_timeout_ms\":100}]}",
	            "pools[0].hang_timeout_ms: must be 0 (off) or at least heartbeat_ms");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"module\":\"m\",\"listen\":[\"tcp:8080\"]}]}",
	            "pools[0].listen[0]: must be \"tcp:HOST:PORT\", \"tcp:[IPV6]:PORT\", \"unix:PATH\" or \"fd:NAME\"");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"module\":\"m\",\"listen\":[\"tcp:[::1]:99999\"]}]}",
	            "pools[0].listen[0]: must be \"tcp:HOST:PORT\", \"tcp:[IPV6]:PORT\", \"unix:PATH\" or \"fd:NAME\"");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"after\":[\"b\"]},"
	            "{\"name\":\"b\",\"exec\":[\"x\"],\"after\":[\"c\"]},"
	            "{\"name\":\"c\",\"exec\":[\"x\"],\"after\":[\"a\"]}]}",
	            "pools: dependency cycle: a -> b -> c -> a");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"after\":[\"a\"]}]}",
	            "pools: dependency cycle: a -> a");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"after\":[\"db\"]}]}",
	            "pools[0].after[0]: no pool named \"db\"");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"after\":\"db\"}]}",
	            "pools[0].after: must be an array of pool names");
	parse_fails("{\"control\":{\"access\":[{\"user\":\"root\",\"role\":\"god\"}]}}",
	            "control.access[0].role: must be \"read\" or \"admin\"");
	parse_fails("{\"control\":{\"access\":[{\"user\":\"root\",\"group\":\"root\",\"role\":\"read\"}]}}",
	            "control.access[0]: needs exactly one of \"user\" or \"group\"");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"rlimits\":{\"files\":1}}]}",
	            "pools[0].rlimits.files: unknown limit");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"rlimits\":{\"nofile\":-1}}]}",
	            "pools[0].rlimits.nofile: must be a number >= 0 or \"infinity\"");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"umask\":\"0999\"}]}",
	            "pools[0].umask: must be an octal string such as \"0027\"");
	parse_fails("{\"control\":{\"group\":\"nosuchgroup_lv\"}}",
	            "control.group: unknown group \"nosuchgroup_lv\"");
	parse_fails("{\"job_path\":\"/x\"}", "job_path: must be an array of folders");
	parse_fails("{\"job_path\":[\"/x\",\"\"]}", "job_path[1]: must be a non-empty string");
}
END_TEST

/* As root: names and numbers resolve, a user brings its primary group. */
static void user_and_group_as_root(void)
{
	struct passwd *nobody = getpwnam("nobody");
	uid_t uid;
	gid_t gid;
	struct lv_config *cfg;

	ck_assert_ptr_nonnull(nobody);
	uid = nobody->pw_uid;
	gid = nobody->pw_gid;
	cfg = parse_ok("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"user\":\"nobody\"},"
	               "{\"name\":\"b\",\"exec\":[\"x\"],\"user\":\"65534\",\"group\":\"0\"},"
	               "{\"name\":\"c\",\"exec\":[\"x\"],\"group\":\"root\"}]}");
	ck_assert_str_eq(cfg->pools[0].user, "nobody");
	ck_assert_ptr_null(cfg->pools[0].group);
	ck_assert_uint_eq(cfg->pools[0].uid, uid);
	ck_assert_uint_eq(cfg->pools[0].gid, gid);
	ck_assert_uint_eq(cfg->pools[1].uid, 65534);
	ck_assert_uint_eq(cfg->pools[1].gid, 0);
	ck_assert_str_eq(cfg->pools[1].group, "root");
	ck_assert_ptr_null(cfg->pools[2].user);
	ck_assert_uint_eq(cfg->pools[2].gid, 0);
	lv_config_free(cfg);
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"user\":\"nosuchuser_lv\"}]}",
	            "pools[0].user: unknown user \"nosuchuser_lv\"");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"user\":\"-1\"}]}",
	            "pools[0].user: unknown user \"-1\"");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"group\":\"nosuchgroup_lv\"}]}",
	            "pools[0].group: unknown group \"nosuchgroup_lv\"");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"group\":\" 0\"}]}",
	            "pools[0].group: unknown group \" 0\"");
}

static void user_and_group_not_root(void)
{
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"user\":\"nobody\"}]}",
	            "pools[0].user: only allowed when loopvisord runs as root");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"group\":\"nogroup\"}]}",
	            "pools[0].group: only allowed when loopvisord runs as root");
}

/* Both branches whoever runs the test: as root, the non-root one under a borrowed euid. */
START_TEST(user_and_group)
{
	if (geteuid() != 0) {
		user_and_group_not_root();
		return;
	}
	user_and_group_as_root();
	ck_assert_int_eq(seteuid(65534), 0);
	user_and_group_not_root();
	ck_assert_int_eq(seteuid(0), 0);
}
END_TEST

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(load_from_files)
{
	char dir[] = "/tmp/lvcfg.XXXXXX", path[64], dotted[80], real[4096], expect[4200];
	struct lv_config *cfg;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_ptr_nonnull(realpath(dir, real));
	snprintf(path, sizeof path, "%s/c.json", dir);
	snprintf(dotted, sizeof dotted, "%s/./c.json", dir);
	write_file(path, "{\"control\":{\"socket\":\"s.sock\"},\"job_path\":[\"jobs\"],"
	                 "\"pools\":[{\"name\":\"m\",\"module\":\"lib/m.so\",\"cwd\":\"w\"}]}");
	ck_assert_int_eq(lv_config_load(dotted, &cfg, err, sizeof err), 0);
	ck_assert_str_eq(cfg->dir, real);
	snprintf(expect, sizeof expect, "%s/c.json", real);
	ck_assert_str_eq(cfg->path, expect);
	snprintf(expect, sizeof expect, "%s/s.sock", real);
	ck_assert_str_eq(cfg->control_socket, expect);
	snprintf(expect, sizeof expect, "%s/jobs", real);
	ck_assert_str_eq(cfg->job_path[0], expect);
	snprintf(expect, sizeof expect, "%s/lib/m.so", real);
	ck_assert_str_eq(cfg->pools[0].module, expect);
	snprintf(expect, sizeof expect, "%s/w", real);
	ck_assert_str_eq(cfg->pools[0].cwd, expect);
	lv_config_free(cfg);

	write_file(path, "{\"pools\": [\n  {\"name\": \"a\",}\n]}");
	ck_assert_int_eq(lv_config_load(path, &cfg, err, sizeof err), -1);
	ck_assert_ptr_null(cfg);
	snprintf(expect, sizeof expect, "%s:2:16: string or '}' expected near '}'", path);
	ck_assert_str_eq(err, expect);

	write_file(path, "{\"pools\":[],\"pools\":[]}");
	ck_assert_int_eq(lv_config_load(path, &cfg, err, sizeof err), -1);
	snprintf(expect, sizeof expect, "%s:1:19: duplicate object key near '\"pools\"'", path);
	ck_assert_str_eq(err, expect);

	write_file(path, "{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"wrokers\":1}]}");
	ck_assert_int_eq(lv_config_load(path, &cfg, err, sizeof err), -1);
	ck_assert_str_eq(err, "pools[0].wrokers: unknown key; did you mean \"workers\"?");
	unlink(path);

	ck_assert_int_eq(lv_config_load(path, &cfg, err, sizeof err), -1);
	ck_assert_ptr_null(cfg);
	snprintf(expect, sizeof expect, "%s: No such file or directory", path);
	ck_assert_str_eq(err, expect);
	ck_assert_int_eq(lv_config_load(dir, &cfg, err, sizeof err), -1);
	snprintf(expect, sizeof expect, "%s: Is a directory", dir);
	ck_assert_str_eq(err, expect);
	rmdir(dir);
}
END_TEST

START_TEST(more_errors)
{
	static const char *const bad_signals[] = { "0", "\"0\"", "65", "-15", "true", "\"\"",
	                                           "\"SIGBOGUS\"", "[15]" };

	parse_fails("{\"control\":[]}", "control: must be an object");
	parse_fails("{\"control\":{\"mode\":600}}", "control.mode: must be a non-empty string");
	parse_fails("{\"control\":{\"mode\":\"\"}}", "control.mode: must be a non-empty string");
	parse_fails("{\"control\":{\"mode\":\"0800\"}}",
	            "control.mode: must be an octal string such as \"0600\"");
	parse_fails("{\"control\":{\"mode\":\"1000\"}}",
	            "control.mode: must be an octal string such as \"0600\"");
	parse_fails("{\"control\":{\"mode\":\"-600\"}}",
	            "control.mode: must be an octal string such as \"0600\"");
	parse_fails("{\"pools\":[7]}", "pools[0]: must be an object");
	parse_fails("{\"pools\":[{\"name\":7,\"exec\":[\"x\"]}]}",
	            "pools[0].name: must be a non-empty string");
	parse_fails("{\"pools\":[{\"name\":\"0123456789012345678901234567890123456789"
	            "0123456789012345678901234\",\"exec\":[\"x\"]}]}",
	            "pools[0].name: must match [A-Za-z0-9_.-]{1,64}");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":\"x\"}]}",
	            "pools[0].exec: must be a non-empty array of strings");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"module\":\"\"}]}",
	            "pools[0].module: must be a non-empty string");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"env\":[]}]}",
	            "pools[0].env: must be an object of strings");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"env\":{\"\":\"1\"}}]}",
	            "pools[0].env.: variable names must be non-empty, without '='");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"env\":{\"A\":null}}]}",
	            "pools[0].env.A: must be a string");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"start_limit\":5}]}",
	            "pools[0].start_limit: must be an object");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],"
	            "\"start_limit\":{\"interval_ms\":86400001}}]}",
	            "pools[0].start_limit.interval_ms: must be an integer between 1 and 86400000");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"workers\":1.5}]}",
	            "pools[0].workers: must be an integer between 0 and 10000");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"stop_timeout_ms\":3600001}]}",
	            "pools[0].stop_timeout_ms: must be an integer between 1 and 3600000");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"restart\":1}]}",
	            "pools[0].restart: must be a string");
	for (size_t i = 0; i < sizeof bad_signals / sizeof bad_signals[0]; i++) {
		char text[160];

		snprintf(text, sizeof text, "{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],"
		         "\"stop_signal\":%s}]}", bad_signals[i]);
		parse_fails(text,
		            "pools[0].stop_signal: must be a signal name such as \"TERM\" or a number");
	}
}
END_TEST

START_TEST(accepted_forms)
{
	struct lv_config *cfg = parse_ok(
		"{\"control\":{\"mode\":\"660\",\"socket\":\"/run/x.sock\"},\"pools\":["
		"{\"name\":\"a\",\"exec\":[\"x\",\"\"],\"stop_signal\":\"KILL\",\"cwd\":\"/srv\"},"
		"{\"name\":\"b\",\"module\":\"/usr/lib/b.so\",\"stop_signal\":9},"
		"{\"name\":\"c\",\"module\":\"c\",\"stop_signal\":\"sigusr1\",\"params\":{\"k\":[1]}},"
		"{\"name\":\"d\",\"exec\":[\"x\"],\"stop_signal\":\"15\",\"workers\":10000,"
		"\"env\":{}}]}");

	ck_assert_str_eq(cfg->control_socket, "/run/x.sock");
	ck_assert_uint_eq(cfg->control_mode, 0660);
	ck_assert_str_eq(cfg->pools[0].argv[1], "");
	ck_assert_int_eq(cfg->pools[0].stop_signal, SIGKILL);
	ck_assert_str_eq(cfg->pools[0].cwd, "/srv");
	ck_assert_ptr_null(cfg->pools[0].module);
	ck_assert_ptr_null(cfg->pools[0].params);
	ck_assert_str_eq(cfg->pools[1].module, "/usr/lib/b.so");
	ck_assert_int_eq(cfg->pools[1].stop_signal, SIGKILL);
	ck_assert_ptr_null(cfg->pools[1].argv);
	ck_assert_str_eq(cfg->pools[2].module, "c");
	ck_assert_int_eq(cfg->pools[2].stop_signal, SIGUSR1);
	ck_assert_int_eq(json_array_size(json_object_get(cfg->pools[2].params, "k")), 1);
	ck_assert_int_eq(cfg->pools[3].stop_signal, SIGTERM);
	ck_assert_uint_eq(cfg->pools[3].workers, 10000);
	ck_assert_ptr_null(cfg->pools[3].env[0]);
	ck_assert_ptr_null(cfg->path);
	ck_assert_str_eq(cfg->dir, "/etc/lv");
	lv_config_free(cfg);

	cfg = parse_ok("{\"control\":{\"mode\":\"0777\"},\"pools\":[]}");
	ck_assert_uint_eq(cfg->control_mode, 0777);
	ck_assert_uint_eq(cfg->n_pools, 0);
	lv_config_free(cfg);
	cfg = parse_ok("{\"control\":{\"mode\":\"0\"}}");
	ck_assert_uint_eq(cfg->control_mode, 0);
	lv_config_free(cfg);
	lv_config_free(NULL);
}
END_TEST

/* Without a base folder the current one is used, and relative paths stay relative to it. */
START_TEST(base_dir_null)
{
	json_t *root = json_loads("{\"control\":{\"socket\":\"s\"}}", 0, NULL);
	struct lv_config *cfg = NULL;

	ck_assert_int_eq(lv_config_from_json(root, NULL, &cfg, err, sizeof err), 0);
	ck_assert_str_eq(cfg->dir, ".");
	ck_assert_str_eq(cfg->control_socket, "./s");
	ck_assert_ptr_null(cfg->path);
	lv_config_free(cfg);
	json_decref(root);
}
END_TEST

static bool pool_is_cleared(const struct lv_pool_config *p)
{
	static const struct lv_pool_config zero;

	return memcmp(p, &zero, sizeof zero) == 0;
}

/* A failure anywhere leaves out zeroed with nothing allocated (LeakSanitizer checks the rest). */
START_TEST(failed_pool_is_cleared)
{
	static const char *const bad[] = {
		"{\"name\":\"x\",\"exec\":[\"y\"],\"workers\":-1}",
		"{\"name\":\"x\",\"exec\":[\"a\",\"b\",3]}",
		"{\"name\":\"x\",\"module\":\"m\",\"params\":{\"a\":1},\"env\":{\"A\":\"1\",\"B\":2}}",
		"{\"name\":\"x\",\"module\":\"./m.so\",\"env\":{\"A\":\"1\"},\"cwd\":\"w\",\"after\":[\"y\",\"?\"]}",
		"{\"name\":\"x\",\"exec\":[\"y\"],\"listen\":[\"unix:a\",\"bad\"]}",
		"{\"name\":\"x\",\"exec\":[\"y\"],\"env\":{\"A\":\"1\"},\"user\":\"nosuchuser_lv\"}",
		"[]",
	};
	struct lv_pool_config p;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		json_t *obj = json_loads(bad[i], 0, NULL);

		ck_assert_ptr_nonnull(obj);
		memset(&p, 0xab, sizeof p);
		ck_assert_int_eq(lv_pool_config_from_json(obj, "/", "pool", &p, err, sizeof err), -1);
		ck_assert_msg(pool_is_cleared(&p), "not cleared after: %s", err);
		ck_assert_int_eq(strncmp(err, "pool", 4), 0);
		json_decref(obj);
	}
}
END_TEST

START_TEST(single_pool_validator)
{
	json_t *obj = json_loads("{\"name\":\"x\",\"exec\":[\"y\"],\"workers\":-1}", 0, NULL);
	json_t *more = json_loads("{\"name\":\"x\",\"exec\":[\"y\"],\"workers\":7}", 0, NULL);
	json_t *other = json_loads("{\"name\":\"x\",\"exec\":[\"z\"]}", 0, NULL);
	struct lv_pool_config p, q, r;

	ck_assert_int_eq(lv_pool_config_from_json(obj, "/", "pool", &p, err, sizeof err), -1);
	ck_assert_str_eq(err, "pool.workers: must be an integer between 0 and 10000");
	json_object_set_new(obj, "workers", json_integer(2));
	ck_assert_int_eq(lv_pool_config_from_json(obj, "/", "pool", &p, err, sizeof err), 0);
	ck_assert_int_eq(lv_pool_config_from_json(more, "/", "pool", &q, err, sizeof err), 0);
	ck_assert_int_eq(lv_pool_config_from_json(other, "/", "pool", &r, err, sizeof err), 0);
	ck_assert(json_equal(p.source, obj));
	ck_assert(!lv_pool_config_differs(&p, &q)); /* only workers differ: no restart */
	ck_assert(lv_pool_config_differs(&p, &r));
	lv_pool_config_clear(&p);
	lv_pool_config_clear(&q);
	lv_pool_config_clear(&r);
	ck_assert(pool_is_cleared(&p));
	json_decref(obj);
	json_decref(more);
	json_decref(other);
	ck_assert(lv_pool_name_valid("a-b.c_9"));
	ck_assert(lv_pool_name_valid("0123456789012345678901234567890123456789012345678901234567890123"));
	ck_assert(!lv_pool_name_valid(""));
	ck_assert(!lv_pool_name_valid("a:b"));
	ck_assert(!lv_pool_name_valid("a/b"));
	ck_assert(!lv_pool_name_valid("01234567890123456789012345678901234567890123456789012345678901234"));
}
END_TEST

int main(void)
{
	Suite *su = suite_create("config");
	TCase *tc = tcase_create("validate");

	tcase_add_test(tc, defaults);
	tcase_add_test(tc, every_key);
	tcase_add_test(tc, errors_name_the_key_path);
	tcase_add_test(tc, more_errors);
	tcase_add_test(tc, accepted_forms);
	tcase_add_test(tc, base_dir_null);
	tcase_add_test(tc, user_and_group);
	tcase_add_test(tc, load_from_files);
	tcase_add_test(tc, failed_pool_is_cleared);
	tcase_add_test(tc, single_pool_validator);
	suite_add_tcase(su, tc);
	return lv_check_run(su);
}
