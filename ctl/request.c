/* request: a command line made a JSON-RPC method and its params, or one line saying what is
 * wrong with it (and which command was meant). */
#include "ctl/request.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/lib/strv.h"

/* A mistake gets one line, not the whole usage again (that is --help). */
int ctl_usage_error(const char *msg)
{
	fprintf(stderr, "loopvisorctl: %s\n", msg);
	return EXIT_USAGE;
}

static const char *const commands[] = { "status", "start", "stop", "restart", "scale", "signal",
	"reload", "add", "remove", "reset", "inspect", "wait", "shutdown", "version", "events",
	"tail", "call", "top", NULL };

static int unknown_command(const char *cmd)
{
	const char *meant = lv_strv_closest(cmd, commands);

	if (meant)
		fprintf(stderr, "loopvisorctl: unknown command '%s'; did you mean '%s'?\n", cmd, meant);
	else
		fprintf(stderr, "loopvisorctl: unknown command '%s'; loopvisorctl --help lists them\n",
		        cmd);
	return EXIT_USAGE;
}

/* A whole decimal number in 0..max, or -1. */
long ctl_parse_count(const char *text, long max)
{
	char *end;
	long n;

	if (!*text || strspn(text, "0123456789") != strlen(text))
		return -1;
	errno = 0;
	n = strtol(text, &end, 10);
	return errno || n > max ? -1 : n;
}

/* The wait and timeout a command that waits takes from the options. */
static void add_wait(json_t *params, const struct opts *o)
{
	json_object_set_new(params, "wait", json_boolean(!o->no_wait));
	if (o->timeout_ms > 0)
		json_object_set_new(params, "timeout_ms", json_integer(o->timeout_ms));
}

/* A pool object from a file, or from stdin for "-"; NULL after saying why. */
static json_t *read_pool(const char *path)
{
	json_error_t err;
	json_t *pool = !strcmp(path, "-") ? json_loadf(stdin, JSON_REJECT_DUPLICATES, &err)
	                                  : json_load_file(path, JSON_REJECT_DUPLICATES, &err);

	if (!pool || !json_is_object(pool)) {
		fprintf(stderr, "loopvisorctl: %s: %s\n", path,
		        pool ? "must hold one pool object" : err.text);
		json_decref(pool);
		return NULL;
	}
	return pool;
}

/* STATE or STATE,STATE,... as the JSON array wait takes. */
static json_t *state_list(const char *text)
{
	json_t *list = json_array();
	const char *p = text;

	while (*p) {
		size_t n = strcspn(p, ",");

		json_array_append_new(list, json_stringn(p, n));
		p += n + (p[n] == ',');
	}
	return list;
}

/* Builds the method and params of a command; returns EXIT_OK or EXIT_USAGE. */
int ctl_build_request(int argc, char **argv, const struct opts *o, const char **method,
                         json_t **params, int *follow_out)
{
	const char *cmd = argv[0];

	*method = cmd;
	*params = NULL;
	if (!strcmp(cmd, "status")) {
		if (argc > 2)
			return ctl_usage_error("status takes TARGETs, or all");
		if (argc == 2)
			*params = json_pack("{s:s}", "target", argv[1]);
	} else if (!strcmp(cmd, "start") || !strcmp(cmd, "stop") || !strcmp(cmd, "restart")) {
		if (argc != 2)
			return ctl_usage_error("needs at least one TARGET");
		*params = json_pack("{s:s}", "target", argv[1]);
		add_wait(*params, o);
		if (o->rolling)
			json_object_set_new(*params, "rolling", json_true());
	} else if (!strcmp(cmd, "reload")) {
		if (argc != 1)
			return ctl_usage_error("reload takes no arguments");
	} else if (!strcmp(cmd, "add")) {
		json_t *pool;
		if (argc != 2)
			return ctl_usage_error("add needs FILE, or - for stdin");
		if (!(pool = read_pool(argv[1])))
			return EXIT_USAGE;
		*params = json_pack("{s:o}", "pool", pool);
		add_wait(*params, o);
	} else if (!strcmp(cmd, "remove") || !strcmp(cmd, "reset")) {
		if (argc != 2)
			return ctl_usage_error(!strcmp(cmd, "reset") ? "reset needs exactly one POOL"
			                                         : "remove needs exactly one POOL");
		*params = json_pack("{s:s}", "pool", argv[1]);
		add_wait(*params, o);
	} else if (!strcmp(cmd, "inspect")) {
		if (argc != 2)
			return ctl_usage_error("inspect needs exactly one POOL:INDEX");
		*params = json_pack("{s:s}", "target", argv[1]);
		if (o->timeout_ms > 0)
			json_object_set_new(*params, "timeout_ms", json_integer(o->timeout_ms));
	} else if (!strcmp(cmd, "wait")) {
		if (argc != 3 || !argv[2][0])
			return ctl_usage_error("wait needs TARGET and STATE (or STATE,STATE,...)");
		*params = json_pack("{s:s, s:o}", "target", argv[1], "state", state_list(argv[2]));
		if (o->timeout_ms > 0)
			json_object_set_new(*params, "timeout_ms", json_integer(o->timeout_ms));
	} else if (!strcmp(cmd, "scale")) {
		long n;
		if (argc != 3)
			return ctl_usage_error("scale needs POOL and N");
		if (!strcmp(argv[2], "config")) /* back to the config's count: no override */
			*params = json_pack("{s:s, s:s, s:b}", "pool", argv[1], "workers", "config",
			                    "wait", !o->no_wait);
		else if ((n = ctl_parse_count(argv[2], INT_MAX)) < 0)
			return ctl_usage_error("N must be a number of workers, or config");
		else
			*params = json_pack("{s:s, s:i, s:b}", "pool", argv[1], "workers", (int)n,
			                    "wait", !o->no_wait);
	} else if (!strcmp(cmd, "signal")) {
		long signo;
		if (argc != 3 || !argv[2][0])
			return ctl_usage_error("signal needs TARGET and SIG");
		if (strspn(argv[2], "0123456789") == strlen(argv[2])) {
			if ((signo = ctl_parse_count(argv[2], INT_MAX)) < 0)
				return ctl_usage_error("SIG is out of range");
			*params = json_pack("{s:s, s:i}", "target", argv[1], "signal", (int)signo);
		} else
			*params = json_pack("{s:s, s:s}", "target", argv[1], "signal", argv[2]);
	} else if (!strcmp(cmd, "events")) {
		if (argc > 2)
			return ctl_usage_error("events takes at most one TARGET");
		*method = "subscribe";
		*follow_out = 1;
		if (argc == 2)
			*params = json_pack("{s:s}", "target", argv[1]);
	} else if (!strcmp(cmd, "top")) {
		if (argc > 2)
			return ctl_usage_error("top takes at most one TARGET");
		if (o->json)
			return ctl_usage_error("top is for people: --json is not for it");
		*method = "status"; /* the first of what it asks (ctl/top.c) */
		if (argc == 2 && strcmp(argv[1], "all") != 0)
			*params = json_pack("{s:s}", "target", argv[1]);
	} else if (!strcmp(cmd, "tail")) {
		int follow = 0, lines = 50, i;
		for (i = 1; i < argc - 1; i++) {
			if (!strcmp(argv[i], "-f"))
				follow = 1;
			else if (!strcmp(argv[i], "-n") && i + 1 < argc - 1 &&
			         (lines = (int)ctl_parse_count(argv[i + 1], INT_MAX)) >= 0)
				i++;
			else
				return ctl_usage_error("tail [-f] [-n LINES] TARGET");
		}
		if (argc < 2 || argv[argc - 1][0] == '-')
			return ctl_usage_error("tail needs a TARGET");
		*params = json_pack("{s:s, s:i, s:b}", "target", argv[argc - 1], "lines", lines,
		                    "follow", follow);
		*follow_out = follow;
	} else if (!strcmp(cmd, "shutdown") || !strcmp(cmd, "version")) {
		if (argc != 1)
			return ctl_usage_error("takes no arguments");
	} else if (!strcmp(cmd, "call")) {
		json_error_t err;
		if (argc < 2 || argc > 3)
			return ctl_usage_error("call needs METHOD and optional PARAMS_JSON");
		*method = argv[1];
		if (argc == 3) {
			*params = json_loads(argv[2], JSON_REJECT_DUPLICATES, &err);
			if (!*params || !(json_is_object(*params) || json_is_array(*params))) {
				json_decref(*params);
				*params = NULL;
				fprintf(stderr, "loopvisorctl: PARAMS_JSON: %s\n",
				        err.text[0] ? err.text : "must be an object or an array");
				return EXIT_USAGE;
			}
		}
	} else {
		return unknown_command(cmd);
	}
	return EXIT_OK;
}
