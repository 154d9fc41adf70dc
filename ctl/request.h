/* request: turns a loopvisorctl command line into the JSON-RPC method and params it sends,
 * checking its words first: a mistake is one line and exit 2, never a request. */
#ifndef LV_CTL_REQUEST_H
#define LV_CTL_REQUEST_H

#include <jansson.h>

enum { EXIT_OK = 0, EXIT_REMOTE = 1, EXIT_USAGE = 2, EXIT_CONNECT = 3, EXIT_TIMEOUT = 4,
       EXIT_UNHEALTHY = 5 };

struct opts {
	const char *socket;
	int json;
	int no_wait;
	int timeout_ms;
	int rolling;      /* restart --rolling */
	int no_color;
};

/* A mistake gets one line, not the whole usage again (that is --help): EXIT_USAGE. */
int ctl_usage_error(const char *msg);
/* A whole decimal number in 0..max, or -1. */
long ctl_parse_count(const char *text, long max);
/* The method and params (NULL or a new object) of the command argv[0] with its arguments;
 * *follow set for commands that stream afterwards. EXIT_OK, or EXIT_USAGE after saying why. */
int ctl_build_request(int argc, char **argv, const struct opts *o, const char **method,
                      json_t **params, int *follow);

#endif
