/* test_signame: signal names to numbers and back ("TERM", "SIGTERM", "15"), case rules,
 * range limits, and that every name the config documents round-trips. */
#include <check.h>

#include "check_run.h"
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "config/signame.h"

static const struct { int sig; const char *name; } documented[] = {
	{ SIGHUP, "HUP" }, { SIGINT, "INT" }, { SIGQUIT, "QUIT" }, { SIGILL, "ILL" },
	{ SIGTRAP, "TRAP" }, { SIGABRT, "ABRT" }, { SIGBUS, "BUS" }, { SIGFPE, "FPE" },
	{ SIGKILL, "KILL" }, { SIGUSR1, "USR1" }, { SIGSEGV, "SEGV" }, { SIGUSR2, "USR2" },
	{ SIGPIPE, "PIPE" }, { SIGALRM, "ALRM" }, { SIGTERM, "TERM" }, { SIGCHLD, "CHLD" },
	{ SIGCONT, "CONT" }, { SIGSTOP, "STOP" }, { SIGTSTP, "TSTP" }, { SIGTTIN, "TTIN" },
	{ SIGTTOU, "TTOU" }, { SIGURG, "URG" }, { SIGXCPU, "XCPU" }, { SIGXFSZ, "XFSZ" },
	{ SIGVTALRM, "VTALRM" }, { SIGPROF, "PROF" }, { SIGWINCH, "WINCH" }, { SIGIO, "IO" },
	{ SIGPWR, "PWR" }, { SIGSYS, "SYS" },
};

START_TEST(every_documented_name_round_trips)
{
	for (size_t i = 0; i < sizeof documented / sizeof documented[0]; i++) {
		char sig_name[32], lower[32];
		size_t k;

		snprintf(sig_name, sizeof sig_name, "SIG%s", documented[i].name);
		for (k = 0; documented[i].name[k]; k++)
			lower[k] = (char)tolower((unsigned char)documented[i].name[k]);
		lower[k] = '\0';
		ck_assert_str_eq(lv_signal_name(documented[i].sig), documented[i].name);
		ck_assert_int_eq(lv_signal_from_name(documented[i].name), documented[i].sig);
		ck_assert_int_eq(lv_signal_from_name(sig_name), documented[i].sig);
		ck_assert_int_eq(lv_signal_from_name(lower), documented[i].sig);
	}
	for (int s = 1; s <= 64; s++)
		if (lv_signal_name(s))
			ck_assert_int_eq(lv_signal_from_name(lv_signal_name(s)), s);
}
END_TEST

START_TEST(names_any_case_with_or_without_sig)
{
	ck_assert_int_eq(lv_signal_from_name("TERM"), SIGTERM);
	ck_assert_int_eq(lv_signal_from_name("sigterm"), SIGTERM);
	ck_assert_int_eq(lv_signal_from_name("SigHup"), SIGHUP);
	ck_assert_int_eq(lv_signal_from_name("SIGHUP"), SIGHUP);
	ck_assert_int_eq(lv_signal_from_name("int"), SIGINT);
	ck_assert_int_eq(lv_signal_from_name("KILL"), SIGKILL);
}
END_TEST

START_TEST(numbers_from_1_to_64)
{
	ck_assert_int_eq(lv_signal_from_name("1"), 1);
	ck_assert_int_eq(lv_signal_from_name("9"), SIGKILL);
	ck_assert_int_eq(lv_signal_from_name("15"), SIGTERM);
	ck_assert_int_eq(lv_signal_from_name("64"), 64);
	ck_assert_int_eq(lv_signal_from_name("0"), -1);
	ck_assert_int_eq(lv_signal_from_name("65"), -1);
	ck_assert_int_eq(lv_signal_from_name("-9"), -1);
	ck_assert_int_eq(lv_signal_from_name("+9"), -1);
	ck_assert_int_eq(lv_signal_from_name("9x"), -1);
	ck_assert_int_eq(lv_signal_from_name("99999999999999999999"), -1);
}
END_TEST

START_TEST(unknown_is_minus_one_or_null)
{
	ck_assert_int_eq(lv_signal_from_name("NOPE"), -1);
	ck_assert_int_eq(lv_signal_from_name("BOGUS"), -1);
	ck_assert_int_eq(lv_signal_from_name("SIG"), -1);
	ck_assert_int_eq(lv_signal_from_name("SIGSIGTERM"), -1);
	ck_assert_int_eq(lv_signal_from_name("TERM "), -1);
	ck_assert_int_eq(lv_signal_from_name(""), -1);
	ck_assert_int_eq(lv_signal_from_name(NULL), -1);
	ck_assert_ptr_null(lv_signal_name(0));
	ck_assert_ptr_null(lv_signal_name(-1));
	ck_assert_ptr_null(lv_signal_name(40));
	ck_assert_ptr_null(lv_signal_name(65));
}
END_TEST

int main(void)
{
	Suite *su = suite_create("signame");
	TCase *tc = tcase_create("lookup");

	tcase_add_test(tc, every_documented_name_round_trips);
	tcase_add_test(tc, names_any_case_with_or_without_sig);
	tcase_add_test(tc, numbers_from_1_to_64);
	tcase_add_test(tc, unknown_is_minus_one_or_null);
	suite_add_tcase(su, tc);
	return lv_check_run(su);
}
