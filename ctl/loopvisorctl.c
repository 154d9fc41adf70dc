/* loopvisorctl: the command-line client: one request per command, a table or short lines
 * for people, the raw result with --json for scripts, and exit codes that tell which. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "ctl/client.h"
#include "ctl/output.h"
#include "ctl/progress.h"
#include "ctl/request.h"
#include "ctl/top.h"
#include "ipc/sockpath.h"
#include "ipc/stdfds.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: loopvisorctl [-s|--socket SOCKET] [--json] [--timeout MS] [--no-wait]\n"
	        "                    [--no-color] COMMAND\n"
	        "       loopvisorctl --version | --help\n"
	        "commands:\n"
	        "  status [TARGET...|all]          workers and their states\n"
	        "  start|stop|restart TARGET...    and wait for the result (--no-wait: don't)\n"
	        "  restart --rolling POOL...       one worker at a time, each once its successor runs\n"
	        "  scale POOL N|config             run N workers in POOL (config: as configured)\n"
	        "  signal TARGET... SIG            send SIG (HUP, TERM, 9, ...) to the workers\n"
	        "  reload                          re-read the config file and apply the difference\n"
	        "  add FILE|-                      add the pool a JSON file (or stdin) describes\n"
	        "  remove POOL                     stop a pool's workers and forget it\n"
	        "  reset POOL                      drop its runtime scale and held stops: the config rules\n"
	        "  inspect POOL:INDEX              ask a module worker's loops what they are doing\n"
	        "  wait TARGET STATE[,STATE...]    until every worker of TARGET is in one of them\n"
	        "  shutdown                        stop every worker, then the daemon\n"
	        "  version                         daemon and client versions\n"
	        "  events [TARGET]                 follow the event stream until interrupted\n"
	        "  tail [-f] [-n LINES] TARGET     the last log lines of workers (-f: and follow)\n"
	        "  call METHOD [PARAMS_JSON]       any method, raw\n"
	        "  top [TARGET]                    a live full-screen view of the workers (q quits)\n"
	        "TARGET is POOL or POOL:INDEX, or all (every pool).\n"
	        "Exit: 0 ok, 1 the daemon said no, 2 usage, 3 no daemon, 4 sent but not done within\n"
	        "--timeout, 5 status or wait found a worker failed or backing off.\n"
	        "On a terminal: states in colour (not with NO_COLOR or --no-color), and a progress\n"
	        "line while start, stop and restart wait.\n");
}

static const char *str_or(const json_t *v, const char *fallback)
{
	return json_is_string(v) ? json_string_value(v) : fallback;
}

static void print_json(const json_t *v)
{
	char *text = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);

	if (text)
		printf("%s\n", text);
	free(text);
}

/* -32002: the daemon did what was asked, but what it waited for did not come in time. */
#define RPC_TIMED_OUT (-32002)
#define RPC_WORKER_FAILED (-32004)

static int report_error(const json_t *error, bool json)
{
	if (json) { /* the whole error object, data included, for scripts */
		char *text = json_dumps(error, JSON_COMPACT);

		fprintf(stderr, "%s\n", text ? text : "{}");
		free(text);
	} else {
		ctl_print_error(stderr, error);
	}
	return json_integer_value(json_object_get(error, "code")) == RPC_TIMED_OUT ? EXIT_TIMEOUT
	                                                                            : EXIT_REMOTE;
}

/* status: EXIT_UNHEALTHY when a worker it lists has failed or waits out a backoff. */
static int health_of(const json_t *result)
{
	const json_t *w;
	size_t i;

	json_array_foreach(json_object_get(result, "workers"), i, w) {
		const char *state = str_or(json_object_get(w, "state"), "");

		if (!strcmp(state, "failed") || !strcmp(state, "backoff"))
			return EXIT_UNHEALTHY;
	}
	return EXIT_OK;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "no-wait", no_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ "rolling", no_argument, NULL, 'r' },
		{ "no-color", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->timeout_ms = -1;
	/* '+': stop at the command, so "call m '{...}'" and negative numbers pass through */
	while ((c = getopt_long(argc, argv, "+s:jh", longopts, NULL)) != -1) {
		switch (c) {
		case 's': o->socket = optarg; break;
		case 'j': o->json = 1; break;
		case 'n': o->no_wait = 1; break;
		case 'r': o->rolling = 1; break;
		case 'C': o->no_color = 1; break;
		case 't':
			if ((o->timeout_ms = (int)ctl_parse_count(optarg, INT_MAX)) < 0)
				exit(ctl_usage_error("--timeout needs a number of milliseconds"));
			break;
		case 'h': usage(stdout); exit(EXIT_OK);
		case 'V': printf("loopvisorctl %s\n", LV_VERSION); exit(EXIT_OK);
		default: exit(ctl_usage_error("loopvisorctl --help lists the options"));
		}
	}
	return optind;
}

static void print_streamed(const struct opts *o, const json_t *params, bool is_log)
{
	if (o->json) {
		char *text = json_dumps(params, JSON_COMPACT);
		printf("%s\n", text ? text : "{}");
		free(text);
	} else if (is_log) {
		ctl_print_log_line(stdout, params);
	} else {
		ctl_print_event(stdout, params);
	}
}

/* After a successful subscribe or tail -f: print what streams in until the daemon goes. */
static int follow_stream(struct lv_client *c, const struct opts *o)
{
	char *line;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((line = lv_client_read_line(c, -1)) != NULL) {
		json_t *msg = json_loads(line, 0, NULL);
		json_t *params = json_object_get(msg, "params");
		const char *method = json_string_value(json_object_get(msg, "method"));

		free(line);
		if (json_is_object(params) && method)
			print_streamed(o, params, !strcmp(method, "log"));
		json_decref(msg);
	}
	fprintf(stderr, "loopvisorctl: the stream ended\n");
	return EXIT_CONNECT;
}

/* How long to wait for the answer: the daemon's own wait (--timeout) ends first, with a
 * reply that says what is missing; a second more covers the round trip. */
static int client_wait_ms(const struct opts *o)
{
	return o->timeout_ms < 0 ? -1 : (o->timeout_ms > INT_MAX - 1000 ? INT_MAX
	                                                                 : o->timeout_ms + 1000);
}

/* Says why a call got no reply: EXIT_TIMEOUT once the request went out, else EXIT_CONNECT. */
static int no_reply(const char *method, const struct opts *o)
{
	if (errno == ETIMEDOUT) { /* the request went out: what it does goes on without us */
		fprintf(stderr, "loopvisorctl: %s: sent, but no answer within %d ms\n", method,
		        client_wait_ms(o));
		return EXIT_TIMEOUT;
	}
	fprintf(stderr, "loopvisorctl: %s: %s\n", method,
	        errno == ECONNRESET ? "the daemon closed the connection" : strerror(errno));
	return EXIT_CONNECT;
}

/* What one reply makes of the exit code, after printing it (cmd: the command word). */
static int take_reply(const char *cmd, const struct opts *o, json_t *result, json_t *error)
{
	if (error) {
		int rc = report_error(error, o->json);

		/* wait: a worker it waited for failed, which is a state, not the daemon's refusal */
		return !strcmp(cmd, "wait") && json_integer_value(json_object_get(error, "code")) ==
		       RPC_WORKER_FAILED ? EXIT_UNHEALTHY : rc;
	}
	if (o->json)
		print_json(result);
	else
		ctl_print_result(stdout, cmd, result);
	if (!strcmp(cmd, "signal") && json_array_size(json_object_get(result, "workers")) == 0)
		return EXIT_REMOTE; /* none of them had a process to signal */
	return !strcmp(cmd, "status") ? health_of(result) : EXIT_OK;
}

/* Commands that take several targets, or "all": start, stop, restart, status, signal. */
static bool takes_targets(const char *cmd)
{
	return !strcmp(cmd, "start") || !strcmp(cmd, "stop") || !strcmp(cmd, "restart") ||
	       !strcmp(cmd, "status") || !strcmp(cmd, "signal");
}

/* The pools the daemon has, for "all": a new array of names, or NULL after saying why. */
static json_t *all_pools(struct lv_client *c, const struct opts *o, int *rc)
{
	json_t *result, *error, *names = json_array(), *p;
	size_t i;

	if (lv_client_call(c, "status", NULL, client_wait_ms(o), &result, &error) < 0) {
		*rc = no_reply("status", o);
		json_decref(names);
		return NULL;
	}
	if (error) {
		*rc = report_error(error, o->json);
		json_decref(error);
		json_decref(names);
		return NULL;
	}
	json_array_foreach(json_object_get(result, "pools"), i, p)
		json_array_append(names, json_object_get(p, "name"));
	json_decref(result);
	return names;
}

/* Whether a terminal is shown a progress line while the command waits. */
static bool wants_progress(const char *cmd, const struct opts *o)
{
	return (!strcmp(cmd, "start") || !strcmp(cmd, "stop") || !strcmp(cmd, "restart")) &&
	       !o->json && !o->no_wait && isatty(STDERR_FILENO);
}

/* lv_client_receive, feeding the progress line (if any) while it waits. */
static int receive(struct lv_client *c, long id, const struct opts *o, struct progress *p,
                   json_t **result, json_t **error)
{
	int total = client_wait_ms(o), waited = 0;

	if (!p)
		return lv_client_receive(c, id, total, result, error);
	for (;;) {
		int slice = total < 0 || total - waited > 100 ? 100 : total - waited;

		if (lv_client_receive(c, id, slice, result, error) == 0)
			return 0;
		if (errno != ETIMEDOUT || (total >= 0 && (waited += slice) >= total))
			return -1;
		progress_pump(p);
	}
}

/* One request per target (after "all" is made the pool list), all sent before any reply is
 * read, so that the daemon acts on every target at once; then each reply in order. The
 * exit code is the highest of the replies'. */
static int run_many(struct lv_client *c, const struct opts *o, int argc, char **argv)
{
	const char *cmd = argv[0], *sig = !strcmp(cmd, "signal") ? argv[argc - 1] : NULL;
	int n_targets = argc - 1 - (sig != NULL), rc = EXIT_OK, follow = 0;
	json_t *targets = json_array(), *ids = json_array(), *v;
	json_t *table = !strcmp(cmd, "status") && !o->json ? json_pack("{s:[], s:[]}", "pools",
	                                                                 "workers") : NULL;
	struct progress *prog = NULL;
	size_t i;

	for (int k = 1; k <= n_targets; k++)
		json_array_append_new(targets, json_string(argv[k]));
	json_array_foreach(targets, i, v)
		if (!strcmp(json_string_value(v), "all")) {
			json_decref(targets);
			if (!(targets = all_pools(c, o, &rc))) {
				json_decref(ids);
				json_decref(table);
				return rc;
			}
			break;
		}
	if (wants_progress(cmd, o))
		prog = progress_begin(stderr, o->socket, c, cmd, o->rolling, targets);
	json_array_foreach(targets, i, v) {
		char *one[3] = { (char *)cmd, (char *)json_string_value(v), (char *)sig };
		const char *method;
		json_t *params;
		long id;

		if ((rc = ctl_build_request(sig ? 3 : 2, one, o, &method, &params, &follow)) != EXIT_OK)
			break;
		if (lv_client_send(c, method, params, &id) < 0) {
			rc = no_reply(method, o);
			break;
		}
		json_array_append_new(ids, json_integer(id));
	}
	progress_sent(prog);
	json_array_foreach(ids, i, v) {
		json_t *result, *error;
		int r;

		if (receive(c, (long)json_integer_value(v), o, prog, &result, &error) < 0) {
			progress_end(prog);
			prog = NULL;
			rc = no_reply(cmd, o);
			break;
		}
		progress_pump(prog);
		progress_clear(prog); /* the reply's line, then the progress line again */
		if (!error && table) { /* one table for all targets, printed at the end */
			json_array_extend(json_object_get(table, "workers"),
			                  json_object_get(result, "workers"));
			json_array_extend(json_object_get(table, "pools"), json_object_get(result, "pools"));
		} else {
			r = take_reply(cmd, o, result, error);
			rc = r > rc ? r : rc;
		}
		json_decref(result);
		json_decref(error);
	}
	progress_end(prog);
	if (table && rc != EXIT_CONNECT && rc != EXIT_TIMEOUT) {
		int r = take_reply(cmd, o, table, NULL);

		rc = r > rc ? r : rc;
	}
	json_decref(table);
	json_decref(targets);
	json_decref(ids);
	return rc;
}

/* Several targets, or "all" where a pool list is meant (status all is plain status), or
 * any target of start, stop and restart (which show progress there). */
static bool wants_many(int argc, char **argv)
{
	int n = argc - 1 - !strcmp(argv[0], "signal");

	if (!takes_targets(argv[0]) || n < 1)
		return false;
	if (!strcmp(argv[0], "start") || !strcmp(argv[0], "stop") || !strcmp(argv[0], "restart"))
		return true;
	if (!strcmp(argv[0], "status") && n == 1 && !strcmp(argv[1], "all"))
		return false;
	for (int k = 1; k <= n; k++)
		if (!strcmp(argv[k], "all"))
			return true;
	return n > 1;
}

/* "restart --rolling POOL": the option may come after the command word; removes it. */
static int take_rolling(int argc, char **argv, struct opts *o)
{
	int n = 1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--rolling"))
			o->rolling = 1;
		else
			argv[n++] = argv[i];
	}
	argv[n] = NULL;
	return n;
}

static struct lv_client *connect_daemon(struct opts *o, char *path, size_t len)
{
	char errbuf[512];
	struct lv_client *c;

	if (!o->socket && lv_default_socket_path(path, len) == 0)
		o->socket = path;
	if (!o->socket) {
		fprintf(stderr, "loopvisorctl: no default control socket path fits; use -s SOCKET\n");
		return NULL;
	}
	if (lv_sockpath_check(o->socket, errbuf, sizeof errbuf) < 0) {
		/* someone else's folder in the shared /tmp: whoever answers there is not our daemon */
		fprintf(stderr, "loopvisorctl: will not talk to %s: %s\n", o->socket, errbuf);
		return NULL;
	}
	if (!(c = lv_client_connect(o->socket)))
		fprintf(stderr, "loopvisorctl: cannot connect to %s: %s\n", o->socket, strerror(errno));
	return c;
}

/* top: a terminal, then the view (ctl/top.c) on its own until it quits. */
static int run_top(struct opts *o, int argc, char **argv, char *path, size_t len)
{
	const char *method, *target = NULL;
	json_t *params = NULL;
	struct lv_client *c;
	int rc, follow = 0;

	if ((rc = ctl_build_request(argc, argv, o, &method, &params, &follow)) != EXIT_OK)
		return rc;
	if (params)
		target = json_string_value(json_object_get(params, "target"));
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
		rc = ctl_usage_error("top needs a terminal");
	else if (!(c = connect_daemon(o, path, len)))
		rc = EXIT_CONNECT;
	else {
		rc = ctl_top(c, o, target);
		lv_client_close(c);
	}
	json_decref(params);
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	char path[4096];
	const char *method;
	json_t *params = NULL, *result, *error;
	struct lv_client *c;
	int first, rc, follow = 0;
	bool many;

	/* before the socket is opened: with fd 1 closed, it would get the output */
	if (lv_std_fds_open() < 0)
		return EXIT_CONNECT;
	first = parse_opts(argc, argv, &o);
	if (first >= argc)
		return ctl_usage_error("no command given");
	argc -= first;
	argv += first;
	/* no-color.org: NO_COLOR set and not empty turns colours off */
	ctl_output_color(!o.no_color && !o.json && isatty(STDOUT_FILENO) &&
	                 !(getenv("NO_COLOR") && *getenv("NO_COLOR")));
	if (!strcmp(argv[0], "restart") || !strcmp(argv[0], "start") || !strcmp(argv[0], "stop"))
		argc = take_rolling(argc, argv, &o);
	if (o.rolling && strcmp(argv[0], "restart") != 0)
		return ctl_usage_error("--rolling is for restart");
	if (!strcmp(argv[0], "status") && argc == 2 && !strcmp(argv[1], "all"))
		argc = 1; /* every worker: what status says without a target */
	if (!strcmp(argv[0], "top"))
		return run_top(&o, argc, argv, path, sizeof path);
	many = wants_many(argc, argv);
	if (!many && (rc = ctl_build_request(argc, argv, &o, &method, &params, &follow)) != EXIT_OK)
		return rc;
	if (!(c = connect_daemon(&o, path, sizeof path))) {
		json_decref(params);
		return EXIT_CONNECT;
	}
	if (many) {
		rc = run_many(c, &o, argc, argv);
		lv_client_close(c);
		return rc;
	}
	if (lv_client_call(c, method, params, client_wait_ms(&o), &result, &error) < 0) {
		rc = no_reply(method, &o);
		lv_client_close(c);
		return rc;
	}
	if (!error && follow) {
		if (!strcmp(argv[0], "tail") && !o.json)
			ctl_print_log_lines(stdout, result);
		json_decref(result);
		rc = follow_stream(c, &o);
		lv_client_close(c);
		return rc;
	}
	lv_client_close(c);
	rc = take_reply(argv[0], &o, result, error);
	json_decref(result);
	json_decref(error);
	return rc;
}
