/* mem_helper: a worker whose memory grows, for test_memory. `mem_helper MIB [STEP_MS]`
 * touches one more MiB every STEP_MS (default 10) until it holds MIB MiB, then sleeps until
 * a signal ends it. SIGTERM ends it at once (its default action): a stop that asked first
 * shows as {"signal": "TERM"}, the kernel's OOM killer as KILL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long mib = argc > 1 ? atol(argv[1]) : 0, step_ms = argc > 2 ? atol(argv[2]) : 10;
	struct timespec step = { step_ms / 1000, step_ms % 1000 * 1000000L };

	if (mib <= 0 || step_ms < 0) {
		fprintf(stderr, "usage: mem_helper MIB [STEP_MS]\n");
		return 2;
	}
	for (long i = 0; i < mib; i++) {
		char *chunk = malloc(1 << 20);

		if (!chunk)
			return 3;
		memset(chunk, (int)i + 1, 1 << 20); /* touched: resident, charged to the cgroup */
		nanosleep(&step, NULL);
	}
	for (;;)
		pause();
}
