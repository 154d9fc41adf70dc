/* hostile_backpressure: readers that stop reading (tail -f followers of a flooding worker,
 * a stalled reader of the daemon's stderr): the worker goes on, the daemon answers. */
#include "hostile.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define FOLLOWERS 8
#define ATTACK_MS 3000

/* ~40000 lines a second, for as long as it runs */
#define FLOODER "{\"name\":\"flood\",\"exec\":[\"sh\",\"-c\",\"while :; do seq 1 2000; " \
	"sleep 0.05; done\"]}"

static struct lvd d;

static void teardown(void)
{
	lvd_stop(&d);
}

/* What an attack may add to the daemon's RSS. Under AddressSanitizer (freed memory waits
 * in a quarantine) or valgrind RSS says nothing: the bound is skipped, with a word. */
static void assert_rss_bounded(const struct hostile_figures *calm,
                               const struct hostile_figures *attacked)
{
#if defined(__SANITIZE_ADDRESS__)
	printf("hostile: RSS bound skipped: AddressSanitizer keeps freed memory in quarantine\n");
	(void)calm, (void)attacked;
#else
	if (lvd_under_valgrind())
		printf("hostile: RSS bound skipped: the daemon runs under valgrind\n");
	else
		ck_assert_int_lt(attacked->rss_kib - calm->rss_kib, 16 * 1024);
#endif
}

static long long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* The attacker: FOLLOWERS connections that ask for tail -f of the flood, with receive
 * buffers as small as the kernel allows, and never read a byte. */
static pid_t start_stuck_followers(void)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		static const char req[] = "{\"jsonrpc\":\"2.0\",\"method\":\"tail\",\"params\":"
		                          "{\"target\":\"flood\",\"lines\":0,\"follow\":true},\"id\":1}";
		struct lv_client *c[FOLLOWERS];
		int small = 1;

		for (int i = 0; i < FOLLOWERS; i++) {
			if (!(c[i] = lv_client_connect(d.sock)))
				_exit(1);
			setsockopt(lv_client_fd(c[i]), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
			if (lv_client_send_line(c[i], req, sizeof req - 1) < 0)
				_exit(1);
		}
		for (;;)
			pause(); /* killed by the test */
	}
	return pid;
}

START_TEST(stuck_followers_slow_nobody)
{
	struct hostile_figures calm, attacked;
	char log[512];
	long long before, after;
	pid_t attacker;
	int status;

	lvd_start(&d, "{\"logs\":{\"dir\":\"logs\",\"max_bytes\":0},\"pools\":[" FLOODER "]}");
	json_decref(lvd_wait(&d, "flood", "running", 0));
	snprintf(log, sizeof log, "%s/logs/flood.log", d.dir);
	hostile_measure(&d, 1000, &calm);
	attacker = start_stuck_followers();
	before = file_size(log);
	hostile_measure(&d, ATTACK_MS, &attacked);
	after = file_size(log);
	kill(attacker, SIGKILL);
	waitpid(attacker, &status, 0);
	hostile_report("stuck log followers (8 tail -f that never read, a 40000 lines/s worker)",
	               &calm, &attacked);
	printf("hostile: stuck log followers: the worker wrote %lld KiB meanwhile\n",
	       (after - before) / 1024);
	ck_assert_msg(WIFSIGNALED(status), "the attacker failed on its own (status %d)", status);
	/* the worker went on: far more than its pipe (64 KiB) and the followers' queues */
	ck_assert_int_gt(after - before, 2 * 1024 * 1024);
	ck_assert_int_lt(attacked.ping_p99_us, 50000);
	/* back-to-back pings and the flood cost what they cost calm; the attack adds little */
	ck_assert_double_lt(attacked.cpu_pct, calm.cpu_pct + 20.0);
	assert_rss_bounded(&calm, &attacked);
}
END_TEST

/* The reader of the daemon's stderr: a process that reads the pipe until it is stopped. */
static pid_t start_reader(int fd)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char buf[65536];

		while (read(fd, buf, sizeof buf) > 0)
			;
		_exit(0);
	}
	return pid;
}

START_TEST(a_stalled_stderr_reader_stalls_nothing)
{
	static const char *const to_pipe[] = { "sh", "-c", "exec \"$@\" 2>&9 9>&-", "sh", NULL };
	struct hostile_figures calm, attacked;
	int p[2], status;
	pid_t reader;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(dup2(p[1], 9), 9); /* not close-on-exec: the daemon's stderr */
	close(p[1]);
	reader = start_reader(p[0]);
	close(p[0]);
	lvd_set_wrapper(to_pipe);
	/* without logs.dir the worker's lines go to the daemon's stderr */
	lvd_start(&d, "{\"pools\":[" FLOODER "]}");
	lvd_set_wrapper(NULL);
	close(9);
	json_decref(lvd_wait(&d, "flood", "running", 0));
	hostile_measure(&d, 1000, &calm);
	kill(reader, SIGSTOP); /* the attack: stderr's reader stops reading */
	hostile_measure(&d, ATTACK_MS, &attacked);
	kill(reader, SIGCONT);
	hostile_report("stalled stderr reader (a 40000 lines/s worker logging to stderr)", &calm,
	               &attacked);
	kill(reader, SIGKILL); /* stderr without a reader: the daemon's lines go nowhere */
	waitpid(reader, &status, 0);
	ck_assert_int_lt(attacked.ping_p99_us, 50000);
	ck_assert_double_lt(attacked.cpu_pct, calm.cpu_pct + 20.0);
	assert_rss_bounded(&calm, &attacked);
}
END_TEST

TCase *hostile_backpressure_tcase(void)
{
	TCase *tc = tcase_create("backpressure");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, stuck_followers_slow_nobody);
	tcase_add_test(tc, a_stalled_stderr_reader_stalls_nothing);
	return tc;
}
