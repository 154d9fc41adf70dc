/* rpcload: control-socket load. C clients, each on its own connection and thread, send
 * one request, read its reply, and go again, for S seconds; every round trip is timed.
 *
 *   lvbench_rpcload SOCKET METHOD PARAMS|- CLIENTS SECONDS
 *
 * Prints {"clients":C,"requests":R,"rps":...,"p50_us":...,"p99_us":...,"max_us":...}.
 * A reply that is an error, or a lost connection, fails the run (exit 1). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl/client.h"

struct load {
	const char *sock;
	char line[1024];
	double until;
	double *lat;       /* round trips, in us */
	size_t n, cap;
	int failed;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *client(void *arg)
{
	struct load *ld = arg;
	struct lv_client *c = lv_client_connect(ld->sock);

	if (!c) {
		ld->failed = 1;
		return NULL;
	}
	for (double t = now_s(); t < ld->until; t = now_s()) {
		char *reply;

		if (lv_client_send_line(c, ld->line, strlen(ld->line)) < 0 ||
		    !(reply = lv_client_read_line(c, 30000)) || strstr(reply, "\"error\":")) {
			ld->failed = 1;
			break;
		}
		free(reply);
		if (ld->n == ld->cap) {
			double *more = realloc(ld->lat, (ld->cap = ld->cap ? 2 * ld->cap : 4096) *
			                                    sizeof *more);
			if (!more) {
				ld->failed = 1;
				break;
			}
			ld->lat = more;
		}
		ld->lat[ld->n++] = (now_s() - t) * 1e6;
	}
	lv_client_close(c);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int clients = argc > 4 ? atoi(argv[4]) : 0;
	double seconds = argc > 5 ? atof(argv[5]) : 0, *all;
	struct load *ld;
	pthread_t *th;
	size_t total = 0, k = 0;
	int failed = 0;

	if (argc != 6 || clients <= 0 || seconds <= 0) {
		fprintf(stderr, "usage: %s SOCKET METHOD PARAMS|- CLIENTS SECONDS\n", argv[0]);
		return 2;
	}
	ld = calloc((size_t)clients, sizeof *ld);
	th = calloc((size_t)clients, sizeof *th);
	if (!ld || !th)
		return 1;
	for (int i = 0; i < clients; i++) {
		ld[i].sock = argv[1];
		snprintf(ld[i].line, sizeof ld[i].line,
		         "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"%s\"%s%s}", i + 1, argv[2],
		         strcmp(argv[3], "-") ? ",\"params\":" : "", strcmp(argv[3], "-") ? argv[3] : "");
		ld[i].until = now_s() + seconds;
		if (pthread_create(&th[i], NULL, client, &ld[i]) != 0)
			return 1;
	}
	for (int i = 0; i < clients; i++) {
		pthread_join(th[i], NULL);
		total += ld[i].n;
		failed |= ld[i].failed;
	}
	if (failed || total == 0 || !(all = malloc(total * sizeof *all))) {
		fprintf(stderr, "rpcload: a request failed or none completed\n");
		return 1;
	}
	for (int i = 0; i < clients; i++) {
		memcpy(all + k, ld[i].lat, ld[i].n * sizeof *all);
		k += ld[i].n;
		free(ld[i].lat);
	}
	qsort(all, total, sizeof *all, cmp_double);
	printf("{\"clients\":%d,\"requests\":%zu,\"rps\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f,"
	       "\"max_us\":%.1f}\n",
	       clients, total, (double)total / seconds, all[total / 2], all[total * 99 / 100],
	       all[total - 1]);
	free(all);
	free(ld);
	free(th);
	return 0;
}
