/* test_config_paths: what the config does with paths and per-worker templates: relative
 * paths against the config's folder (each key), placeholders checked at parse time with the
 * key path in the message, and env_file's forms. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "config/config.h"

static char err[LV_ERRBUF];

static struct lv_config *parse_in(const char *base, const char *text)
{
	json_error_t jerr;
	json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	struct lv_config *cfg = NULL;

	ck_assert_msg(root != NULL, "test JSON: %s", jerr.text);
	ck_assert_msg(lv_config_from_json(root, base, &cfg, err, sizeof err) == 0, "%s", err);
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
	ck_assert_msg(!strncmp(err, message, strlen(message)), "%s\nwanted: %s", err, message);
	json_decref(root);
}

/* Every relative path key, one config: each ends up under the config's folder. */
START_TEST(relative_paths_resolve_against_the_config_folder)
{
	struct lv_config *cfg = parse_in("/etc/lv",
		"{\"state_dir\":\"state\",\"logs\":{\"dir\":\"logs\"},\"job_path\":[\"jobs\",\"/abs\"],"
		"\"control\":{\"socket\":\"run/c.sock\"},\"pools\":["
		"{\"name\":\"a\",\"exec\":[\"bin/app\",\"rel/arg\"],\"cwd\":\"work/{index}\","
		" \"env_file\":[\"a.env\",\"-/abs/b.env\",\"-opt.env\"]},"
		"{\"name\":\"b\",\"exec\":[\"python3\"],\"cwd\":\"/srv\",\"env_file\":\"one.env\"},"
		"{\"name\":\"c\",\"exec\":[\"./x\"]},"
		"{\"name\":\"m\",\"module\":\"lib/m.so\"}]}");

	ck_assert_str_eq(cfg->state_dir, "/etc/lv/state");
	ck_assert_str_eq(cfg->logs_dir, "/etc/lv/logs");
	ck_assert_str_eq(cfg->job_path[0], "/etc/lv/jobs");
	ck_assert_str_eq(cfg->job_path[1], "/abs");
	ck_assert_str_eq(cfg->control_socket, "/etc/lv/run/c.sock");
	ck_assert_str_eq(cfg->pools[0].argv[0], "/etc/lv/bin/app");
	ck_assert_str_eq(cfg->pools[0].argv[1], "rel/arg"); /* arguments are the program's business */
	ck_assert_str_eq(cfg->pools[0].cwd, "/etc/lv/work/{index}");
	ck_assert_str_eq(cfg->pools[0].env_files[0], "/etc/lv/a.env");
	ck_assert_str_eq(cfg->pools[0].env_files[1], "-/abs/b.env");
	ck_assert_str_eq(cfg->pools[0].env_files[2], "-/etc/lv/opt.env");
	ck_assert_ptr_null(cfg->pools[0].env_files[3]);
	ck_assert_str_eq(cfg->pools[1].argv[0], "python3"); /* a bare name: PATH, at start */
	ck_assert_str_eq(cfg->pools[1].cwd, "/srv");
	ck_assert_str_eq(cfg->pools[1].env_files[0], "/etc/lv/one.env");
	ck_assert_str_eq(cfg->pools[2].argv[0], "/etc/lv/./x");
	ck_assert_ptr_null(cfg->pools[2].env_files[0]);
	ck_assert_str_eq(cfg->pools[3].module, "/etc/lv/lib/m.so");
	lv_config_free(cfg);
}
END_TEST

/* A { in the config's own folder is not a placeholder. */
START_TEST(braces_in_the_folder_are_kept)
{
	struct lv_config *cfg = parse_in("/srv/{x}",
		"{\"pools\":[{\"name\":\"a\",\"exec\":[\"bin/{pool}\"],\"cwd\":\"w\"}]}");

	ck_assert_str_eq(cfg->pools[0].argv[0], "/srv/{{x}}/bin/{pool}");
	ck_assert_str_eq(cfg->pools[0].cwd, "/srv/{{x}}/w");
	lv_config_free(cfg);
}
END_TEST

START_TEST(templates_are_checked_at_parse_time)
{
	struct lv_config *cfg = parse_in("/etc/lv",
		"{\"pools\":[{\"name\":\"a\",\"exec\":[\"app\",\"--port\",\"{index+8000}\",\"{{x}\"],"
		"\"env\":{\"ME\":\"{name}\"},\"cwd\":\"/w/{pool}\"}]}");

	ck_assert_str_eq(cfg->pools[0].argv[2], "{index+8000}"); /* expanded per worker at start */
	ck_assert_str_eq(cfg->pools[0].env[0], "ME={name}");
	lv_config_free(cfg);
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"app\",\"x\",\"{foo}\"]}]}",
	            "pools[0].exec[2]: unknown placeholder {foo}");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"app\",\"{index+}\"]}]}",
	            "pools[0].exec[1]: bad placeholder {index+}");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"{index\"]}]}",
	            "pools[0].exec[0]: unclosed placeholder");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"env\":{\"P\":\"${HOME}\"}}]}",
	            "pools[0].env.P: unknown placeholder {HOME}");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"cwd\":\"/w/{idx}\"}]}",
	            "pools[0].cwd: unknown placeholder {idx}");
}
END_TEST

START_TEST(env_file_forms)
{
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"env_file\":3}]}",
	            "pools[0].env_file: must be a path or an array of paths");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"env_file\":\"\"}]}",
	            "pools[0].env_file: must be a non-empty path");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"env_file\":[\"a\",\"-\"]}]}",
	            "pools[0].env_file[1]: must be a non-empty path");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"env_file\":[1]}]}",
	            "pools[0].env_file[0]: must be a non-empty path");
	parse_fails("{\"pools\":[{\"name\":\"a\",\"exec\":[\"x\"],\"env_files\":[]}]}",
	            "pools[0].env_files: unknown key; did you mean \"env_file\"?");
}
END_TEST

int main(void)
{
	Suite *su = suite_create("config_paths");
	TCase *tc = tcase_create("paths");

	tcase_add_test(tc, relative_paths_resolve_against_the_config_folder);
	tcase_add_test(tc, braces_in_the_folder_are_kept);
	tcase_add_test(tc, templates_are_checked_at_parse_time);
	tcase_add_test(tc, env_file_forms);
	suite_add_tcase(su, tc);
	return lv_check_run(su);
}
