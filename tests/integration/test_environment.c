/* test_environment: what a worker is started with: its env and cwd, user and group, rlimits,
 * umask and no_new_privs, and the daemon's raised open-files limit that workers do not get. */
#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
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
	              "${{NOTIFY_SOCKET:-unset}|$(pwd)\\\" > %s; exec sleep 1000\"],"
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

/* Writes text into the file rel of the daemon's folder (the config's folder). */
static void put_file(const char *rel, const char *text, mode_t mode)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", d.dir, rel);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
}

/* A FIFO the test holds open for writing too, so that one worker closing it is no EOF:
 * several workers write a line each, the test reads them as they come. */
static FILE *open_shared_fifo(char *dir, char *fifo, size_t len)
{
	FILE *f;

	make_fifo(dir, fifo, len);
	ck_assert_ptr_nonnull(f = fdopen(open(fifo, O_RDWR | O_CLOEXEC), "r"));
	setvbuf(f, NULL, _IONBF, 0); /* nothing read ahead: poll() on its fd tells the truth */
	return f;
}

/* {index}, {index+N}, {pool}, {name} in argv, env and a relative cwd, per worker; a
 * program path with a '/' and the cwd both resolve against the config's folder. */
START_TEST(templates_expand_per_worker)
{
	char dir[] = "/tmp/lvtpl.XXXXXX", fifo[64], line[512], want[3][PATH_MAX + 64], real[PATH_MAX];
	char script[256];
	int seen = 0;
	FILE *in = open_shared_fifo(dir, fifo, sizeof fifo);

	lvd_start(&d, "{\"pools\":[{\"name\":\"t\",\"workers\":3,\"autostart\":false,"
	              "\"exec\":[\"./report.sh\",\"{index}\",\"--port={index+8000}\",\"{{lit}\"],"
	              "\"env\":{\"W\":\"{name}\",\"P\":\"{pool}-{index+1}\"},"
	              "\"cwd\":\"w{index}\"}]}");
	/* made after the daemon started: nothing is looked at before a worker starts */
	snprintf(script, sizeof script, "#!/bin/sh\necho \"$1 $2 $3 $W $P $(pwd)\" > %s\n"
	         "exec sleep 1000\n", fifo);
	put_file("report.sh", script, 0755);
	ck_assert_ptr_nonnull(realpath(d.dir, real));
	for (int i = 0; i < 3; i++) {
		char w[600];

		snprintf(w, sizeof w, "%s/w%d", d.dir, i);
		ck_assert_int_eq(mkdir(w, 0755), 0);
		snprintf(want[i], sizeof want[i], "%d --port=%d {lit} t:%d t-%d %s/w%d", i, 8000 + i,
		         i, i + 1, real, i);
	}
	json_decref(lvd_call(&d, "start", "{\"target\":\"t\"}"));
	for (int n = 0; n < 3; n++) {
		int i;

		struct pollfd pfd = { .fd = fileno(in), .events = POLLIN };

		/* a worker that cannot start writes nothing: fail in 10 s, not at the timeout */
		ck_assert_msg(poll(&pfd, 1, test_ms(10000)) == 1, "%d of 3 workers wrote", n);
		ck_assert_ptr_nonnull(fgets(line, sizeof line, in));
		line[strcspn(line, "\n")] = '\0';
		i = line[0] - '0';
		ck_assert_msg(i >= 0 && i < 3 && !(seen & (1 << i)), "%s", line);
		seen |= 1 << i;
		ck_assert_str_eq(line, want[i]);
	}
	fclose(in);
	unlink(fifo);
	rmdir(dir);
}
END_TEST

/* env_file: files in order, then env; read again at each start (no reload); a missing
 * file is a start error that names it, an optional one is skipped. */
START_TEST(env_file_is_read_at_each_start)
{
	char dir[] = "/tmp/lvenvf.XXXXXX", fifo[64], *line, path[600], want[700], *log;
	json_t *w;

	make_fifo(dir, fifo, sizeof fifo);
	lvd_start(&d, "{\"pools\":[{\"name\":\"e\",\"autostart\":false,\"restart\":\"never\","
	              "\"exec\":[\"sh\",\"-c\",\"echo \\\"$A|$B|$C\\\" > %s; exec sleep 1000\"],"
	              "\"env_file\":[\"e1.env\",\"-missing.env\",\"e2.env\"],"
	              "\"env\":{\"C\":\"from env\"}}]}", fifo);
	put_file("e1.env", "# first\nA=1\nB=one\nC=file\n", 0600);
	put_file("e2.env", "B='two words'\n", 0600);
	json_decref(lvd_call(&d, "start", "{\"target\":\"e\"}"));
	line = read_fifo_line(fifo);
	ck_assert_str_eq(line, "1|two words|from env");
	free(line);
	put_file("e1.env", "A=9\n", 0600);
	json_decref(lvd_call(&d, "restart", "{\"target\":\"e\"}"));
	line = read_fifo_line(fifo);
	ck_assert_str_eq(line, "9|two words|from env");
	free(line);
	json_decref(lvd_wait(&d, "e", "running", 1));
	snprintf(path, sizeof path, "%s/e1.env", d.dir);
	ck_assert_int_eq(unlink(path), 0);
	json_decref(lvd_call(&d, "stop", "{\"target\":\"e\"}"));
	json_decref(lvd_wait(&d, "e", "stopped", 1));
	json_decref(lvd_call_error(&d, "start", "{\"target\":\"e\"}"));
	w = lvd_wait(&d, "e", "failed", 1);
	ck_assert_ptr_nonnull(realpath(d.dir, path));
	snprintf(want, sizeof want, "env_file %s/e1.env: No such file or directory", path);
	ck_assert_str_eq(JSTR(first_worker(w), "last_error"), want);
	json_decref(w);
	log = slurp(d.log);
	ck_assert_ptr_nonnull(log);
	ck_assert_msg(strstr(log, "e:0: cannot start: env_file ") != NULL, "%s", log);
	free(log);
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
	tcase_add_test(tc, templates_expand_per_worker);
	tcase_add_test(tc, env_file_is_read_at_each_start);
	tcase_add_test(tc, the_daemon_raises_its_open_files_limit_but_not_its_workers);
	suite_add_tcase(su, tc);
	return lvd_run_suite(su);
}
