/* httpd: the smallest HTTP server a probe can ask, for the probe_load scenario of
 * bench/run.py: 1,000 of them, one per worker, cost about 1 MiB each (python3's http.server
 * would take 10). One connection at a time, kept alive as HTTP/1.1 keeps it: it reads each
 * request head (until the blank line, 4 KiB), answers "200 OK" with the body "ok\n", and
 * closes once the client does or is silent for 5 s.
 *
 *   lvbench_httpd PORT      listens on 127.0.0.1:PORT until killed
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                             "Content-Length: 3\r\n\r\nok\n";

static void serve(int c)
{
	struct timeval tv = { .tv_sec = 5 };
	char head[4096];
	size_t got = 0;

	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	for (;;) {
		char *end;
		ssize_t n = read(c, head + got, sizeof head - 1 - got);

		if (n <= 0)
			return; /* gone, or silent for 5 s */
		got += (size_t)n;
		head[got] = '\0';
		while ((end = strstr(head, "\r\n\r\n"))) { /* a whole request head: answer it */
			size_t used = (size_t)(end + 4 - head);

			if (write(c, answer, sizeof answer - 1) < 0)
				return;
			memmove(head, head + used, got - used + 1);
			got -= used;
		}
		if (got == sizeof head - 1)
			return; /* a head over 4 KiB */
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, s;
	long port;

	if (argc != 2 || (port = strtol(argv[1], NULL, 10)) < 1 || port > 65535) {
		fprintf(stderr, "usage: lvbench_httpd PORT\n");
		return 2;
	}
	sa.sin_port = htons((unsigned short)port);
	if ((s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(s, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(s, 64) < 0) {
		fprintf(stderr, "lvbench_httpd: 127.0.0.1:%ld: %s\n", port, strerror(errno));
		return 1;
	}
	for (;;) {
		int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);

		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			fprintf(stderr, "lvbench_httpd: accept: %s\n", strerror(errno));
			return 1;
		}
		serve(c);
		close(c);
	}
}
