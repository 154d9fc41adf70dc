/* listen: turns a listen address from the config into a bound, listening socket. The
 * sockets stay blocking: non-blocking is a property of the shared open file, left to the
 * workers that accept on it. */
#include "daemon/proc/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/lib/sockfile.h"

#define BACKLOG 4096

static int fail(char *err, size_t errlen, const char *spec, int fd)
{
	snprintf(err, errlen, "%s: %s", spec, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static int open_tcp(const char *spec, char *err, size_t errlen)
{
	const char *hp = spec + 4, *colon;
	char host[64];
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int fd, one = 1;
	unsigned port;

	if (hp[0] == '[') {
		const char *close_br = strchr(hp, ']');
		snprintf(host, sizeof host, "%.*s", (int)(close_br - hp - 1), hp + 1);
		colon = close_br + 1;
	} else {
		colon = strrchr(hp, ':');
		snprintf(host, sizeof host, "%.*s", (int)(colon - hp), hp);
	}
	port = (unsigned)atoi(colon + 1);
	if (hp[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		len = sizeof *s6;
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return errno = EINVAL, fail(err, errlen, spec, -1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		len = sizeof *s4;
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return errno = EINVAL, fail(err, errlen, spec, -1);
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return fail(err, errlen, spec, -1);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, BACKLOG) < 0)
		return fail(err, errlen, spec, fd);
	return fd;
}

/* The socket file may be in a folder its pool's user owns: it is born with mode 0666
 * (umask around bind) and nothing touches it by name afterwards. */
static int open_unix(const char *spec, char *err, size_t errlen)
{
	const struct lv_sockfile_opts o = { .mode = 0666, .group = (gid_t)-1, .backlog = BACKLOG };

	return lv_sockfile_listen(spec + 5, &o, NULL, err, errlen);
}

int listen_open(const char *spec, char *err, size_t errlen)
{
	if (!strncmp(spec, "tcp:", 4))
		return open_tcp(spec, err, errlen);
	if (!strncmp(spec, "unix:", 5))
		return open_unix(spec, err, errlen);
	errno = EINVAL;
	return fail(err, errlen, spec, -1);
}
