/* hostile_control: hostile peers of the control socket. A connection hoarder (a peer with
 * no role connecting in a loop, a reader holding all its slots and asking for more) and a
 * reply-memory flooder (clients asking for 50 KB replies they never read): root's ping must
 * still answer quickly and the daemon's memory stay bounded. */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hostile.h"

#define ATTACK_MS 3000   /* each attacker stops by itself after this */
#define WINDOW_MS 2000   /* measured while it runs */

static struct lvd d;

static void teardown(void)
{
	lvd_stop(&d);
}

static bool measures_memory(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return false; /* ASan keeps freed memory in quarantine */
#else
	return !lvd_under_valgrind();
#endif
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The error code of the next line on c (0: none, or not an error). */
static int next_error(struct lv_client *c, int timeout_ms)
{
	char *line = lv_client_read_line(c, timeout_ms);
	json_t *r = line ? json_loads(line, 0, NULL) : NULL;
	int code = (int)JINT(json_object_get(r, "error"), "code");

	json_decref(r);
	free(line);
	return code;
}

/* An attacker: a child (as user, or as root when user is NULL) that runs attack until
 * ATTACK_MS have passed and writes what it counted on a pipe. */
struct attacker {
	pid_t pid;
	int report;
	long counts[2];
};

static void start_attacker(struct attacker *a, const char *user, void (*attack)(long *counts))
{
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_ge(a->pid = fork(), 0);
	if (a->pid == 0) {
		struct passwd *pw = user ? getpwnam(user) : NULL;
		long counts[2] = { 0, 0 };

		close(p[0]);
		if (user && (!pw || initgroups(user, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
		             setuid(pw->pw_uid) < 0))
			_exit(100);
		attack(counts);
		_exit(write(p[1], counts, sizeof counts) == sizeof counts ? 0 : 101);
	}
	close(p[1]);
	a->report = p[0];
}

static void reap_attacker(struct attacker *a)
{
	int status;

	ck_assert_int_eq(read(a->report, a->counts, sizeof a->counts), (ssize_t)sizeof a->counts);
	close(a->report);
	ck_assert_int_eq(waitpid(a->pid, &status, 0), a->pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "attacker status %d", status);
}

/* No role: connects in a loop. counts: refusals seen (-32003, then EOF), anything else. */
static void no_role_loop(long *counts)
{
	long long end = now_ms() + ATTACK_MS;

	while (now_ms() < end) {
		struct lv_client *c = lv_client_connect(d.sock);
		bool refused = c && next_error(c, 5000) == -32003 && !lv_client_read_line(c, 5000);

		counts[refused ? 0 : 1]++;
		lv_client_close(c);
	}
}

/* A reader: holds every connection it gets, then keeps asking for more. counts: held,
 * refusals seen (-32010). */
static void reader_hoard(long *counts)
{
	struct lv_client *held[128];
	long long end = now_ms() + ATTACK_MS;
	json_t *res, *err;

	while (counts[0] < 128 && now_ms() < end) {
		struct lv_client *c = lv_client_connect(d.sock);

		if (!c || lv_client_call(c, "ping", NULL, 5000, &res, &err) < 0 || !res) {
			json_decref(err);
			lv_client_close(c);
			break;
		}
		json_decref(res);
		held[counts[0]++] = c;
	}
	while (now_ms() < end) {
		struct lv_client *c = lv_client_connect(d.sock);

		counts[1] += c && next_error(c, 5000) == -32010;
		lv_client_close(c);
	}
	for (long i = 0; i < counts[0]; i++)
		lv_client_close(held[i]);
}

static void sh(const char *cmd)
{
	ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
}

START_TEST(a_connection_hoarder_leaves_root_its_slots)
{
	struct hostile_figures calm, attacked;
	struct attacker norole, reader;

	if (geteuid() != 0) {
		printf("hostile: connection hoarder: skipped (needs root to make users)\n");
		return;
	}
	sh("getent group lvt_ctl >/dev/null || groupadd -r lvt_ctl");
	sh("id lvt_reader >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin -G lvt_ctl lvt_reader");
	sh("id lvt_norole >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin -G lvt_ctl lvt_norole");
	lvd_start(&d, "{\"control\":{\"mode\":\"0660\",\"group\":\"lvt_ctl\",\"access\":["
	              "{\"user\":\"lvt_reader\",\"role\":\"read\"}]},"
	              "\"pools\":[{\"name\":\"s\",\"exec\":[\"sleep\",\"1000\"]}]}");
	chmod(d.dir, 0711);
	hostile_measure(&d, 1000, &calm);
	start_attacker(&norole, "lvt_norole", no_role_loop);
	start_attacker(&reader, "lvt_reader", reader_hoard);
	hostile_measure(&d, WINDOW_MS, &attacked);
	reap_attacker(&norole);
	reap_attacker(&reader);
	hostile_report("connection hoarder", &calm, &attacked);
	printf("hostile: connection hoarder: %ld no-role connections closed at once (%ld not), "
	       "reader held %ld and was refused %ld more\n", norole.counts[0], norole.counts[1],
	       reader.counts[0], reader.counts[1]);
	fflush(stdout);
	ck_assert_int_gt(norole.counts[0], 0);
	ck_assert_int_eq(norole.counts[1], 0);
	ck_assert_int_eq(reader.counts[0], 64);
	ck_assert_int_gt(reader.counts[1], 0);
	if (!lvd_under_valgrind())
		ck_assert_int_lt(attacked.ping_p99_us, 50000);
}
END_TEST

#define FLOODERS 160

/* As root: 160 connections asking for 50 KB replies in bursts and never reading (each is
 * paused at 1 MiB unread, together they pass the 128 MiB all may hold); a connection the
 * daemon drops is opened again. counts: bursts sent, connections dropped. */
static void reply_flood(long *counts)
{
	static const char req[] = "{\"jsonrpc\":\"2.0\",\"method\":\"tail\",\"params\":{\"target\":"
	                          "\"big\",\"lines\":200},\"id\":1}\n";
	struct lv_client *c[FLOODERS] = { 0 };
	char burst[sizeof req * 100] = "";
	long long end = now_ms() + ATTACK_MS;

	for (int i = 0; i < 100; i++)
		strcat(burst, req);
	while (now_ms() < end) {
		for (int i = 0; i < FLOODERS; i++) {
			struct pollfd p = { .fd = c[i] ? lv_client_fd(c[i]) : -1, .events = POLLRDHUP };

			if (c[i] && poll(&p, 1, 0) == 1) { /* dropped by the daemon */
				lv_client_close(c[i]);
				c[i] = NULL;
				counts[1]++;
			}
			if (!c[i] && !(c[i] = lv_client_connect(d.sock)))
				continue;
			counts[0] += send(lv_client_fd(c[i]), burst, strlen(burst),
			                  MSG_NOSIGNAL | MSG_DONTWAIT) > 0; /* a paused one takes none */
		}
		usleep(10000);
	}
	for (int i = 0; i < FLOODERS; i++)
		lv_client_close(c[i]);
}

START_TEST(a_reply_flooder_gets_bounded_memory)
{
	struct hostile_figures calm, attacked, after;
	struct attacker flood;
	struct lv_client *f;
	json_t *res = NULL, *err = NULL, *line;

	lvd_start(&d, "{\"logs\":{\"dir\":\"logs\"},\"pools\":[{\"name\":\"big\",\"exec\":[\"sh\","
	              "\"-c\",\"i=0; while [ $i -lt 200 ]; do head -c 250 /dev/zero | tr '\\\\0' x;"
	              " echo; i=$((i+1)); done; echo done; exec sleep 1000\"],\"autostart\":false}]}");
	f = lv_client_connect(d.sock);
	ck_assert_int_eq(lv_client_call(f, "tail", json_pack("{s:s, s:i, s:b}", "target", "big",
	                                "lines", 0, "follow", 1), 10000, &res, &err), 0);
	json_decref(res);
	json_decref(lvd_call(&d, "start", "{\"target\":\"big\",\"wait\":false}"));
	for (bool done = false; !done; json_decref(line)) {
		line = lvd_next_notification(f);
		done = !strcmp(JSTR(line, "text"), "done");
	}
	lv_client_close(f);
	hostile_measure(&d, 1000, &calm);
	start_attacker(&flood, NULL, reply_flood);
	hostile_measure(&d, WINDOW_MS, &attacked);
	reap_attacker(&flood);
	/* the daemon may still be answering what the closed connections left queued: judge
	 * its memory once it is done, for up to 10 s, not at one fixed moment */
	for (int i = 0; i < 20; i++) {
		hostile_measure(&d, 500, &after);
		if (after.rss_kib - calm.rss_kib < 32 * 1024)
			break;
	}
	hostile_report("reply-memory flooder", &calm, &attacked);
	printf("hostile: reply-memory flooder: %ld bursts of 100 requests, %ld connections "
	       "dropped; RSS %ld KiB once it stopped\n", flood.counts[0], flood.counts[1],
	       after.rss_kib);
	fflush(stdout);
	ck_assert_int_gt(flood.counts[0], 0);
	if (measures_memory()) {
		ck_assert_int_lt(attacked.rss_kib - calm.rss_kib, 192 * 1024);
		ck_assert_int_lt(after.rss_kib - calm.rss_kib, 32 * 1024);
	}
}
END_TEST

TCase *hostile_control_tcase(void)
{
	TCase *tc = tcase_create("control");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, a_connection_hoarder_leaves_root_its_slots);
	tcase_add_test(tc, a_reply_flooder_gets_bounded_memory);
	return tc;
}
