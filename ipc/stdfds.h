/* stdfds: makes sure descriptors 0, 1 and 2 are open before a program opens anything, so
 * that no socket or pipe of its own lands there and receives what is meant for stderr. */
#ifndef LV_STDFDS_H
#define LV_STDFDS_H

/* Opens /dev/null (read-write) onto each of 0, 1 and 2 that is closed; 0 or -errno. Call it
 * first thing in main. */
int lv_std_fds_open(void);

#endif
