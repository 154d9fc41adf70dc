/* proctitle: what ps shows for loopvisor's own processes ("loopvisor zygote 1",
 * "loopvisor worker web:0"), written over the process's own argv strings, the memory the
 * kernel reads /proc/PID/cmdline from. Exec workers keep the argv of their program. */
#ifndef LV_PROCTITLE_H
#define LV_PROCTITLE_H

/* Remembers where argv's strings lie (one contiguous run); call at the start of main. */
void lv_proctitle_init(int argc, char **argv);
/* Writes the title there, cut to the room argv had, the rest zeroed. */
void lv_proctitle_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
