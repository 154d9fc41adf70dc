/* journal: the daemon's messages and worker lines to journald, without ever waiting for it
 * (see journal.c); log.c and proc/output.c send through here when the target is the journal. */
#ifndef LV_JOURNAL_H
#define LV_JOURNAL_H

#include <sys/uio.h>

struct event_base;

/* Sends one entry (fields "NAME=value", as sd_journal_sendv takes them). When journald
 * is behind it waits in a queue of at most LV_LOG_QUEUE_MAX bytes, retried from the loop;
 * past that it is dropped and counted, and the count is sent once journald takes
 * messages again. */
void lv_journal_sendv(const struct iovec *iov, int n);
/* From now on the queue is retried from base's loop; detach before the base is freed,
 * giving what still waits up to wait_ms. */
void lv_journal_attach(struct event_base *base);
void lv_journal_detach(int wait_ms);

#endif
