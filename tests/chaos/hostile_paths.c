/* hostile_paths: the chaos scenarios of file-system attacks on the root daemon: a pool user
 * racing symlinks into its socket folder while the daemon rebinds on reload after reload,
 * and a FIFO where a log file should be while the daemon is told to reopen and reload. */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hostile.h"
#include "hostile_paths_attack.h"

static struct lvd d;
static struct symlink_race race;
static pid_t planter;

static void teardown(void)
{
	race_teardown(&race);
	if (planter > 0) {
		kill(planter, SIGKILL);
		waitpid(planter, NULL, 0);
		planter = 0;
	}
	lvd_stop(&d);
}

START_TEST(racing_symlink_attacker_during_reloads)
{
	struct hostile_figures calm, attacked;
	char *config;
	int reloads;

	if (geteuid() != 0) {
		printf("hostile: racing symlink attacker skipped: needs root (useradd, setuid)\n");
		return;
	}
	race_setup(&race);
	config = race_config(&race, 0);
	lvd_start(&d, "%s", config);
	free(config);
	hostile_measure(&d, 1000, &calm);
	race_start_attacker(&race, 60);
	race_reloader_start(&d, &race, 100000, 4000);
	hostile_measure(&d, 3000, &attacked);
	reloads = race_reloader_wait(&race);
	hostile_report("racing symlink attacker, reload after reload", &calm, &attacked);
	printf("hostile: racing symlink attacker: %d reloads, victim mode %04o\n", reloads,
	       (unsigned)race_victim_mode(&race));
	fflush(stdout);
	ck_assert_msg(race_victim_mode(&race) == 0600, "root chmod'ed the victim through a link");
	ck_assert_int_gt(reloads, 0);
	ck_assert_msg(attacked.ping_p99_us < 50000, "ping p99 %lld us", attacked.ping_p99_us);
}
END_TEST

/* As root, in the daemon's own logs folder: a FIFO in place of a.log, SIGUSR1 and a reload
 * in a loop for max_ms. */
static pid_t start_planter(const char *logs, int max_ms)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct lv_client *c = lv_client_connect(d.sock);
		char fifo[420], old[440];
		struct timespec t0, t;
		int n = 0;

		snprintf(fifo, sizeof fifo, "%s/a.log", logs);
		snprintf(old, sizeof old, "%s.old", fifo);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		do {
			struct stat st;
			struct timespec pace = { 0, 20 * 1000 * 1000 };

			if (lstat(fifo, &st) < 0 || !S_ISFIFO(st.st_mode)) {
				rename(fifo, old);
				mkfifo(fifo, 0600);
			}
			kill(d.pid, SIGUSR1);
			if (c && ++n % 10 == 0) {
				json_t *res = NULL, *err = NULL;
				lv_client_call(c, "reload", NULL, 10000, &res, &err);
				json_decref(res);
				json_decref(err);
			}
			nanosleep(&pace, NULL);
			clock_gettime(CLOCK_MONOTONIC, &t);
		} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < max_ms);
		_exit(0);
	}
	return pid;
}

START_TEST(fifo_planted_for_a_log_file)
{
	struct hostile_figures calm, attacked;
	char logs[400], fifo[420];
	struct stat st;

	lvd_start(&d, "{\"logs\":{\"dir\":\"logs\"},\"pools\":[{\"name\":\"a\",\"exec\":[\"sh\","
	              "\"-c\",\"while :; do echo line; sleep 0.01; done\"]}]}");
	json_decref(lvd_wait(&d, "a", "running", 0));
	snprintf(logs, sizeof logs, "%s/logs", d.dir);
	snprintf(fifo, sizeof fifo, "%s/a.log", logs);
	hostile_measure(&d, 1000, &calm);
	planter = start_planter(logs, 3500);
	hostile_measure(&d, 3000, &attacked);
	waitpid(planter, NULL, 0);
	planter = 0;
	hostile_report("FIFO planted for a log file, SIGUSR1 and reload", &calm, &attacked);
	ck_assert(daemon_logged_within(&d, "not a regular file", 5000));
	ck_assert_msg(attacked.ping_p99_us < 50000, "ping p99 %lld us", attacked.ping_p99_us);
	/* back-to-back pings alone keep the daemon at ~40 %: a daemon that spins on the FIFO or
	 * on its own error lines would be near 100 % */
	ck_assert_msg(attacked.cpu_pct < calm.cpu_pct + 30.0, "cpu %.1f%% under attack, %.1f%% calm",
	              attacked.cpu_pct, calm.cpu_pct);
	/* the FIFO gone, a reopen makes the file again */
	ck_assert_int_eq(unlink(fifo), 0);
	kill(d.pid, SIGUSR1);
	ck_assert(daemon_logged_within(&d, "reopened the log files", 5000));
	json_decref(lvd_call(&d, "ping", NULL));
	ck_assert_int_eq(lstat(fifo, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
}
END_TEST

TCase *hostile_paths_tcase(void)
{
	TCase *tc = tcase_create("paths");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, racing_symlink_attacker_during_reloads);
	tcase_add_test(tc, fifo_planted_for_a_log_file);
	return tc;
}
