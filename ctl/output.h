/* output: how loopvisorctl shows results to people: the status table and short lines.
 * Pure functions of a JSON result and a FILE, so tests can check them byte for byte. */
#ifndef LV_CTL_OUTPUT_H
#define LV_CTL_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>
#include <jansson.h>

/* States in colour in the status table (a terminal without NO_COLOR or --no-color). */
void ctl_output_color(bool on);

/* A state's SGR colour, "32" or "31;1" (NULL: plain): green serving, yellow on its way,
 * red failed. The status table and top share it. */
const char *ctl_state_sgr(const char *state);

/* "3h2m", "5m12s", "12.3s", "850ms"; "-" for 0 when the worker has no process. */
void ctl_format_uptime(long long ms, char *buf, size_t len);

/* The LAST column: last_error, else "exit N" / "killed by KILL", else "-". */
void ctl_format_last(const json_t *worker, char *buf, size_t len);

/* The aligned NAME STATE PID UPTIME RESTARTS LAST table of a status result. */
void ctl_print_status(FILE *out, const json_t *status);

/* One line per stream event: "12:00:01.250 #7 worker.exited web:0 pid 42 killed by KILL". */
void ctl_print_event(FILE *out, const json_t *event);

/* Log lines: "12:00:01.250 web:0 stdout: text". */
void ctl_print_log_line(FILE *out, const json_t *line);
void ctl_print_log_lines(FILE *out, const json_t *tail_result);

/* One line for a {"workers": [names]} result, never one per worker: "started web:0",
 * "started 1000 workers of web", "started 4 workers" (of several pools). */
void ctl_print_names(FILE *out, const char *verb, const json_t *result);

/* A reload's result, one line per kind of change that has pools: "added: a, b";
 * "nothing changed" when none has. */
void ctl_print_reload(FILE *out, const json_t *result);

/* A command's result for people (cmd: the command word; JSON for the ones with no form). */
void ctl_print_result(FILE *out, const char *cmd, const json_t *result);

/* An error reply in words, one line: "loopvisorctl: MESSAGE" and what its data adds that
 * the message does not say already: ": web:0: exit 3", " (waits: at most 256)",
 * "; still waiting for web:1, web:2". Data of another shape adds nothing (--json has it). */
void ctl_print_error(FILE *out, const json_t *error);

#endif
