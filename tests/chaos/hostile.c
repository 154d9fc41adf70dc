/* hostile: figures of the daemon while a hostile scenario runs: its CPU share and RSS from
 * /proc, and the latency of pings a well-behaved client sends meanwhile. */
#include "hostile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* utime + stime of pid in clock ticks, or -1 */
static long long cpu_ticks(pid_t pid)
{
	char path[64], *text, *p;
	unsigned long long ut, st;
	long long ticks = -1;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((text = slurp(path)) && (p = strrchr(text, ')')) &&
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2)
		ticks = (long long)(ut + st);
	free(text);
	return ticks;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

void hostile_measure(struct lvd *d, int window_ms, struct hostile_figures *f)
{
	size_t cap = 1 << 20;
	long long *lat = malloc(sizeof *lat * cap), start, end, ticks0, ticks1;
	struct lv_client *c = lv_client_connect(d->sock);
	int n = 0;

	ck_assert_ptr_nonnull(lat);
	ck_assert_msg(c != NULL, "hostile: cannot connect to the daemon to measure it");
	/* CPU first, over a window of its own: back-to-back pings would be most of it */
	ticks0 = cpu_ticks(d->pid);
	start = now_us();
	usleep((useconds_t)window_ms * 1000);
	ticks1 = cpu_ticks(d->pid);
	f->cpu_pct = 100.0 * (double)(ticks1 - ticks0) / (double)sysconf(_SC_CLK_TCK) /
	             ((double)(now_us() - start) / 1e6);
	for (end = now_us() + window_ms * 1000LL; now_us() < end && (size_t)n < cap; n++) {
		long long t = now_us();
		json_t *res = NULL, *err = NULL;

		ck_assert_msg(lv_client_call(c, "ping", NULL, 10000, &res, &err) == 0 && res,
		              "hostile: the daemon did not answer a ping within 10 s");
		lat[n] = now_us() - t;
		json_decref(res);
	}
	lv_client_close(c);
	qsort(lat, (size_t)n, sizeof *lat, cmp_ll);
	f->pings = n;
	f->ping_p50_us = n ? lat[n / 2] : 0;
	f->ping_p99_us = n ? lat[n * 99 / 100] : 0;
	f->ping_max_us = n ? lat[n - 1] : 0;
	f->rss_kib = proc_status_value(d->pid, "VmRSS:");
	free(lat);
}

void hostile_report(const char *scenario, const struct hostile_figures *calm,
                    const struct hostile_figures *attacked)
{
	printf("hostile: %s: calm cpu %.1f%% rss %ld KiB ping p50 %lld us p99 %lld us | under "
	       "attack cpu %.1f%% rss %ld KiB ping p50 %lld us p99 %lld us max %lld us (%d pings)\n",
	       scenario, calm->cpu_pct, calm->rss_kib, calm->ping_p50_us, calm->ping_p99_us,
	       attacked->cpu_pct, attacked->rss_kib, attacked->ping_p50_us, attacked->ping_p99_us,
	       attacked->ping_max_us, attacked->pings);
	fflush(stdout);
}
