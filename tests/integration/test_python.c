/* test_python: Python asyncio apps hosted by the "python" job (docs/python.md), with real
 * Python code written to a temp dir: the ctx (params, counters, log, late readiness, the
 * pool's listening socket served by asyncio), two loops each with a loop and an epoll
 * instance of its own (kcmp), a graceful stop whose finally runs (and a main that ignores
 * the stop, cancelled before the kill), an exception in main, an import error as the start
 * error, a loop blocked by time.sleep: seen as lag through the heartbeats the asyncio loop
 * sends, and past hang_timeout_ms dumped (its traceback in the output) and restarted; path
 * and venv; a hostile app. Each app turns DeprecationWarning into an error before the host
 * builds its loop. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <linux/kcmp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "harness.h"

static struct lvd d;
static char dir[64];

static void setup(void)
{
	make_temp_dir(dir, sizeof dir, "python");
}

static void teardown(void)
{
	lvd_stop(&d);
	remove_tree(dir);
}

/* dir/NAME.py: the warnings filter first, then body. */
static void app(const char *name, const char *body)
{
	write_python(dir, name, "import warnings\nwarnings.simplefilter('error', DeprecationWarning)\n",
	             body);
}

/* What a target's workers write: their last 200 lines, then each new one as it comes. */
struct follower {
	struct lv_client *c;
	json_t *backlog;
	size_t next;
};

static void follow(struct follower *f, const char *target)
{
	json_t *res = NULL, *err = NULL;

	ck_assert_ptr_nonnull(f->c = lv_client_connect(d.sock));
	ck_assert_int_eq(lv_client_call(f->c, "tail", json_pack("{s:s, s:i, s:b}", "target", target,
	                                "lines", 200, "follow", 1), test_ms(10000), &res, &err), 0);
	ck_assert_ptr_null(err);
	f->backlog = json_incref(json_object_get(res, "lines"));
	f->next = 0;
	json_decref(res);
}

static void unfollow(struct follower *f)
{
	lv_client_close(f->c);
	json_decref(f->backlog);
}

/* Reads lines until one contains needle: its text (malloc'd). */
static char *until_line(struct follower *f, const char *needle)
{
	for (;;) {
		json_t *line = f->next < json_array_size(f->backlog)
		               ? json_incref(json_array_get(f->backlog, f->next++))
		               : lvd_next_notification(f->c);
		const char *text = JSTR(line, "text");
		char *out = text && strstr(text, needle) ? strdup(text) : NULL;

		json_decref(line);
		if (out)
			return out;
	}
}

/* The first line a TCP server on loopback port sends. */
static const char *fetch_line(int port)
{
	static char line[256];
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
		                      .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ssize_t n;

	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	n = read(fd, line, sizeof line - 1);
	close(fd);
	line[n > 0 ? n : 0] = '\0';
	return line;
}

START_TEST(a_coroutine_app_gets_its_context)
{
	json_t *st, *w, *pool;
	struct follower f;
	char *line;
	int port;

	/* its counters reach the daemon with the next heartbeat, before "counted" */
	app("coro", "import asyncio\n"
	            "async def main(ctx):\n"
	            "    ctx.log('info', f'hello {ctx.pool}:{ctx.index} loop {ctx.loop_index} '\n"
	            "            f'params {ctx.params[\"greeting\"]}')\n"
	            "    ctx.counter('hits', 2)\n"
	            "    ctx.counter('hits')\n"
	            "    await asyncio.sleep(0.3)\n"
	            "    async def hello(r, w):\n"
	            "        w.write(f'hi from {ctx.pool}:{ctx.index}\\n'.encode())\n"
	            "        await w.drain()\n"
	            "        w.close()\n"
	            "    server = await asyncio.start_server(hello, sock=ctx.sockets[0])\n"
	            "    ctx.ready()\n"
	            "    ctx.log('info', 'counted')\n"
	            "    await ctx.stopping.wait()\n"
	            "    server.close()\n");
	port = free_port();
	lvd_start(&d, "{\"pools\":[{\"name\":\"py\",\"python\":{\"app\":\"coro:main\",\"path\":[\"%s\"]},"
	              "\"ready\":\"notify\",\"params\":{\"greeting\":\"hi\"},\"heartbeat_ms\":100,"
	              "\"listen\":[\"tcp:127.0.0.1:%d\"]}]}", dir, port);
	st = lvd_call(&d, "status", NULL);
	pool = json_array_get(json_object_get(st, "pools"), 0);
	ck_assert_str_eq(JSTR(pool, "kind"), "python");
	json_decref(st);
	follow(&f, "py");
	line = until_line(&f, "hello");
	ck_assert_str_eq(line, "hello py:0 loop 0 params hi");
	free(line);
	free(until_line(&f, "counted"));
	unfollow(&f);
	/* running only once main called ctx.ready() (lvd_start waited for it), after 0.3 s */
	w = lvd_worker(&d, "py:0");
	ck_assert_str_eq(JSTR(w, "state"), "running");
	ck_assert_int_eq(JINT(json_object_get(w, "counters"), "hits"), 3);
	ck_assert(json_is_integer(json_object_get(json_object_get(w, "loop"), "lag_us")));
	json_decref(w);
	/* the pool's listening socket, as ctx.sockets[0], served by asyncio */
	ck_assert_str_eq(fetch_line(port), "hi from py:0\n");
}
END_TEST

/* fd's open file in pid ("anon_inode:[eventpoll]"...) into out. */
static void fd_target(pid_t pid, int fd, char *out, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)pid, fd);
	n = readlink(path, out, len - 1);
	out[n > 0 ? n : 0] = '\0';
}

static bool same_file(pid_t a, int fa, pid_t b, int fb)
{
	return syscall(SYS_kcmp, a, b, KCMP_FILE, fa, fb) == 0;
}

/* loops: 2 are two threads, each with an asyncio loop and an epoll instance of its own,
 * shared with no other worker and not with the daemon. */
START_TEST(each_loop_has_its_own_loop_and_epoll)
{
	pid_t pids[2];
	int epfd[2][2];
	unsigned long thread[2][2] = { { 0 } };
	struct follower f;
	char *line, what[128];

	app("loops", "import asyncio, threading\n"
	             "async def main(ctx):\n"
	             "    loop = asyncio.get_running_loop()\n"
	             "    ctx.log('info', f'loop {ctx.index}.{ctx.loop_index} epoll '\n"
	             "            f'{loop._selector._selector.fileno()} thread {threading.get_ident()}')\n"
	             "    await ctx.stopping.wait()\n");
	lvd_start(&d, "{\"pools\":[{\"name\":\"two\",\"workers\":2,\"loops\":2,\"python\":"
	              "{\"app\":\"loops:main\",\"path\":[\"%s\"]}}]}", dir);
	pids[0] = lvd_worker_pid(&d, "two:0");
	pids[1] = lvd_worker_pid(&d, "two:1");
	follow(&f, "two");
	memset(epfd, 0xff, sizeof epfd);
	for (int seen = 0; seen < 4;) { /* the four come in any order */
		int w, l, fd;
		unsigned long tid;

		line = until_line(&f, " epoll ");
		ck_assert_int_eq(sscanf(line, "loop %d.%d epoll %d thread %lu", &w, &l, &fd, &tid), 4);
		ck_assert(w >= 0 && w < 2 && l >= 0 && l < 2 && epfd[w][l] < 0);
		epfd[w][l] = fd;
		thread[w][l] = tid;
		seen++;
		free(line);
		fd_target(pids[w], fd, what, sizeof what);
		ck_assert_str_eq(what, "anon_inode:[eventpoll]");
	}
	unfollow(&f);
	ck_assert(thread[0][0] != thread[0][1] && thread[1][0] != thread[1][1]);
	ck_assert(!same_file(pids[0], epfd[0][0], pids[0], epfd[0][1]));
	ck_assert(!same_file(pids[0], epfd[0][0], pids[1], epfd[1][0]));
	/* and none of the daemon's */
	for (int fd = 0; fd < 1024; fd++) {
		fd_target(d.pid, fd, what, sizeof what);
		if (strcmp(what, "anon_inode:[eventpoll]") != 0)
			continue;
		for (int w = 0; w < 2; w++)
			for (int l = 0; l < 2; l++)
				ck_assert_msg(!same_file(d.pid, fd, pids[w], epfd[w][l]),
				              "worker %d loop %d shares the daemon's epoll %d", w, l, fd);
	}
}
END_TEST

/* A stop sets ctx.stopping: main finishes its work and its finally runs; a main that
 * ignores it is cancelled before stop_timeout_ms, and its finally runs too. Both exit 0. */
START_TEST(a_stop_lets_main_finish_or_cancels_it)
{
	json_t *w;
	char marker[128], *text;

	app("stops", "import asyncio, os\n"
	             "async def main(ctx):\n"
	             "    mark = os.path.join(ctx.params['dir'], f'{ctx.pool}.done')\n"
	             "    try:\n"
	             "        if ctx.pool == 'polite':\n"
	             "            await ctx.stopping.wait()\n"
	             "            await asyncio.sleep(0.2)  # in-flight work\n"
	             "            open(mark, 'w').write('finished')\n"
	             "        else:\n"
	             "            await asyncio.sleep(3600)\n"
	             "    except asyncio.CancelledError:\n"
	             "        open(mark, 'w').write('cancelled')\n"
	             "        raise\n");
	lvd_start(&d, "{\"pools\":[{\"name\":\"polite\",\"python\":{\"app\":\"stops:main\",\"path\":"
	              "[\"%s\"]},\"params\":{\"dir\":\"%s\"}},{\"name\":\"deaf\",\"stop_timeout_ms\":1500,"
	              "\"python\":{\"app\":\"stops:main\",\"path\":[\"%s\"]},\"params\":{\"dir\":\"%s\"}}]}",
	          dir, dir, dir, dir);
	json_decref(lvd_call(&d, "stop", "{\"target\":\"polite\",\"wait\":true}"));
	json_decref(lvd_call(&d, "stop", "{\"target\":\"deaf\",\"wait\":true}"));
	snprintf(marker, sizeof marker, "%s/polite.done", dir);
	ck_assert_ptr_nonnull(text = slurp(marker));
	ck_assert_str_eq(text, "finished");
	free(text);
	snprintf(marker, sizeof marker, "%s/deaf.done", dir);
	ck_assert_ptr_nonnull(text = slurp(marker));
	ck_assert_str_eq(text, "cancelled");
	free(text);
	w = lvd_worker(&d, "deaf:0");
	ck_assert_int_eq(JINT(json_object_get(w, "last_exit"), "code"), 0); /* not SIGKILL */
	json_decref(w);
}
END_TEST

/* An exception in main: its traceback in the output, exit 1; an app that cannot be
 * imported: the start error says why. */
START_TEST(an_exception_in_main_is_a_failure_with_its_traceback)
{
	json_t *w;
	struct follower f;

	app("boom", "import asyncio\n"
	            "async def main(ctx):\n"
	            "    print('printed before the end')  # stdout: a pipe, so buffered\n"
	            "    raise ValueError('boom at line 6')\n");
	lvd_start(&d, "{\"pools\":[{\"name\":\"boom\",\"restart\":\"never\",\"python\":{\"app\":"
	              "\"boom:main\",\"path\":[\"%s\"]}},{\"name\":\"gone\",\"restart\":\"never\","
	              "\"python\":{\"app\":\"nosuchmodule:main\",\"path\":[\"%s\"]}}]}", dir, dir);
	json_decref(lvd_wait(&d, "boom:0", "failed", 0));
	w = lvd_worker(&d, "boom:0");
	ck_assert_int_eq(JINT(json_object_get(w, "last_exit"), "code"), 1);
	json_decref(w);
	/* its last words came before its exit was reported: all in the backlog, in any order
	 * across stdout and stderr */
	for (size_t i = 0; i < 3; i++) {
		static const char *const said[] = { "boom.py\", line 6, in main",
			                                "ValueError: boom at line 6", "printed before the end" };

		follow(&f, "boom");
		free(until_line(&f, said[i]));
		unfollow(&f);
	}
	json_decref(lvd_wait(&d, "gone:0", "failed", 0));
	w = lvd_worker(&d, "gone:0");
	ck_assert_msg(strstr(JSTR(w, "last_error"), "ModuleNotFoundError: No module named "
	                                          "'nosuchmodule'"), "%s", JSTR(w, "last_error"));
	json_decref(w);
}
END_TEST

/* time.sleep in a coroutine blocks the asyncio loop, which is what sends the heartbeats:
 * past hang_timeout_ms the worker is aborted, faulthandler writes where it was, and it is
 * started again. */
START_TEST(a_blocked_loop_is_dumped_and_restarted)
{
	json_t *w;
	struct follower f;
	char *line;

	/* "slow" blocks its loop 0.5 s once: lag (at least that less a 100 ms period), no hang */
	app("stuck", "import asyncio, time\n"
	             "async def main(ctx):\n"
	             "    await asyncio.sleep(0.5)\n"
	             "    time.sleep(3600 if ctx.pool == 'stuck' else 0.5)  # the loop stops here\n"
	             "    await asyncio.sleep(0.3)\n"
	             "    ctx.log('info', 'slept')\n"
	             "    await ctx.stopping.wait()\n");
	lvd_start(&d, "{\"pools\":[{\"name\":\"stuck\",\"heartbeat_ms\":100,\"hang_timeout_ms\":1000,"
	              "\"python\":{\"app\":\"stuck:main\",\"path\":[\"%s\"]}},{\"name\":\"slow\","
	              "\"heartbeat_ms\":100,\"hang_timeout_ms\":1000,\"python\":{\"app\":\"stuck:main\","
	              "\"path\":[\"%s\"]}}]}", dir, dir);
	follow(&f, "slow");
	free(until_line(&f, "slept")); /* after the heartbeat that came late */
	unfollow(&f);
	w = lvd_worker(&d, "slow:0");
	ck_assert_int_ge(JINT(json_object_get(w, "loop"), "lag_max_us"), 350000);
	ck_assert_int_eq(JINT(w, "restarts"), 0);
	json_decref(w);
	json_decref(lvd_wait(&d, "stuck:0", "[\"starting\",\"running\",\"backoff\"]", 1));
	w = lvd_worker(&d, "stuck:0");
	ck_assert_msg(strstr(JSTR(w, "last_error"), "hung: no heartbeat"), "%s", JSTR(w, "last_error"));
	ck_assert_str_eq(JSTR(w, "last_end"), "hang");
	json_decref(w);
	follow(&f, "stuck");
	line = until_line(&f, "stuck.py\", line 6 in main");
	ck_assert_msg(strstr(line, "File \""), "%s", line);
	free(line);
	unfollow(&f);
}
END_TEST

/* python.venv's site-packages and python.path are importable; a pool's user runs it. */
START_TEST(path_and_venv_are_importable)
{
	char site[160], file[200];
	struct follower f;
	char *line;
	FILE *out;

	/* the layout a venv of the embedded CPython has */
	const char *parts[] = { "venv", "lib", "python" LV_PYTHON_VERSION, "site-packages" };

	snprintf(site, sizeof site, "%s", dir);
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
		snprintf(site + strlen(site), sizeof site - strlen(site), "/%s", parts[i]);
		ck_assert_int_eq(mkdir(site, 0755), 0);
	}
	snprintf(file, sizeof file, "%s/fromvenv.py", site);
	ck_assert_ptr_nonnull(out = fopen(file, "w"));
	fputs("WHERE = 'venv'\n", out);
	ck_assert_int_eq(fclose(out), 0);
	app("withvenv", "import fromvenv, os\n"
	                "async def main(ctx):\n"
	                "    ctx.log('info', f'imported from {fromvenv.WHERE} as uid {os.getuid()}')\n"
	                "    await ctx.stopping.wait()\n");
	lvd_start(&d, "{\"pools\":[{\"name\":\"v\",\"user\":\"nobody\",\"python\":{\"app\":"
	              "\"withvenv:main\",\"path\":[\"%s\"],\"venv\":\"%s/venv\"}}]}", dir, dir);
	follow(&f, "v");
	line = until_line(&f, "imported from");
	snprintf(file, sizeof file, "imported from venv as uid %u", (unsigned)getpwnam("nobody")->pw_uid);
	ck_assert_str_eq(line, file);
	free(line);
	unfollow(&f);
}
END_TEST

/* What an app may do to the daemon through the host: a log flood is throttled, then the
 * worker evicted; the host's own functions called with anything but their capsule raise,
 * they never crash the worker. Others carry on. */
START_TEST(a_hostile_app_is_evicted_or_refused)
{
	json_t *w;

	app("hostile", "import asyncio, _loopvisor as lv\n"
	               "async def main(ctx):\n"
	               "    if ctx.pool == 'forger':\n"
	               "        lv.beat(42)\n"
	               "    while True:\n"
	               "        ctx.log('info', 'x' * 200)\n"
	               "        await asyncio.sleep(0)\n");
	lvd_start(&d, "{\"pools\":[{\"name\":\"flood\",\"restart\":\"never\",\"python\":{\"app\":"
	              "\"hostile:main\",\"path\":[\"%s\"]}},{\"name\":\"forger\",\"restart\":\"never\","
	              "\"python\":{\"app\":\"hostile:main\",\"path\":[\"%s\"]}},"
	              "{\"name\":\"calm\",\"module\":\"ticker\"}]}", dir, dir);
	json_decref(lvd_wait(&d, "forger:0", "failed", 0));
	w = lvd_worker(&d, "forger:0");
	ck_assert_int_eq(JINT(json_object_get(w, "last_exit"), "code"), 1); /* raised, no crash */
	json_decref(w);
	json_decref(lvd_wait(&d, "flood:0", "failed", 0));
	w = lvd_worker(&d, "flood:0");
	ck_assert_msg(strstr(JSTR(w, "last_error"), "flooding its channel"), "%s",
	              JSTR(w, "last_error"));
	json_decref(w);
	w = lvd_worker(&d, "calm:0");
	ck_assert_str_eq(JSTR(w, "state"), "running");
	ck_assert_int_eq(JINT(w, "restarts"), 0);
	json_decref(w);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("python");
	TCase *tc = tcase_create("python");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, a_coroutine_app_gets_its_context);
	tcase_add_test(tc, each_loop_has_its_own_loop_and_epoll);
	tcase_add_test(tc, a_stop_lets_main_finish_or_cancels_it);
	tcase_add_test(tc, an_exception_in_main_is_a_failure_with_its_traceback);
	tcase_add_test(tc, a_blocked_loop_is_dumped_and_restarted);
	tcase_add_test(tc, a_hostile_app_is_evicted_or_refused);
	tcase_add_test(tc, path_and_venv_are_importable);
	suite_add_tcase(su, tc);
	return lvd_run_suite(su);
}
