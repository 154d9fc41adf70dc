/* test_limits: what one control client, or many, may take of the daemon: reply memory
 * (per client, in all, and given back), with the daemon still answering everyone else
 * meanwhile. */
#include <check.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

static struct lvd d;

static void teardown(void)
{
	lvd_stop(&d);
}

static long status_kib(pid_t pid, const char *field)
{
	char path[64], *text, *p;
	long v = -1;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if ((text = slurp(path)) && (p = strstr(text, field)))
		v = atol(p + strlen(field));
	free(text);
	return v;
}

static void send_text(struct lv_client *c, const char *text)
{
	(void)send(lv_client_fd(c), text, strlen(text), MSG_NOSIGNAL); /* a dropped one: EPIPE */
}

/* True once the daemon closed c (seen without reading what it holds). */
static bool closed_by_daemon(struct lv_client *c, int timeout_ms)
{
	struct pollfd p = { .fd = lv_client_fd(c), .events = POLLRDHUP };

	return poll(&p, 1, timeout_ms) == 1 && (p.revents & (POLLRDHUP | POLLHUP));
}

#define FLOODERS 16
#define ROUNDS 12
#define PER_ROUND 100

/* Clients that ask for 50 KB replies and never read: 16 of them held 64 MiB each (1 GiB),
 * and the memory stayed with the daemon after they were gone (a worker logging meanwhile
 * pins its heap). Now all clients' replies together stay under 128 MiB, the biggest
 * holder is dropped first, and freed memory goes back to the system. */
START_TEST(reply_memory_is_bounded_in_all_and_given_back)
{
	static const char req[] = "{\"jsonrpc\":\"2.0\",\"method\":\"tail\",\"params\":{\"target\":"
	                          "\"big\",\"lines\":200},\"id\":1}\n";
	struct lv_client *f, *flood[FLOODERS];
	json_t *res = NULL, *err = NULL, *line;
	long base, peak, after;
	bool measure = !lvd_under_valgrind();
	char path[400], *burst, *log;
	FILE *cr;

#if defined(__SANITIZE_ADDRESS__)
	measure = false; /* ASan keeps freed memory in quarantine: RSS says nothing here */
#endif
	lvd_start(&d, "{\"logs\":{\"dir\":\"logs\"},\"pools\":[{\"name\":\"big\",\"exec\":[\"sh\","
	              "\"-c\",\"i=0; while [ $i -lt 200 ]; do head -c 250 /dev/zero | tr '\\\\0' x;"
	              " echo; i=$((i+1)); done; echo done; exec sleep 1000\"],\"autostart\":false},"
	              "{\"name\":\"tick\",\"module\":\"ticker\",\"params\":{\"interval_ms\":1}}]}");
	/* follow first, then start: its last line says the ring is full */
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
	snprintf(path, sizeof path, "/proc/%d/clear_refs", (int)d.pid);
	ck_assert_ptr_nonnull(cr = fopen(path, "w"));
	fputs("5", cr); /* VmHWM starts again from VmRSS */
	fclose(cr);
	base = status_kib(d.pid, "VmRSS:");
	ck_assert_ptr_nonnull(burst = malloc(sizeof req * PER_ROUND));
	burst[0] = '\0';
	for (int i = 0; i < PER_ROUND; i++)
		strcat(burst, req);
	for (int i = 0; i < FLOODERS; i++)
		ck_assert_ptr_nonnull(flood[i] = lv_client_connect(d.sock));
	/* round by round, so that every flooder's queue grows at once (as readers that are
	 * merely slow would); a ping after each round: the daemon has read the round then */
	for (int round = 0; round < ROUNDS; round++) {
		for (int i = 0; i < FLOODERS; i++)
			send_text(flood[i], burst);
		json_decref(lvd_call(&d, "ping", NULL));
	}
	free(burst);
	for (int i = 0; i < FLOODERS; i++)
		ck_assert_msg(closed_by_daemon(flood[i], 20000), "flooder %d is still connected", i);
	json_decref(lvd_call(&d, "ping", NULL)); /* a loop turn later: memory was given back */
	peak = status_kib(d.pid, "VmHWM:");
	after = status_kib(d.pid, "VmRSS:");
	printf("reply memory: daemon RSS %ld KiB before, peak %ld KiB under %d flooders, %ld KiB "
	       "after they were dropped\n", base, peak, FLOODERS, after);
	fflush(stdout);
	if (measure) {
		ck_assert_int_lt(peak - base, 192 * 1024);
		ck_assert_int_lt(after - base, 32 * 1024);
	} else {
		printf("RSS limits not checked: ASan or valgrind keeps freed memory\n");
	}
	log = slurp(d.log);
	ck_assert_ptr_nonnull(strstr(log, "holds the most unread replies"));
	free(log);
	for (int i = 0; i < FLOODERS; i++)
		lv_client_close(flood[i]);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("limits");
	TCase *tc = tcase_create("control");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, reply_memory_is_bounded_in_all_and_given_back);
	suite_add_tcase(su, tc);
	return lvd_run_suite(su);
}
