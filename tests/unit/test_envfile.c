/* test_envfile: systemd EnvironmentFile= syntax as env_file reads it, and the file checks
 * (optional files, FIFOs, size). */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_run.h"
#include "config/envfile.h"
#include "daemon/lib/strv.h"

static char why[512];

/* Parses text and returns its entries joined by '|'. */
static char *parse(const char *text)
{
	char **vars = NULL, *out = calloc(1, 4096);
	size_t n = 0;

	ck_assert_msg(lv_envfile_parse(text, strlen(text), &vars, &n, why, sizeof why) == 0,
	              "%s", why);
	ck_assert_uint_eq(n, lv_strv_len(vars));
	for (size_t i = 0; i < n; i++) {
		strcat(out, vars[i]);
		if (i + 1 < n)
			strcat(out, "|");
	}
	lv_strv_free(vars);
	return out;
}

static void parsed(const char *text, const char *want)
{
	char *got = parse(text);

	ck_assert_str_eq(got, want);
	free(got);
}

static void refused(const char *text, const char *message)
{
	char **vars = NULL;
	size_t n = 0;

	ck_assert_int_eq(lv_envfile_parse(text, strlen(text), &vars, &n, why, sizeof why), -1);
	lv_strv_free(vars);
	ck_assert_str_eq(why, message);
}

/* The example env file of docs/config.md, as the reader sees it there. */
START_TEST(the_example_in_the_docs)
{
	const char *src = getenv("LV_SOURCE_DIR");
	char path[4096], *doc, *start, *end;
	FILE *f;
	long len;

	snprintf(path, sizeof path, "%s/docs/config.md", src ? src : ".");
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	doc = calloc(1, (size_t)len + 1);
	ck_assert_uint_eq(fread(doc, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	ck_assert_ptr_nonnull(start = strstr(doc, "### env_file"));
	ck_assert_ptr_nonnull(start = strstr(start, "```sh\n"));
	start += 6;
	ck_assert_ptr_nonnull(end = strstr(start, "```"));
	*end = '\0';
	parsed(start, "PLAIN=value with spaces and a # that is part of it|"
	              "SINGLE=kept as is: $HOME \\n|"
	              "DOUBLE=a \"quote\", a \\ and a $; other backslashes stay|"
	              "MULTI=a value over\ntwo lines|LONG=first second");
	free(doc);
}
END_TEST

START_TEST(syntax)
{
	parsed("", "");
	parsed("A=1\nB=two words\n", "A=1|B=two words");
	parsed("# comment\n; also\n\n   \nA=1", "A=1");
	parsed("  A = x  \n", "A=x");
	parsed("A=\nB=", "A=|B=");
	parsed("A='single $HOME \\n'\n", "A=single $HOME \\n");
	parsed("A=\"dq \\\"q\\\" \\\\ \\$ \\n\"\n", "A=dq \"q\" \\ $ \\n");
	parsed("A=\"multi\nline\"\nB=2", "A=multi\nline|B=2");
	parsed("A=one\\\ntwo\nB=3", "A=onetwo|B=3");
	parsed("A=\"one\\\ntwo\"", "A=onetwo");
	parsed("A=bare\\ escaped\\#x #not-a-comment", "A=bare escaped#x #not-a-comment");
	parsed("A=' kept '  \n", "A= kept ");
	parsed("A=x\\ \n", "A=x ");
	parsed("A=1\r\nB=2\r\n", "A=1|B=2");
	parsed("A=1\nA=2", "A=1|A=2"); /* the last one wins in the worker */
	parsed("_x9=a=b", "_x9=a=b");
}
END_TEST

#define NOT_KV "not KEY=VALUE (a KEY is letters, digits and _, not starting with a digit)"

START_TEST(mistakes)
{
	refused("A=1\nnot an assignment\n", "line 2: " NOT_KV);
	refused("9A=1", "line 1: " NOT_KV);
	refused("export A=1", "line 1: " NOT_KV);
	refused("=1", "line 1: " NOT_KV);
	refused("A=1\nB='open\n", "line 2: unclosed '");
	refused("A=\"open", "line 1: unclosed \"");
}
END_TEST

START_TEST(bounds)
{
	char *text = malloc(LV_ENVFILE_MAX_VARS * 4 + 8), key[300];
	size_t len = 0;

	for (int i = 0; i <= LV_ENVFILE_MAX_VARS; i++)
		len += (size_t)sprintf(text + len, "A=\n");
	refused(text, "line 4097: more than 4096 variables");
	free(text);
	memset(key, 'K', 256);
	strcpy(key + 256, "=v");
	refused(key, "line 1: name longer than 255");
	{
		char **vars = NULL;
		size_t n = 0;

		ck_assert_int_eq(lv_envfile_parse("A=1\nB\0=2", 7, &vars, &n, why, sizeof why), -1);
		ck_assert_str_eq(why, "line 2: contains a NUL byte");
		ck_assert_ptr_null(vars);
	}
	/* values travel as JSON to the zygotes: not UTF-8 would be dropped there, silently */
	refused("A=1\nB=caf\xe9\n", "line 2: not valid UTF-8");
	refused("A=\xc0\xaf", "line 1: not valid UTF-8");      /* overlong / */
	refused("A=\xed\xa0\x80", "line 1: not valid UTF-8");  /* a surrogate */
	refused("A=\xf4\x90\x80\x80", "line 1: not valid UTF-8"); /* past U+10FFFF */
	parsed("A=caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	       "A=caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
}
END_TEST

START_TEST(files)
{
	char dir[] = "/tmp/lvenvf.XXXXXX", path[64], opt[72], fifo[64], big[64], **vars = NULL;
	size_t n = 0;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/app.env", dir);
	snprintf(opt, sizeof opt, "-%s/missing.env", dir);
	snprintf(fifo, sizeof fifo, "%s/fifo", dir);
	snprintf(big, sizeof big, "%s/big", dir);
	f = fopen(path, "w");
	fputs("A=1\nB='b'\n", f);
	fclose(f);
	ck_assert_int_eq(lv_envfile_read(path, &vars, &n, why, sizeof why), 0);
	ck_assert_int_eq(lv_envfile_read(opt, &vars, &n, why, sizeof why), 0); /* optional */
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(vars[1], "B=b");
	ck_assert_int_eq(lv_envfile_read(opt + 1, &vars, &n, why, sizeof why), -1);
	ck_assert_str_eq(strstr(why, "missing.env: "), "missing.env: No such file or directory");
	ck_assert_int_eq(strncmp(why, "env_file /tmp/", 14), 0);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0); /* must not block */
	ck_assert_int_eq(lv_envfile_read(fifo, &vars, &n, why, sizeof why), -1);
	ck_assert_ptr_nonnull(strstr(why, ": not a regular file"));
	ck_assert_int_eq(lv_envfile_read(dir, &vars, &n, why, sizeof why), -1);
	ck_assert_ptr_nonnull(strstr(why, ": a folder, not a file"));
	ck_assert_int_eq(truncate(path, 0), 0);
	f = fopen(big, "w");
	ck_assert_int_eq(ftruncate(fileno(f), LV_ENVFILE_MAX_BYTES + 1), 0);
	fclose(f);
	ck_assert_int_eq(lv_envfile_read(big, &vars, &n, why, sizeof why), -1);
	ck_assert_ptr_nonnull(strstr(why, "/big: larger than 1 MiB"));
	ck_assert_uint_eq(n, 2);
	lv_strv_free(vars);
	unlink(path);
	unlink(fifo);
	unlink(big);
	rmdir(dir);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("envfile");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, syntax);
	tcase_add_test(tc, the_example_in_the_docs);
	tcase_add_test(tc, mistakes);
	tcase_add_test(tc, bounds);
	tcase_add_test(tc, files);
	suite_add_tcase(su, tc);
	return lv_check_run(su);
}
