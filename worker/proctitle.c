/* proctitle: a process title over argv's strings (see proctitle.h). */
#include "worker/proctitle.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static char *area;
static size_t area_len; /* bytes from argv[0] to the end of the last string's NUL */

void lv_proctitle_init(int argc, char **argv)
{
	char *end;

	if (argc < 1 || !argv[0])
		return;
	end = argv[0] + strlen(argv[0]) + 1;
	for (int i = 1; i < argc && argv[i] == end; i++) /* only while they follow each other */
		end = argv[i] + strlen(argv[i]) + 1;
	area = argv[0];
	area_len = (size_t)(end - area);
}

void lv_proctitle_set(const char *fmt, ...)
{
	va_list ap;

	if (!area || area_len < 2)
		return;
	memset(area, 0, area_len);
	va_start(ap, fmt);
	vsnprintf(area, area_len - 1, fmt, ap); /* the last byte stays NUL: cmdline ends there */
	va_end(ap);
}
