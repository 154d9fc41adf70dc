/* test_hostile: hostile peers and workers against a running daemon: a racing symlink
 * attacker, a FIFO planter, a connection hoarder, a slow follower, a forging worker and a
 * notify flooder. Each scenario asserts its defence and prints the daemon's CPU, RSS and
 * ping latency calm and under attack (hostile.h). */
#include <stdio.h>

#include "hostile.h"

/* A scenario file that is not linked in yet leaves its case out. */
#pragma weak hostile_paths_tcase
#pragma weak hostile_control_tcase
#pragma weak hostile_worker_tcase
#pragma weak hostile_backpressure_tcase

int main(void)
{
	TCase *(*const cases[])(void) = { hostile_paths_tcase, hostile_control_tcase,
	                                  hostile_worker_tcase, hostile_backpressure_tcase };
	Suite *s = suite_create("hostile");

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (cases[i])
			suite_add_tcase(s, cases[i]());
	return lvd_run_suite(s);
}
