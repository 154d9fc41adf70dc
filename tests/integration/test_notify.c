/* test_notify: who can speak on the notify sockets of "ready": "notify" workers. A worker
 * cannot speak for another one from a process it slipped into the victim's process group;
 * a local user who is not the worker's cannot reach its socket at all; a worker flooding
 * its own socket is read no faster than the budget; what a worker says just before it exits
 * counts; the sockets go with the daemon. */
#include <check.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static struct lvd d;
static char victim_file[64];

static void teardown(void)
{
	lvd_stop(&d);
	if (victim_file[0])
		unlink(victim_file);
	victim_file[0] = '\0';
}

static char *worker_env(pid_t pid, const char *name)
{
	char path[64], *env, *out = NULL;
	size_t len;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	ck_assert_ptr_nonnull(env = malloc(65536));
	len = fread(env, 1, 65535, f);
	fclose(f);
	env[len] = '\0';
	for (char *p = env; p < env + len; p += strlen(p) + 1)
		if (!strncmp(p, name, strlen(name)) && p[strlen(name)] == '=')
			out = strdup(p + strlen(name) + 1);
	free(env);
	return out;
}

/* Sends text to a NOTIFY_SOCKET address as user (NULL: as root) from a fresh process: 0 if
 * it went out, else the errno of connect or send. */
static int send_as(const char *user, const char *address, const char *text)
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		struct passwd *pw = user ? getpwnam(user) : NULL;
		socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(address) +
		                            (address[0] != '@'));
		int fd;

		if (user && (!pw || setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 ||
		             setuid(pw->pw_uid) < 0))
			_exit(255);
		memcpy(sun.sun_path, address, strlen(address));
		if (address[0] == '@')
			sun.sun_path[0] = '\0';
		if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
			_exit(254);
		if (connect(fd, (struct sockaddr *)&sun, len) < 0 ||
		    send(fd, text, strlen(text), MSG_DONTWAIT) < 0)
			_exit(errno);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_msg(WEXITSTATUS(status) < 254, "could not become %s", user ? user : "root");
	return WEXITSTATUS(status);
}

/* Every local user can read the names of bound Unix sockets here. */
static bool listed_in_proc_net_unix(const char *address)
{
	char *table = slurp("/proc/net/unix"), *line;
	bool found = false;

	ck_assert_ptr_nonnull(table);
	for (line = strtok(table, "\n"); line && !found; line = strtok(NULL, "\n")) {
		const char *name = strrchr(line, ' ');

		found = name && !strcmp(name + 1, address);
	}
	free(table);
	return found;
}

START_TEST(a_worker_cannot_speak_for_another_from_its_process_group)
{
	json_t *w;
	FILE *f;
	int fd;

	snprintf(victim_file, sizeof victim_file, "/tmp/lvvictim.XXXXXX");
	ck_assert_int_ge(fd = mkstemp(victim_file), 0);
	close(fd);
	lvd_start(&d, "{\"pools\":["
	              "{\"name\":\"victim\",\"exec\":[\"sleep\",\"1000\"],\"ready\":\"notify\","
	              "\"start_timeout_ms\":60000,\"autostart\":false},"
	              "{\"name\":\"forger\",\"exec\":[\"%s\",\"forge\",\"%s\"],\"ready\":\"notify\","
	              "\"autostart\":false}]}",
	              lvd_build_path("tests/notify_helper"), victim_file);
	json_decref(lvd_call(&d, "start", "{\"target\":\"victim\",\"wait\":false}"));
	ck_assert_ptr_nonnull(f = fopen(victim_file, "w"));
	fprintf(f, "%d\n", (int)lvd_worker_pid(&d, "victim:0"));
	fclose(f);
	/* the forger is running once its child has sent READY=1, STATUS= and WATCHDOG=1 from
	 * the victim's group (or tried to): that datagram was read before the forger's own */
	json_decref(lvd_call(&d, "start", "{\"target\":\"forger\"}"));
	w = lvd_worker(&d, "victim:0");
	ck_assert_str_eq(JSTR(w, "state"), "starting");
	ck_assert(json_is_null(json_object_get(json_object_get(w, "notify"), "status")));
	ck_assert(!json_is_integer(json_object_get(json_object_get(w, "loop"), "heartbeat_age_ms")));
	json_decref(w);
	lvd_expect_no_change(&d, "victim", "\"running\"", 300);
	/* each worker leads its own session, which no process of another one can join */
	ck_assert_int_eq(getsid(lvd_worker_pid(&d, "forger:0")), lvd_worker_pid(&d, "forger:0"));
	ck_assert_int_eq(getsid(lvd_worker_pid(&d, "victim:0")), lvd_worker_pid(&d, "victim:0"));
}
END_TEST

/* The socket of a worker user, whose name any user can read in /proc/net/unix, is reachable
 * only by that user and root: a stranger and another pool's user get EACCES; the workers
 * notice nothing. */
START_TEST(only_the_workers_user_reaches_its_notify_socket)
{
	char *mine, *roots, folder[256];
	struct passwd *pw;
	struct stat st;
	json_t *w;

	if (skip_unless_root(__func__))
		return;
	ensure_user("lvt_notify");
	ensure_user("lvt_stranger");
	ck_assert_ptr_nonnull(pw = getpwnam("lvt_notify"));
	lvd_start(&d, "{\"pools\":["
	              "{\"name\":\"mine\",\"exec\":[\"%s\",\"ready\",\"up\"],\"ready\":\"notify\","
	              "\"user\":\"lvt_notify\",\"workers\":2},"
	              "{\"name\":\"roots\",\"exec\":[\"%s\",\"ready\",\"up\"],\"ready\":\"notify\"}]}",
	              lvd_build_path("tests/notify_helper"), lvd_build_path("tests/notify_helper"));
	json_decref(lvd_wait(&d, "mine", "running", 0));
	json_decref(lvd_wait(&d, "roots", "running", 0));
	mine = worker_env(lvd_worker_pid(&d, "mine:0"), "NOTIFY_SOCKET");
	roots = worker_env(lvd_worker_pid(&d, "roots:0"), "NOTIFY_SOCKET");
	ck_assert_ptr_nonnull(mine);
	ck_assert_ptr_nonnull(roots);
	ck_assert_msg(listed_in_proc_net_unix(mine), "%s is not in /proc/net/unix", mine);
	for (int i = 0; i < 200; i++) { /* a flood that never gets in */
		ck_assert_int_eq(send_as("lvt_stranger", mine, "READY=1\nSTATUS=stranger"), EACCES);
		if (i % 50 == 0)
			ck_assert_int_eq(send_as("lvt_notify", roots, "STATUS=from another user"), EACCES);
	}

	/* a path whose permission bits decide: the user's own, 0600, in root's 0711 folder */
	ck_assert_int_eq(mine[0], '/');
	ck_assert_int_eq(lstat(mine, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(st.st_uid, pw->pw_uid);
	snprintf(folder, sizeof folder, "%.*s", (int)(strrchr(mine, '/') - mine), mine);
	ck_assert_str_ne(mine, roots);
	ck_assert_int_eq(strncmp(roots, folder, strlen(folder)), 0); /* one folder */
	ck_assert_int_eq(lstat(folder, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, 0711);
	ck_assert_int_eq(st.st_uid, 0);

	/* the worker's own user (who could ptrace it anyway) and root do get in, but speak for
	 * no worker: they are in none's session */
	ck_assert_int_eq(send_as("lvt_notify", mine, "STATUS=not from a worker"), 0);
	ck_assert_int_eq(send_as(NULL, mine, "STATUS=root, not a worker"), 0);

	/* the restarted worker's READY=1 comes after those on the same socket */
	json_decref(lvd_call(&d, "restart", "{\"target\":\"mine:1\"}"));
	w = lvd_worker(&d, "mine:1");
	ck_assert_str_eq(JSTR(w, "state"), "running");
	ck_assert_str_eq(JSTR(json_object_get(w, "notify"), "status"), "up");
	json_decref(w);
	w = lvd_worker(&d, "mine:0");
	ck_assert_str_eq(JSTR(json_object_get(w, "notify"), "status"), "up");
	json_decref(w);
	w = lvd_worker(&d, "roots:0");
	ck_assert_str_eq(JSTR(json_object_get(w, "notify"), "status"), "up");
	json_decref(w);
	free(mine);
	free(roots);
}
END_TEST

/* A worker flooding its own socket: the daemon reads what the budget allows, then not until
 * the next second; a worker of the same user started meanwhile still gets through. */
START_TEST(a_flooding_worker_is_read_within_the_budget)
{
	json_t *w;
	char *log;

	lvd_start(&d, "{\"pools\":["
	              "{\"name\":\"flood\",\"exec\":[\"%s\",\"flood\",\"3000\"],\"ready\":\"notify\","
	              "\"restart\":\"never\"},"
	              "{\"name\":\"calm\",\"exec\":[\"sh\",\"-c\",\"systemd-notify --ready; exec sleep "
	              "1000\"],\"ready\":\"notify\",\"autostart\":false}]}",
	              lvd_build_path("tests/notify_helper"));
	json_decref(lvd_wait(&d, "flood", "running", 0));
	/* its READY=1 waits behind the flood, at most until the socket is read again */
	json_decref(lvd_call(&d, "start", "{\"target\":\"calm\"}"));
	w = lvd_worker(&d, "calm:0");
	ck_assert_str_eq(JSTR(w, "state"), "running");
	json_decref(w);
	w = lvd_worker(&d, "flood:0");
	ck_assert_str_eq(JSTR(w, "state"), "running"); /* still flooding */
	json_decref(w);
	json_decref(lvd_wait(&d, "flood", "stopped", 0));
	if (!lvd_under_valgrind()) { /* memcheck reads slower than the budget */
		log = slurp(d.log);
		ck_assert_ptr_nonnull(log);
		ck_assert_msg(strstr(log, "budget for this second is spent: not read for") &&
		              strstr(log, "flood:0: over 1000 notify datagrams/s"),
		              "no budget was reached: see %s", d.log);
		free(log);
	}
}
END_TEST

/* Waits until pid is reaped by its parent (a zombie still answers kill 0). */
static bool reaped_within(pid_t pid, int timeout_ms)
{
	struct timespec pause = { 0, 1000000 };

	for (int ms = 0; ms < timeout_ms; ms++) {
		if (kill(pid, 0) < 0 && errno == ESRCH)
			return true;
		nanosleep(&pause, NULL);
	}
	return false;
}

/* A worker says STATUS=bye and STOPPING=1 and exits while the daemon is stopped: when it
 * goes on, the datagram and the exit are both waiting (a zygote's worker is reaped, so its
 * EXITED report is queued; a worker of the daemon is its zombie, and SIGCHLD is pending).
 * What the worker said before it exited must count before its exit does, whichever the
 * daemon reads first: the exit used to win for a zygote's worker, and the datagram found no
 * worker. (The daemon's own worker is there for the reaper's path: its SIGCHLD comes in only
 * after SIGCONT, so the datagram is read first even without notify_flush.) */
static void last_words_count(bool zygote)
{
	pid_t pid;
	json_t *w;

	lvd_start(&d, "{\"pools\":[{\"name\":\"last\",\"exec\":[\"%s\",\"last\",\"bye\"],"
	              "\"ready\":\"notify\",\"restart\":\"never\"}]}",
	              lvd_build_path("tests/notify_helper"));
	json_decref(lvd_wait(&d, "last", "running", 0));
	pid = lvd_worker_pid(&d, "last:0");
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(kill(d.pid, SIGSTOP), 0);
	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	ck_assert_msg(pid_gone_within(pid, 20000), "the worker did not exit");
	ck_assert_msg(!zygote || reaped_within(pid, 20000), "its zygote did not reap it");
	ck_assert_int_eq(kill(d.pid, SIGCONT), 0);
	json_decref(lvd_wait(&d, "last", "stopped", 0));
	w = lvd_worker(&d, "last:0");
	ck_assert_str_eq(JSTR(json_object_get(w, "notify"), "status"), "bye");
	ck_assert(json_is_true(json_object_get(json_object_get(w, "notify"), "stopping")));
	json_decref(w);
}

START_TEST(the_last_words_of_a_zygote_worker_count)
{
	last_words_count(true);
}
END_TEST

/* The same for a worker the daemon forks and reaps itself. */
START_TEST(the_last_words_of_a_daemon_worker_count)
{
	lvd_setenv("LOOPVISOR_NO_ZYGOTE=1");
	last_words_count(false);
}
END_TEST

/* docs/security.md: descriptors passed in notify datagrams are closed. 100 datagrams of 8
 * each, read before the READY=1 that follows them: the daemon holds none of them. */
START_TEST(descriptors_passed_in_datagrams_are_closed)
{
	int before, after;

	lvd_start(&d, "{\"pools\":[{\"name\":\"n\",\"exec\":[\"%s\",\"ready\",\"up\"],"
	              "\"ready\":\"notify\"},{\"name\":\"p\",\"exec\":[\"%s\",\"fds\",\"100\"],"
	              "\"ready\":\"notify\",\"autostart\":false}]}",
	              lvd_build_path("tests/notify_helper"), lvd_build_path("tests/notify_helper"));
	json_decref(lvd_wait(&d, "n", "running", 0)); /* root's notify socket exists */
	before = count_fds(d.pid);
	json_decref(lvd_call(&d, "start", "{\"target\":\"p\"}"));
	after = count_fds(d.pid);
	printf("descriptors of the daemon: %d before, %d after 800 were passed to it\n", before,
	       after);
	ck_assert_int_ge(before, 0);
	ck_assert_int_le(after, before + 4); /* the new worker's pipes */
}
END_TEST

/* The daemon removes its sockets and their folder when it exits. */
START_TEST(the_notify_sockets_go_with_the_daemon)
{
	char *address;
	struct stat st;

	lvd_start(&d, "{\"pools\":[{\"name\":\"n\",\"exec\":[\"%s\",\"ready\",\"up\"],"
	              "\"ready\":\"notify\"}]}", lvd_build_path("tests/notify_helper"));
	json_decref(lvd_wait(&d, "n", "running", 0));
	address = worker_env(lvd_worker_pid(&d, "n:0"), "NOTIFY_SOCKET");
	ck_assert_ptr_nonnull(address);
	ck_assert_int_eq(lstat(address, &st), 0);
	lvd_stop(&d);
	ck_assert_int_eq(lstat(address, &st), -1);
	*strrchr(address, '/') = '\0';
	ck_assert_int_eq(lstat(address, &st), -1);
	ck_assert_int_eq(errno, ENOENT);
	free(address);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("notify");
	TCase *tc = tcase_create("notify");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, a_worker_cannot_speak_for_another_from_its_process_group);
	tcase_add_test(tc, only_the_workers_user_reaches_its_notify_socket);
	tcase_add_test(tc, a_flooding_worker_is_read_within_the_budget);
	tcase_add_test(tc, the_last_words_of_a_zygote_worker_count);
	tcase_add_test(tc, the_last_words_of_a_daemon_worker_count);
	tcase_add_test(tc, the_notify_sockets_go_with_the_daemon);
	tcase_add_test(tc, descriptors_passed_in_datagrams_are_closed);
	suite_add_tcase(su, tc);
	return lvd_run_suite(su);
}
