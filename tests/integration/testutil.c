/* testutil: process, file and port helpers the integration tests share; nothing here knows
 * about loopvisord (harness.c does). */
#include "testutil.h"

#include <check.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int test_ms(int ms)
{
	const char *m = getenv("CK_TIMEOUT_MULTIPLIER");
	int k = m ? atoi(m) : 1;

	return k > 1 ? ms * k : ms;
}

char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *data = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	for (size_t cap = 0;;) {
		size_t n;

		if (len + 4097 > cap) {
			char *grown = realloc(data, cap = cap ? cap * 2 : 65536);
			if (!grown)
				break;
			data = grown;
		}
		n = fread(data + len, 1, cap - len - 1, f);
		len += n;
		data[len] = '\0';
		if (n == 0)
			break;
	}
	fclose(f);
	return data;
}

bool pid_gone_within(pid_t pid, int timeout_ms)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	struct pollfd pfd;
	bool gone;

	if (fd < 0)
		return errno == ESRCH;
	pfd.fd = fd;
	pfd.events = POLLIN;
	gone = poll(&pfd, 1, test_ms(timeout_ms)) == 1;
	close(fd);
	return gone;
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool until_changed(const char *path, bool (*done)(void *arg), void *arg, int timeout_ms)
{
	int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	long long end = mono_ms() + test_ms(timeout_ms);
	char events[4096];
	bool ok;

	ck_assert_msg(fd >= 0, "inotify_init1: %s", strerror(errno));
	ck_assert_msg(inotify_add_watch(fd, path, IN_CREATE | IN_MODIFY | IN_MOVED_TO) >= 0,
	              "inotify_add_watch %s: %s", path, strerror(errno));
	while (!(ok = done(arg))) { /* watched first: no change between the check and the wait */
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = end - mono_ms();

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		while (read(fd, events, sizeof events) > 0)
			continue;
	}
	close(fd);
	return ok || done(arg);
}

static void read_all(int fd, char *buf, size_t len)
{
	size_t n = 0;
	ssize_t r;

	while (n < len - 1 && (r = read(fd, buf + n, len - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
}

int run_program(const char *const argv[], char *out, size_t out_len, char *err, size_t err_len)
{
	int po[2], pe[2], status;
	pid_t pid;

	ck_assert_int_eq(pipe(po), 0);
	ck_assert_int_eq(pipe(pe), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		dup2(null, 0);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	read_all(po[0], out, out_len); /* outputs are small: stderr cannot fill up meanwhile */
	read_all(pe[0], err, err_len);
	close(po[0]);
	close(pe[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

bool group_gone_within(pid_t pgid, int timeout_ms)
{
	DIR *proc = opendir("/proc");
	struct dirent *e;
	bool gone = true;

	ck_assert_ptr_nonnull(proc);
	while ((e = readdir(proc)) != NULL) {
		char path[300], *stat, *p;
		int pgrp = 0;
		pid_t pid = (pid_t)atoi(e->d_name);

		if (pid <= 0)
			continue;
		snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
		if (!(stat = slurp(path)))
			continue;
		/* after "(comm)": state ppid pgrp */
		p = strrchr(stat, ')');
		if (p && sscanf(p + 2, "%*c %*d %d", &pgrp) == 1 && pgrp == pgid)
			gone &= pid_gone_within(pid, timeout_ms);
		free(stat);
	}
	closedir(proc);
	return gone;
}

int free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sin;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port;

	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

int count_fds(pid_t pid)
{
	char path[64];
	struct dirent *e;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	if (!(dir = opendir(path)))
		return -1;
	while ((e = readdir(dir)))
		n += e->d_name[0] != '.';
	closedir(dir);
	return n;
}

long proc_status_value(pid_t pid, const char *field)
{
	char path[64], *text, *p;
	long v = -1;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if ((text = slurp(path)) && (p = strstr(text, field)))
		v = atol(p + strlen(field));
	free(text);
	return v;
}

bool skip_unless_root(const char *what)
{
	if (geteuid() == 0)
		return false;
	printf("skipped: %s: needs root to make users and run workers as them\n", what);
	fflush(stdout);
	return true;
}

void ensure_user(const char *name)
{
	char cmd[256];

	snprintf(cmd, sizeof cmd, "id %s >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin %s",
	         name, name);
	ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
}

/* GET /metrics from the daemon's Unix listener at path: the whole answer. */
char *scrape_metrics(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
	char *text = calloc(1, 1 << 20);
	size_t len = 0;
	ssize_t n;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_ptr_nonnull(text);
	ck_assert_int_lt(snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path), (int)sizeof sa.sun_path);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(write(fd, req, sizeof req - 1), (ssize_t)sizeof req - 1);
	while (len < (1 << 20) - 1 && (n = read(fd, text + len, (1 << 20) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	return text;
}

void make_temp_dir(char *dir, size_t len, const char *name)
{
	int fd;

	snprintf(dir, len, "/tmp/lv-%s.XXXXXX", name);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	/* readable by the pools' users: the folder mkdtemp made, never what a name points at */
	ck_assert_int_ge(fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), 0);
	ck_assert_int_eq(fchmod(fd, 0755), 0);
	close(fd);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void remove_tree(const char *dir)
{
	if (dir[0])
		nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void write_python(const char *dir, const char *name, const char *header, const char *body)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s.py", dir, name);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fprintf(f, "%s%s", header, body);
	ck_assert_int_eq(fclose(f), 0);
}
