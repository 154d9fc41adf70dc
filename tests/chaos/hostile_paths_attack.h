/* hostile_paths_attack: the file-system attackers shared by test_paths (integration) and the
 * hostile_paths chaos scenario: a pool user racing symlinks into its socket folder, a FIFO. */
#ifndef LV_HOSTILE_PATHS_ATTACK_H
#define LV_HOSTILE_PATHS_ATTACK_H

#include <stdbool.h>
#include <sys/types.h>

#include "harness.h"

#define RACE_USER "lvt_attacker"

struct symlink_race {
	char root[64];        /* /tmp/lvt_race.XXXXXX: root's, 0711 */
	char pool_dir[96];    /* root/pool: the attacker's folder, where the pool's socket goes */
	char victim[128];     /* root/victim/file: root's, 0600, in a root-only folder */
	pid_t attacker;       /* the racing process, 0 when none runs */
	pid_t reloader;       /* a process reloading the daemon in a loop, 0 when none runs */
	int reloader_pipe;    /* where the reloader writes how many reloads it made */
	int refused;          /* reloads refused (a link where the socket goes) by race_reload */
};

/* Runs cmd with system(); fails the test if it fails. */
void attack_sh(const char *cmd);
/* Makes RACE_USER (useradd -r) and the folders; the victim gets mode 0600. */
void race_setup(struct symlink_race *r);
/* The daemon's config with the pool "p" listening on POOL_DIR/a.sock (which = 0) or b.sock. */
char *race_config(const struct symlink_race *r, int which);
/* Forks the attacker: as RACE_USER it swaps every socket that appears in its folder for a
 * symlink to the victim, and clears its links away so that the daemon can bind again. */
void race_start_attacker(struct symlink_race *r, int max_seconds);
/* Reloads d, toggling the pool between a.sock and b.sock, until the victim's mode changes,
 * max_reloads were made or max_ms passed; returns the reloads made. */
int race_reload(struct lvd *d, struct symlink_race *r, int max_reloads, int max_ms);
/* The same from a forked process (so the test can measure meanwhile); race_reloader_wait
 * reaps it and returns its count. */
void race_reloader_start(struct lvd *d, struct symlink_race *r, int max_reloads, int max_ms);
int race_reloader_wait(struct symlink_race *r);
/* The victim's permission bits now. */
mode_t race_victim_mode(const struct symlink_race *r);
/* Kills and reaps the attacker and the reloader, removes the folders. */
void race_teardown(struct symlink_race *r);

/* Puts a FIFO where the daemon writes DIR/NAME.log (the file moves to NAME.log.old). */
void plant_fifo(const char *dir, const char *name);
/* True when the log of d contains text within ms (stretched): read again on each write to
 * it (inotify), not polled. */
bool daemon_logged_within(struct lvd *d, const char *text, int ms);

#endif
