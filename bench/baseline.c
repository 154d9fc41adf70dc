/* baseline: the physical limit of spawning and restarting on this machine, for the
 * benchmarks to be compared with. A bare parent forks workers; each builds its own
 * event_base after fork and writes one byte to a shared pipe when it is ready, then runs
 * its loop. No supervisor bookkeeping, no channel, no config: fork, base, byte.
 *
 *   lvbench_baseline spawn N          fork N workers, time until all N bytes arrived
 *   lvbench_baseline restart N K      with N workers up, K times: kill -9 one, reap it,
 *                                     fork its replacement, time until its byte arrived
 *
 * Prints one JSON object: {"n":N, "spawn_s":...} or {"n":N, "restart_us":[...]}. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

static int ready_pipe[2];

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_idle(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static void worker(void)
{
	struct timeval hour = { 3600, 0 };
	struct event_base *base;
	struct event *idle;
	char byte = 'r';

	close(ready_pipe[0]);
	if (!(base = event_base_new()) ||
	    !(idle = event_new(base, -1, EV_PERSIST, on_idle, NULL)) || event_add(idle, &hour) < 0 ||
	    write(ready_pipe[1], &byte, 1) != 1)
		_exit(1);
	event_base_dispatch(base);
	_exit(0);
}

static pid_t spawn(void)
{
	pid_t pid = fork();

	if (pid == 0)
		worker();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	return pid;
}

static void await_bytes(int n)
{
	char buf[4096];

	while (n > 0) {
		ssize_t got = read(ready_pipe[0], buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			fprintf(stderr, "baseline: a worker died before it was ready\n");
			exit(1);
		}
		n -= (int)got;
	}
}

static void kill_all(pid_t *pids, int n)
{
	for (int i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
	for (int i = 0; i < n; i++)
		while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
			;
}

int main(int argc, char **argv)
{
	int n = argc > 2 ? atoi(argv[2]) : 0, k = argc > 3 ? atoi(argv[3]) : 0;
	pid_t *pids;
	double t0;

	if (argc < 3 || n <= 0 || (argv[1][0] == 'r' && k <= 0)) {
		fprintf(stderr, "usage: %s spawn N | restart N K\n", argv[0]);
		return 2;
	}
	if (pipe(ready_pipe) < 0 || !(pids = calloc((size_t)n, sizeof *pids))) {
		perror("baseline");
		return 1;
	}
	t0 = now_s();
	for (int i = 0; i < n; i++)
		pids[i] = spawn();
	await_bytes(n);
	if (argv[1][0] == 's') {
		printf("{\"n\":%d,\"spawn_s\":%.6f}\n", n, now_s() - t0);
	} else {
		printf("{\"n\":%d,\"restart_us\":[", n);
		for (int j = 0; j < k; j++) {
			int i = j * 7919 % n; /* spread over the workers */

			t0 = now_s();
			kill(pids[i], SIGKILL);
			while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
				;
			pids[i] = spawn();
			await_bytes(1);
			printf("%s%.1f", j ? "," : "", (now_s() - t0) * 1e6);
		}
		printf("]}\n");
	}
	kill_all(pids, n);
	free(pids);
	return 0;
}
