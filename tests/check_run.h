/* check_run: how every test program runs its suite (normal output, so CI reads check's
 * summary line) and turns the result into an exit code. */
#ifndef LV_CHECK_RUN_H
#define LV_CHECK_RUN_H

#include <check.h>

int lv_check_run(Suite *su);

#endif
