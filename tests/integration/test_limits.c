/* test_limits: what one control client, or many, may take of the daemon: reply memory
 * (per client, in all, and given back), parked waits (per connection and in all), with
 * the daemon still answering everyone else meanwhile. */
#include <check.h>
#include <errno.h>
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

#define FLOODERS 160
#define PER_FLOODER 100

/* Clients that ask for 50 KB replies and never read: 16 of them held 64 MiB each (1 GiB),
 * and the memory stayed with the daemon after they were gone (a worker logging meanwhile
 * pins its heap). Now a client leaving 1 MiB unread is not served more until it reads,
 * all clients' replies together stay under 128 MiB (the biggest holder is dropped first),
 * and freed memory goes back to the system. */
/* Follows pool "big", starts it, and reads its lines up to "done": its ring is full then.
 * The connection that followed, for the caller to close. */
static struct lv_client *follow_big_until_done(void)
{
	struct lv_client *f = lv_client_connect(d.sock);
	json_t *res = NULL, *err = NULL, *line;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(lv_client_call(f, "tail", json_pack("{s:s, s:i, s:b}", "target", "big",
	                                "lines", 0, "follow", 1), 10000, &res, &err), 0);
	json_decref(res);
	json_decref(lvd_call(&d, "start", "{\"target\":\"big\",\"wait\":false}"));
	for (bool done = false; !done; json_decref(line)) {
		line = lvd_next_notification(f);
		done = !strcmp(JSTR(line, "text"), "done");
	}
	return f;
}

START_TEST(reply_memory_is_bounded_in_all_and_given_back)
{
	static const char req[] = "{\"jsonrpc\":\"2.0\",\"method\":\"tail\",\"params\":{\"target\":"
	                          "\"big\",\"lines\":200},\"id\":1}\n";
	struct lv_client *f, *flood[FLOODERS];
	long base, peak, after;
	bool measure = true;
	char path[400], *burst, *log;
	int dropped = 0, fds;
	FILE *cr;

#if defined(__SANITIZE_ADDRESS__)
	measure = false; /* ASan keeps freed memory in quarantine: RSS says nothing here */
#endif
	if (lvd_under_valgrind()) {
		printf("skipped under valgrind: too slow to build 128 MiB of replies\n");
		return;
	}
	lvd_start(&d, "{\"logs\":{\"dir\":\"logs\"},\"pools\":[{\"name\":\"big\",\"exec\":[\"sh\","
	              "\"-c\",\"i=0; while [ $i -lt 200 ]; do head -c 250 /dev/zero | tr '\\\\0' x;"
	              " echo; i=$((i+1)); done; echo done; exec sleep 1000\"],\"autostart\":false},"
	              "{\"name\":\"tick\",\"module\":\"ticker\",\"params\":{\"interval_ms\":1}}]}");
	/* follow first, then start: its last line says the ring is full */
	f = follow_big_until_done();
	lv_client_close(f);
	snprintf(path, sizeof path, "/proc/%d/clear_refs", (int)d.pid);
	ck_assert_ptr_nonnull(cr = fopen(path, "w"));
	fputs("5", cr); /* VmHWM starts again from VmRSS */
	fclose(cr);
	base = proc_status_value(d.pid, "VmRSS:");
	fds = count_fds(d.pid);
	ck_assert_ptr_nonnull(burst = malloc(sizeof req * PER_FLOODER));
	burst[0] = '\0';
	for (int i = 0; i < PER_FLOODER; i++)
		strcat(burst, req); /* 5 MB of replies asked for */
	for (int i = 0; i < FLOODERS; i++) {
		ck_assert_ptr_nonnull(flood[i] = lv_client_connect(d.sock));
		send_text(flood[i], burst);
		json_decref(lvd_call(&d, "ping", NULL)); /* it has read that burst by now */
	}
	free(burst);
	for (int i = 0; i < FLOODERS; i++)
		dropped += closed_by_daemon(flood[i], 0);
	for (int i = 0; i < FLOODERS; i++)
		lv_client_close(flood[i]);
	/* the daemon frees them as it sees them close (each ping is a turn of its loop) ... */
	for (int turn = 0; count_fds(d.pid) > fds && turn < 10000; turn++)
		json_decref(lvd_call(&d, "ping", NULL));
	ck_assert_int_le(count_fds(d.pid), fds);
	json_decref(lvd_call(&d, "ping", NULL)); /* ... and a turn later gives memory back */
	peak = proc_status_value(d.pid, "VmHWM:");
	after = proc_status_value(d.pid, "VmRSS:");
	printf("reply memory: daemon RSS %ld KiB before, peak %ld KiB under %d flooders (%d "
	       "dropped), %ld KiB after they closed\n", base, peak, FLOODERS, dropped, after);
	fflush(stdout);
	ck_assert_int_gt(dropped, 0);
	if (measure) {
		ck_assert_int_lt(peak - base, 192 * 1024);
		ck_assert_int_lt(after - base, 32 * 1024);
	} else {
		printf("RSS limits not checked: ASan keeps freed memory\n");
	}
	log = slurp(d.log);
	ck_assert_ptr_nonnull(strstr(log, "holds the most unread replies"));
	free(log);
}
END_TEST

/* docs/security.md: a client whose unread replies would pass 64 MiB is disconnected at
 * once (pausing its requests past 1 MiB cannot stop one batch): a batch of tails of a full
 * ring asks for ~96 MiB in one line, under the 128 MiB of all clients together, so only
 * the per-client limit can drop it. Nothing of it was sent: the client reads an end of
 * file, not replies. Another client is answered all along. */
START_TEST(a_client_past_64_mib_of_unread_replies_is_disconnected)
{
	struct lv_client *f, *hog;
	json_t *res;
	struct pollfd p = { .events = POLLIN | POLLRDHUP };
	size_t one, n, len = 0;
	char *batch = NULL, *log, byte;
	FILE *b;

	lvd_start(&d, "{\"pools\":[{\"name\":\"big\",\"exec\":[\"sh\",\"-c\",\"i=0; while [ $i -lt"
	              " 200 ]; do head -c 3000 /dev/zero | tr '\\\\0' x; echo; i=$((i+1)); done;"
	              " echo done; exec sleep 1000\"],\"autostart\":false}]}");
	f = follow_big_until_done();
	res = lvd_call(&d, "tail", "{\"target\":\"big\",\"lines\":200}");
	one = json_dumpb(res, NULL, 0, JSON_COMPACT) + 32; /* its reply, id and all */
	json_decref(res);
	n = 96 * 1024 * 1024 / one + 1;
	ck_assert_uint_le(n, 256); /* a batch's limit */
	ck_assert_ptr_nonnull(b = open_memstream(&batch, &len));
	for (size_t i = 0; i < n; i++)
		fprintf(b, "%c{\"jsonrpc\":\"2.0\",\"method\":\"tail\",\"params\":{\"target\":\"big\","
		        "\"lines\":200},\"id\":%zu}", i ? ',' : '[', i);
	fputs("]\n", b);
	fclose(b);
	ck_assert_ptr_nonnull(hog = lv_client_connect(d.sock));
	send_text(hog, batch);
	free(batch);
	p.fd = lv_client_fd(hog);
	ck_assert_int_eq(poll(&p, 1, test_ms(20000)), 1);
	ck_assert_msg(p.revents & (POLLRDHUP | POLLHUP), "the client was sent its ~%zu MiB",
	              n * one >> 20);
	ck_assert_int_eq(recv(p.fd, &byte, 1, MSG_DONTWAIT), 0); /* not a byte of it */
	lv_client_close(hog);
	json_decref(lvd_call(&d, "ping", NULL));
	lv_client_close(f);
	log = slurp(d.log);
	ck_assert_ptr_nonnull(strstr(log, "is not reading its replies: disconnecting it"));
	free(log);
}
END_TEST

/* A batch of n waits for pool a to stop, ids from id0. */
static char *waits(int n, int id0)
{
	size_t cap = (size_t)n * 128 + 16, len = 0;
	char *text = malloc(cap);

	ck_assert_ptr_nonnull(text);
	text[len++] = '[';
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, cap - len, "%s{\"jsonrpc\":\"2.0\",\"method\":\"wait\","
		                        "\"params\":{\"target\":\"a\",\"state\":\"stopped\",\"timeout_ms\":"
		                        "600000},\"id\":%d}", i ? "," : "", id0 + i);
	snprintf(text + len, cap - len, "]\n");
	return text;
}

/* The batch reply on c: n members, those from `refused_from` on answered -32010 limit. */
static void expect_batch(struct lv_client *c, int n, int refused_from, const char *limit)
{
	char *line = lv_client_read_line(c, test_ms(30000));
	json_t *r, *m;
	size_t i;

	ck_assert_msg(line != NULL, "no batch reply: %s", strerror(errno));
	r = json_loads(line, 0, NULL);
	free(line);
	ck_assert_uint_eq(json_array_size(r), (size_t)n);
	json_array_foreach(r, i, m) {
		json_t *e = json_object_get(m, "error");

		if ((int)i < refused_from) {
			ck_assert_msg(json_object_get(m, "result") != NULL, "member %zu: %s", i,
			              JSTR(e, "message"));
		} else {
			ck_assert_int_eq(JINT(e, "code"), -32010);
			ck_assert_str_eq(JSTR(json_object_get(e, "data"), "limit"), limit);
		}
	}
	json_decref(r);
}

#define CONNS 64

/* Reads events until `event` of `worker` (fails after 20 s without one). */
static void expect_event(struct lv_client *ev, const char *event, const char *worker)
{
	for (;;) {
		json_t *e = lvd_next_notification(ev);
		bool it = !strcmp(JSTR(e, "event"), event) && !strcmp(JSTR(e, "worker"), worker);

		json_decref(e);
		if (it)
			return;
	}
}

/* Parked waits had no cap (655,360 of them made every start and stop block the daemon
 * for 200 ms, judging all of them): now 256 per connection and 16384 in all, answered
 * -32010 past that, and a state change judges only the waits on its own pool. */
START_TEST(parked_waits_are_capped_and_other_pools_go_on)
{
	struct lv_client *c[CONNS + 1], *ev;
	json_t *res = NULL, *err = NULL;
	char *text;

	lvd_start(&d, "{\"pools\":[{\"name\":\"a\",\"exec\":[\"sleep\",\"1000\"]},"
	              "{\"name\":\"b\",\"exec\":[\"sleep\",\"1000\"]}]}");
	json_decref(lvd_wait(&d, "a", "running", 0));
	json_decref(lvd_wait(&d, "b", "running", 0));
	for (int i = 0; i <= CONNS; i++)
		ck_assert_ptr_nonnull(c[i] = lv_client_connect(d.sock));
	ev = lv_client_connect(d.sock);
	ck_assert_int_eq(lv_client_call(ev, "subscribe", json_pack("{s:s}", "target", "b"), 10000,
	                                &res, &err), 0);
	json_decref(res);
	/* one connection: 200 + 100 waits, of which 256 park and the last 44 are refused */
	send_text(c[0], text = waits(200, 0));
	free(text);
	send_text(c[0], text = waits(100, 200));
	free(text);
	/* 63 more connections with 256 each: 16384 parked in all, the cap */
	for (int i = 1; i < CONNS; i++) {
		send_text(c[i], text = waits(256, i * 1000));
		free(text);
	}
	json_decref(lvd_call(&d, "ping", NULL));
	/* past the cap: every member refused at once, nothing parks */
	send_text(c[CONNS], text = waits(256, 900000));
	free(text);
	expect_batch(c[CONNS], 256, 0, "waits");
	/* another pool stops and starts as usual with 16384 waits parked on "a" (its own
	 * waits would be refused now: the events tell) */
	json_decref(lvd_call(&d, "stop", "{\"target\":\"b\",\"wait\":false}"));
	expect_event(ev, "worker.stopped", "b:0");
	json_decref(lvd_call(&d, "start", "{\"target\":\"b\",\"wait\":false}"));
	expect_event(ev, "worker.running", "b:0");
	/* and every parked wait is answered when its pool changes */
	json_decref(lvd_call(&d, "stop", "{\"target\":\"a\",\"wait\":false}"));
	expect_batch(c[0], 200, 200, NULL);
	expect_batch(c[0], 100, 56, "waits_per_connection");
	for (int i = 1; i < CONNS; i++)
		expect_batch(c[i], 256, 256, NULL);
	for (int i = 0; i <= CONNS; i++)
		lv_client_close(c[i]);
	lv_client_close(ev);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("limits");
	TCase *tc = tcase_create("control");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, reply_memory_is_bounded_in_all_and_given_back);
	tcase_add_test(tc, parked_waits_are_capped_and_other_pools_go_on);
	tcase_add_test(tc, a_client_past_64_mib_of_unread_replies_is_disconnected);
	suite_add_tcase(su, tc);
	return lvd_run_suite(su);
}
