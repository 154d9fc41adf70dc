/* test_python_serve: Python apps serving HTTP on the pool's shared listen socket
 * (docs/python.md): an ASGI app under uvicorn ("python": {"asgi": ...}) and an aiohttp app
 * on ctx.sockets, each with two workers under a load of back-to-back requests while one
 * worker is killed with SIGKILL and then the pool is restarted one worker at a time: not
 * one connection is refused (the daemon holds the socket), every worker serves again. */
#include <check.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

static struct lvd d;
static char dir[64];

static void setup(void)
{
	make_temp_dir(dir, sizeof dir, "python-serve");
}

static void teardown(void)
{
	lvd_stop(&d);
	remove_tree(dir);
}

static void app(const char *name, const char *body)
{
	write_python(dir, name, "", body);
}

/* Back-to-back GETs on a loopback port, in a thread, until told to stop: answered, refused
 * (ECONNREFUSED: nobody held the socket), or cut (a worker died with the connection). */
struct load {
	int port;
	volatile int stop;
	unsigned ok, refused, cut;
	pthread_t thread;
};

static void *load_run(void *arg)
{
	struct load *l = arg;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)l->port),
		                      .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	static const char req[] = "GET / HTTP/1.0\r\n\r\n";

	while (!l->stop) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		char buf[1024];
		ssize_t n, total = 0;

		if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
			l->refused += errno == ECONNREFUSED;
			close(fd);
			continue;
		}
		if (write(fd, req, sizeof req - 1) == (ssize_t)sizeof req - 1)
			while (total < (ssize_t)sizeof buf - 1 &&
			       (n = read(fd, buf + total, sizeof buf - 1 - (size_t)total)) > 0)
				total += n;
		buf[total] = '\0';
		if (strstr(buf, " 200 ") && strstr(buf, "served by"))
			l->ok++;
		else
			l->cut++;
		close(fd);
	}
	return NULL;
}

/* The pool serves under load through a SIGKILL of worker 0 and a rolling restart. */
static void serve_through_kill_and_roll(const char *pool, int port)
{
	struct load l = { .port = port };
	char target[64];
	json_t *r;

	ck_assert_int_eq(pthread_create(&l.thread, NULL, load_run, &l), 0);
	snprintf(target, sizeof target, "%s:0", pool);
	json_decref(lvd_call(&d, "signal", "{\"target\":\"%s\",\"signal\":\"KILL\"}", target));
	json_decref(lvd_wait(&d, target, "running", 1));
	r = lvd_call(&d, "restart", "{\"target\":\"%s\",\"rolling\":true}", pool);
	ck_assert_int_eq(json_array_size(json_object_get(r, "workers")), 2);
	json_decref(r);
	l.stop = 1;
	pthread_join(l.thread, NULL);
	printf("%s: %u answered, %u refused, %u cut through a SIGKILL and a rolling restart\n",
	       pool, l.ok, l.refused, l.cut);
	ck_assert_uint_eq(l.refused, 0);
	ck_assert_uint_gt(l.ok, 0);
}

START_TEST(an_asgi_app_under_uvicorn_refuses_no_connection)
{
	int port = free_port();
	json_t *st, *w;
	size_t i;

	app("asgiapp", "import os\n"
	               "async def app(scope, receive, send):\n"
	               "    if scope['type'] == 'lifespan':\n"
	               "        while True:\n"
	               "            msg = await receive()\n"
	               "            await send({'type': msg['type'] + '.complete'})\n"
	               "            if msg['type'] == 'lifespan.shutdown':\n"
	               "                return\n"
	               "    body = f'served by {os.getpid()}'.encode()\n"
	               "    await send({'type': 'http.response.start', 'status': 200,\n"
	               "                'headers': [(b'content-type', b'text/plain')]})\n"
	               "    await send({'type': 'http.response.body', 'body': body})\n");
	/* running means uvicorn listens: lvd_start waits for it */
	lvd_start(&d, "{\"pools\":[{\"name\":\"asgi\",\"workers\":2,\"listen\":[\"tcp:127.0.0.1:%d\"],"
	              "\"python\":{\"asgi\":\"asgiapp:app\",\"path\":[\"%s\"]}}]}", port, dir);
	serve_through_kill_and_roll("asgi", port);
	st = lvd_call(&d, "status", NULL);
	json_array_foreach(json_object_get(st, "workers"), i, w)
		ck_assert_str_eq(JSTR(w, "state"), "running");
	json_decref(st);
}
END_TEST

START_TEST(an_aiohttp_app_refuses_no_connection)
{
	int port = free_port();

	app("aioapp", "import os\n"
	              "from aiohttp import web\n"
	              "async def hello(request):\n"
	              "    return web.Response(text=f'served by {os.getpid()}')\n"
	              "async def main(ctx):\n"
	              "    app = web.Application()\n"
	              "    app.router.add_get('/', hello)\n"
	              "    runner = web.AppRunner(app)\n"
	              "    await runner.setup()\n"
	              "    await web.SockSite(runner, ctx.sockets[0]).start()\n"
	              "    ctx.ready()\n"
	              "    await ctx.stopping.wait()\n"
	              "    await runner.cleanup()\n");
	lvd_start(&d, "{\"pools\":[{\"name\":\"aio\",\"workers\":2,\"listen\":[\"tcp:127.0.0.1:%d\"],"
	              "\"ready\":\"notify\",\"python\":{\"app\":\"aioapp:main\",\"path\":[\"%s\"]}}]}",
	          port, dir);
	serve_through_kill_and_roll("aio", port);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("python_serve");
	TCase *tc = tcase_create("serve");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, an_asgi_app_under_uvicorn_refuses_no_connection);
	tcase_add_test(tc, an_aiohttp_app_refuses_no_connection);
	suite_add_tcase(su, tc);
	return lvd_run_suite(su);
}
