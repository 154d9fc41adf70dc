/* signame: a fixed table of Linux signal names, so configs, commands and status can say
 * "TERM" instead of 15; no strsignal, whose text is for humans and changes with locale. */
#include "config/signame.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct { int sig; const char *name; } table[] = {
	{ SIGHUP, "HUP" }, { SIGINT, "INT" }, { SIGQUIT, "QUIT" }, { SIGILL, "ILL" },
	{ SIGTRAP, "TRAP" }, { SIGABRT, "ABRT" }, { SIGBUS, "BUS" }, { SIGFPE, "FPE" },
	{ SIGKILL, "KILL" }, { SIGUSR1, "USR1" }, { SIGSEGV, "SEGV" }, { SIGUSR2, "USR2" },
	{ SIGPIPE, "PIPE" }, { SIGALRM, "ALRM" }, { SIGTERM, "TERM" }, { SIGSTKFLT, "STKFLT" },
	{ SIGCHLD, "CHLD" }, { SIGCONT, "CONT" }, { SIGSTOP, "STOP" }, { SIGTSTP, "TSTP" },
	{ SIGTTIN, "TTIN" }, { SIGTTOU, "TTOU" }, { SIGURG, "URG" }, { SIGXCPU, "XCPU" },
	{ SIGXFSZ, "XFSZ" }, { SIGVTALRM, "VTALRM" }, { SIGPROF, "PROF" }, { SIGWINCH, "WINCH" },
	{ SIGIO, "IO" }, { SIGPWR, "PWR" }, { SIGSYS, "SYS" },
};

#define N_SIGNALS (sizeof table / sizeof table[0])

int lv_signal_from_name(const char *name)
{
	char *end;
	long n;

	if (!name || !*name)
		return -1;
	if (name[0] >= '0' && name[0] <= '9') {
		n = strtol(name, &end, 10);
		return *end == '\0' && n >= 1 && n <= 64 ? (int)n : -1;
	}
	if (strncasecmp(name, "SIG", 3) == 0)
		name += 3;
	for (size_t i = 0; i < N_SIGNALS; i++)
		if (strcasecmp(table[i].name, name) == 0)
			return table[i].sig;
	return -1;
}

const char *lv_signal_name(int sig)
{
	for (size_t i = 0; i < N_SIGNALS; i++)
		if (table[i].sig == sig)
			return table[i].name;
	return NULL;
}
