/* test_environment: what a worker is started with: its env and cwd, user and group, rlimits,
 * umask and no_new_privs, and the daemon's raised open-files limit that workers do not get. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

static struct lvd d;

static void teardown(void)
{
	lvd_stop(&d);
}

/* Reads one line a worker writes into a FIFO: an event to wait on, not a sleep. */
static char *read_fifo_line(const char *fifo)
{
	char line[1024] = "";
	FILE *f = fopen(fifo, "r");

	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
	return strdup(line);
}

static void make_fifo(char *dir, char *fifo, size_t len)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(fifo, len, "%s/fifo", dir);
	ck_assert_int_eq(mkfifo(fifo, 0666), 0);
	/* writable by the unprivileged user a worker may run as */
	chmod(fifo, 0666);
	chmod(dir, 0755);
}

START_TEST(env_and_cwd_reach_the_worker)
{
	char dir[] = "/tmp/lvenv.XXXXXX", fifo[64], *line;

	make_fifo(dir, fifo, sizeof fifo);
	lvd_start(&d, "{\"pools\":[{\"name\":\"e\",\"exec\":[\"sh\",\"-c\","
	              "\"echo \\\"$GREETING|$LOOPVISOR_POOL|$LOOPVISOR_WORKER|$LOOPVISOR_INDEX|"
	              "${NOTIFY_SOCKET:-unset}|$(pwd)\\\" > %s; exec sleep 1000\"],"
	              "\"env\":{\"GREETING\":\"hello world\"},\"cwd\":\"/usr\"}]}", fifo);
	line = read_fifo_line(fifo);
	ck_assert_str_eq(line, "hello world|e|e:0|0|unset|/usr");
	free(line);
	unlink(fifo);
	rmdir(dir);
}
END_TEST

START_TEST(user_and_group_are_switched)
{
	char dir[] = "/tmp/lvuser.XXXXXX", fifo[64], *line;

	if (skip_unless_root(__func__)) /* only root may switch users; the config refuses it otherwise */
		return;
	make_fifo(dir, fifo, sizeof fifo);
	lvd_start(&d, "{\"pools\":[{\"name\":\"u\",\"exec\":[\"sh\",\"-c\","
	              "\"echo $(id -u):$(id -g):$(id -G) > %s; exec sleep 1000\"],"
	              "\"user\":\"nobody\",\"group\":\"nogroup\"}]}", fifo);
	line = read_fifo_line(fifo);
	ck_assert_str_eq(line, "65534:65534:65534");
	free(line);
	unlink(fifo);
	rmdir(dir);
}
END_TEST

/* Under a low open-files limit (well under 128) workers still start: the worker parks
 * the descriptors it moves just past their places, not at a fixed number. */
START_TEST(workers_start_under_a_low_open_files_limit)
{
	char *cfg;

	ck_assert_int_ge(asprintf(&cfg, "{\"pools\":[{\"name\":\"e\",\"exec\":[\"sleep\",\"1000\"],"
	                          "\"listen\":[\"tcp:127.0.0.1:%d\"]},{\"name\":\"m\","
	                          "\"module\":\"ticker\",\"loops\":2}]}", free_port()), 0);
	lvd_start_limited(&d, 64, cfg);
	free(cfg);
	json_decref(lvd_wait(&d, "e", "running", 0));
	json_decref(lvd_wait(&d, "m", "running", 0));
}
END_TEST

START_TEST(limits_umask_and_no_new_privs)
{
	char dir[] = "/tmp/lvlim.XXXXXX", fifo[64], *line;

	make_fifo(dir, fifo, sizeof fifo);
	lvd_start(&d, "{\"pools\":[{\"name\":\"l\",\"exec\":[\"sh\",\"-c\","
	              "\"echo $(ulimit -n) $(ulimit -c) $(umask) $(grep NoNewPrivs /proc/self/status "
	              "| cut -f2) > %s; exec sleep 1000\"],\"rlimits\":{\"nofile\":123,\"core\":0},"
	              "\"umask\":\"0027\",\"no_new_privs\":true}]}", fifo);
	line = read_fifo_line(fifo);
	ck_assert_str_eq(line, "123 0 0027 1");
	free(line);
	unlink(fifo);
	rmdir(dir);
}
END_TEST

/* The daemon takes the hard open-files limit for itself (10000 workers need ~40000
 * descriptors); its workers keep the soft limit it was started with. */
START_TEST(the_daemon_raises_its_open_files_limit_but_not_its_workers)
{
	const char *limited[] = { "prlimit", "--nofile=256:8192", NULL };
	char dir[] = "/tmp/lvlim.XXXXXX", fifo[64], path[64], *line, *limits;

	make_fifo(dir, fifo, sizeof fifo);
	lvd_set_wrapper(limited);
	lvd_start(&d, "{\"pools\":[{\"name\":\"l\",\"exec\":[\"sh\",\"-c\","
	              "\"echo $(ulimit -Sn) $(ulimit -Hn) > %s; exec sleep 1000\"]}]}", fifo);
	line = read_fifo_line(fifo);
	ck_assert_str_eq(line, "256 8192");
	free(line);
	snprintf(path, sizeof path, "/proc/%d/limits", (int)d.pid);
	limits = slurp(path);
	ck_assert_ptr_nonnull(limits);
	ck_assert_msg(strstr(limits, "Max open files            8192                 8192") != NULL,
	              "%s", limits);
	free(limits);
	unlink(fifo);
	rmdir(dir);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("environment");
	TCase *tc = tcase_create("start");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, env_and_cwd_reach_the_worker);
	tcase_add_test(tc, user_and_group_are_switched);
	tcase_add_test(tc, limits_umask_and_no_new_privs);
	tcase_add_test(tc, workers_start_under_a_low_open_files_limit);
	tcase_add_test(tc, the_daemon_raises_its_open_files_limit_but_not_its_workers);
	suite_add_tcase(su, tc);
	return lvd_run_suite(su);
}
