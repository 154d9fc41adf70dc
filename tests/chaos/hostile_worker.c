/* hostile_worker: hostile workers and local users against the notify sockets: workers that
 * forge readiness for another worker from its process group, a local user who is no worker
 * flooding every notify socket it finds in /proc/net/unix, and a worker flooding its own. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hostile.h"

#define ATTACK_MS 3000
#define MAX_PING_P99_US 50000
#define MAX_ATTACK_CPU_PCT 25.0

static struct lvd d;
static char victim_file[64];

static void teardown(void)
{
	lvd_stop(&d);
	if (victim_file[0])
		unlink(victim_file);
	victim_file[0] = '\0';
}

/* Prints the figures; the defence held if pings stayed fast and the attack alone cost the
 * daemon little (quiet: its CPU share with no pings under attack, or -1 if not measured). */
static void assert_defence_held(const char *scenario, const struct hostile_figures *calm,
                                const struct hostile_figures *attacked, double quiet)
{
	hostile_report(scenario, calm, attacked);
	if (quiet >= 0) {
		printf("hostile: %s: cpu without pings under attack %.1f%%\n", scenario, quiet);
		fflush(stdout);
	}
	ck_assert_msg(attacked->ping_p99_us < MAX_PING_P99_US, "%s: ping p99 %lld us", scenario,
	              attacked->ping_p99_us);
	if (quiet >= 0 && !lvd_under_valgrind())
		ck_assert_msg(quiet < MAX_ATTACK_CPU_PCT, "%s: the attack cost the daemon %.1f%% of a "
		              "core", scenario, quiet);
}

/* The victim was told nothing: still starting, no STATUS=, no heartbeat. */
static void assert_victim_untouched(void)
{
	json_t *w = lvd_worker(&d, "victim:0");

	ck_assert_str_eq(JSTR(w, "state"), "starting");
	ck_assert(json_is_null(json_object_get(json_object_get(w, "notify"), "status")));
	ck_assert(!json_is_integer(json_object_get(json_object_get(w, "loop"), "heartbeat_age_ms")));
	json_decref(w);
}

/* 20 workers each fork a child into the victim's process group and send READY=1, STATUS=
 * and WATCHDOG=1 from there. */
START_TEST(forging_workers)
{
	struct hostile_figures calm, attacked;
	FILE *f;
	int fd;

	if (skip_unless_root(__func__))
		return;
	ensure_user("lvt_forger");
	snprintf(victim_file, sizeof victim_file, "/tmp/lvvictim.XXXXXX");
	ck_assert_int_ge(fd = mkstemp(victim_file), 0);
	close(fd);
	lvd_start(&d, "{\"pools\":["
	              "{\"name\":\"victim\",\"exec\":[\"sleep\",\"1000\"],\"ready\":\"notify\","
	              "\"start_timeout_ms\":60000,\"autostart\":false,\"user\":\"lvt_forger\"},"
	              "{\"name\":\"forger\",\"exec\":[\"%s\",\"forge\",\"%s\"],\"ready\":\"notify\","
	              "\"workers\":20,\"autostart\":false,\"user\":\"lvt_forger\"}]}",
	              lvd_build_path("tests/notify_helper"), victim_file);
	json_decref(lvd_call(&d, "start", "{\"target\":\"victim\",\"wait\":false}"));
	ck_assert_ptr_nonnull(f = fopen(victim_file, "w"));
	fprintf(f, "%d\n", (int)lvd_worker_pid(&d, "victim:0"));
	fclose(f);
	chmod(victim_file, 0644);
	hostile_measure(&d, 1000, &calm);
	json_decref(lvd_call(&d, "start", "{\"target\":\"forger\",\"wait\":false}"));
	hostile_measure(&d, 1000, &attacked);
	json_decref(lvd_wait(&d, "forger", "running", 0)); /* every forgery was read by now */
	assert_defence_held("forging workers (20, same user as the victim)", &calm, &attacked, -1);
	assert_victim_untouched();
}
END_TEST

/* As user, sends datagrams for ms to every notify socket listed in /proc/net/unix; exits
 * with 0 if none got in (every send refused with EACCES), 1 otherwise. */
static _Noreturn void flood_as(const char *user, int ms)
{
	struct passwd *pw = getpwnam(user);
	char *table, *line, paths[16][108];
	int n = 0, got_in = 0;
	struct timespec start, now;

	if (!pw || setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
		_exit(2);
	if (!(table = slurp("/proc/net/unix")))
		_exit(2);
	for (line = strtok(table, "\n"); line && n < 16; line = strtok(NULL, "\n")) {
		const char *name = strrchr(line, ' ');

		if (name && strstr(name, "/loopvisor-notify."))
			snprintf(paths[n++], sizeof paths[0], "%s", name + 1);
	}
	if (n == 0)
		_exit(3);
	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		for (int i = 0; i < n; i++) {
			struct sockaddr_un sun = { .sun_family = AF_UNIX };
			int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

			memcpy(sun.sun_path, paths[i], strlen(paths[i]));
			if (sendto(fd, "READY=1\nSTATUS=x", 16, MSG_DONTWAIT, (struct sockaddr *)&sun,
			           sizeof sun) >= 0 || errno != EACCES)
				got_in++;
			close(fd);
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 < ms);
	_exit(got_in ? 1 : 0);
}

/* A local user who runs no worker floods what it can see; the workers' users' sockets refuse
 * it, and a notify worker started meanwhile gets ready. */
START_TEST(notify_flood_by_a_local_user)
{
	struct hostile_figures calm, attacked;
	pid_t attacker;
	int status;
	double quiet;

	if (skip_unless_root(__func__))
		return;
	ensure_user("lvt_notify");
	ensure_user("lvt_flooder");
	lvd_start(&d, "{\"pools\":["
	              "{\"name\":\"victim\",\"exec\":[\"%s\",\"ready\",\"up\"],\"ready\":\"notify\","
	              "\"user\":\"lvt_notify\",\"workers\":4},"
	              "{\"name\":\"later\",\"exec\":[\"%s\",\"ready\",\"up\"],\"ready\":\"notify\","
	              "\"user\":\"lvt_notify\",\"autostart\":false},"
	              "{\"name\":\"root\",\"exec\":[\"%s\",\"ready\",\"up\"],\"ready\":\"notify\"}]}",
	              lvd_build_path("tests/notify_helper"), lvd_build_path("tests/notify_helper"),
	              lvd_build_path("tests/notify_helper"));
	json_decref(lvd_wait(&d, "victim", "running", 0));
	hostile_measure(&d, 1000, &calm);
	ck_assert_int_ge(attacker = fork(), 0);
	if (attacker == 0)
		flood_as("lvt_flooder", ATTACK_MS);
	hostile_measure(&d, ATTACK_MS / 3, &attacked);
	quiet = attacked.cpu_pct; /* measured with no pings (hostile.h) */
	json_decref(lvd_call(&d, "start", "{\"target\":\"later\"}"));
	ck_assert_int_eq(waitpid(attacker, &status, 0), attacker);
	assert_defence_held("notify flood by a local user who is no worker", &calm, &attacked, quiet);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "the flooder got in (or found no socket): status %d", status);
}
END_TEST

/* A worker floods its own user's socket with all it has for 3 s: the daemon reads within its
 * budgets, and a worker of the same user started meanwhile still gets ready. */
START_TEST(notify_flood_by_a_worker)
{
	struct hostile_figures calm, attacked;
	double quiet;
	json_t *w;

	lvd_start(&d, "{\"pools\":["
	              "{\"name\":\"flood\",\"exec\":[\"%s\",\"flood\",\"%d\"],\"ready\":\"notify\","
	              "\"restart\":\"never\",\"workers\":2,\"autostart\":false},"
	              "{\"name\":\"calm\",\"exec\":[\"%s\",\"ready\",\"up\"],\"ready\":\"notify\","
	              "\"autostart\":false}]}",
	              lvd_build_path("tests/notify_helper"), ATTACK_MS,
	              lvd_build_path("tests/notify_helper"));
	hostile_measure(&d, 1000, &calm);
	json_decref(lvd_call(&d, "start", "{\"target\":\"flood\"}"));
	hostile_measure(&d, ATTACK_MS / 3, &attacked);
	quiet = attacked.cpu_pct; /* measured with no pings (hostile.h) */
	json_decref(lvd_call(&d, "start", "{\"target\":\"calm\"}"));
	w = lvd_worker(&d, "flood:0");
	ck_assert_str_eq(JSTR(w, "state"), "running"); /* the calm one got in during the flood */
	json_decref(w);
	json_decref(lvd_wait(&d, "flood", "stopped", 0));
	assert_defence_held("notify flood by 2 workers on their own socket", &calm, &attacked, quiet);
}
END_TEST

TCase *hostile_worker_tcase(void)
{
	TCase *tc = tcase_create("worker");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, forging_workers);
	tcase_add_test(tc, notify_flood_by_a_local_user);
	tcase_add_test(tc, notify_flood_by_a_worker);
	return tc;
}
