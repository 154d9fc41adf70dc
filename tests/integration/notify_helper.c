/* notify_helper: an exec worker for the notify tests that misbehaves on command.
 *   notify_helper forge FILE   forks a child that joins the process group of the pid written
 *       in FILE (a victim worker) and sends READY=1, STATUS=forged and WATCHDOG=1 from there;
 *       once the child is gone it says READY=1 and STATUS=setpgid:RESULT itself, and sleeps.
 *   notify_helper flood MS     says READY=1, then sends datagrams to $NOTIFY_SOCKET as fast as
 *       the socket takes them for MS milliseconds, then exits 0.
 *   notify_helper ready TEXT   says READY=1 and STATUS=TEXT, and sleeps: its environment is
 *       the worker's own from the start, never replaced by a later exec.
 *   notify_helper last TEXT    says READY=1 and STATUS=up, waits for SIGTERM, then says
 *       STATUS=TEXT and STOPPING=1 and exits 0 at once, as redis-server does.
 *   notify_helper fds N        sends N datagrams that each pass 8 descriptors (of /dev/null),
 *       then says READY=1, and sleeps. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A datagram socket connected to $NOTIFY_SOCKET (a path, or @ for the abstract namespace). */
static int connect_notify(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd;

	if (!path || !*path || strlen(path) >= sizeof sun.sun_path) {
		fprintf(stderr, "notify_helper: no usable NOTIFY_SOCKET\n");
		exit(2);
	}
	memcpy(sun.sun_path, path, strlen(path));
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + (path[0] != '@'));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, len) < 0) {
		fprintf(stderr, "notify_helper: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	return fd;
}

static void say(const char *text)
{
	int fd = connect_notify();

	if (send(fd, text, strlen(text), 0) < 0)
		fprintf(stderr, "notify_helper: send: %s\n", strerror(errno));
	close(fd);
}

static _Noreturn void sleep_forever(void)
{
	for (;;)
		pause();
}

static int forge(const char *file)
{
	FILE *f = fopen(file, "r");
	int victim = 0, status, rc;
	char text[64];
	pid_t child;

	if (!f || fscanf(f, "%d", &victim) != 1 || victim <= 0) {
		fprintf(stderr, "notify_helper: no victim pid in %s\n", file);
		return 2;
	}
	fclose(f);
	child = fork();
	if (child == 0) {
		/* into the victim's process group: allowed if it is in our session */
		rc = setpgid(0, victim) == 0 ? 0 : errno;
		say("READY=1\nSTATUS=forged\nWATCHDOG=1");
		_exit(rc);
	}
	if (child < 0 || waitpid(child, &status, 0) < 0 || !WIFEXITED(status))
		return 3;
	snprintf(text, sizeof text, "READY=1\nSTATUS=setpgid:%s",
	         WEXITSTATUS(status) ? strerror(WEXITSTATUS(status)) : "joined");
	say(text);
	sleep_forever();
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int flood(long long ms)
{
	int fd = connect_notify();
	long long end = now_ms() + ms, sent = 0;

	say("READY=1");
	while (now_ms() < end) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };

		if (send(fd, "STATUS=flood", 12, MSG_DONTWAIT) == 12)
			sent++;
		else if (errno == EAGAIN)
			poll(&p, 1, 10); /* the daemon reads no more this second */
		else
			break;
	}
	close(fd);
	printf("notify_helper: %lld datagrams sent in %lld ms\n", sent, ms);
	return 0;
}

static int ready(const char *status)
{
	char text[256];

	snprintf(text, sizeof text, "READY=1\nSTATUS=%s", status);
	say(text);
	sleep_forever();
}

static int last_words(const char *status)
{
	char text[256];
	sigset_t term;
	int sig;

	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, NULL);
	say("READY=1\nSTATUS=up");
	while (sigwait(&term, &sig) != 0)
		;
	snprintf(text, sizeof text, "STATUS=%s\nSTOPPING=1", status);
	say(text);
	return 0;
}

static int pass_fds(int n)
{
	int fd = connect_notify(), nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int fds[8];
	union { struct cmsghdr h; char b[CMSG_SPACE(sizeof fds)]; } ctl;

	if (nul < 0)
		return 3;
	for (int i = 0; i < 8; i++)
		fds[i] = nul;
	for (int i = 0; i < n; i++) {
		char text[32];
		struct iovec iov = { text, (size_t)snprintf(text, sizeof text, "STATUS=fds %d", i) };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
		                      .msg_controllen = sizeof ctl.b };
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof fds);
		memcpy(CMSG_DATA(c), fds, sizeof fds);
		if (sendmsg(fd, &msg, 0) < 0) {
			fprintf(stderr, "notify_helper: sendmsg: %s\n", strerror(errno));
			return 4;
		}
	}
	close(fd);
	say("READY=1\nSTATUS=fds sent");
	sleep_forever();
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "forge"))
		return forge(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "flood"))
		return flood(atoll(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "ready"))
		return ready(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "last"))
		return last_words(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "fds"))
		return pass_fds(atoi(argv[2]));
	fprintf(stderr, "usage: notify_helper forge FILE | flood MS | ready STATUS | last STATUS | fds N\n");
	return 2;
}
