/* top: the loop of loopvisorctl top: events from a subscription on a second connection, a
 * status at most once a second for lag, uptime and counters, keys, and the screen redrawn
 * when something changed (at most ten times a second) and every second for the uptimes. */
#include "ctl/top.h"

#include <curses.h>
#include <term.h>     /* setupterm; it defines macros such as lines and columns */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl/client.h"
#include "ctl/output.h"
#include "ctl/top_view.h"

#define REDRAW_MS 100     /* events redraw at most this often */
#define STATUS_MS 1000    /* lag, uptimes and counters: one status a second */
#define CALL_MS 3000      /* a status not answered by then is skipped */

enum view_mode { MODE_AUTO, MODE_WORKERS, MODE_POOLS };

struct top {
	struct lv_client *c, *sub;
	const char *socket, *target;
	json_t *model;
	char version[64];
	struct top_view view;
	enum view_mode mode;
	char filter[64];      /* the filter in force */
	char editing[64];     /* what is typed after '/' */
	bool edit;
	size_t scroll;
	bool color, dirty, resync;
	long long drawn_ms, status_ms;
};

static volatile sig_atomic_t stop_signal;

static void on_stop(int signo)
{
	stop_signal = signo;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static json_t *target_params(const struct top *t)
{
	return t->target ? json_pack("{s:s}", "target", t->target) : NULL;
}

/* A status into the model. 0; 1 when it went unanswered in time; -1 with the reply's
 * error in *error (may be NULL: the connection failed). */
static int take_status(struct top *t, bool full, json_t **error)
{
	json_t *result;

	*error = NULL;
	if (lv_client_call(t->c, "status", target_params(t), CALL_MS, &result, error) < 0)
		return errno == ETIMEDOUT ? 1 : -1;
	if (*error)
		return -1;
	top_model_take_status(t->model, result, full, now_ms());
	json_decref(result);
	t->status_ms = now_ms();
	t->dirty = true;
	return 0;
}

/* Subscribes on a new connection: 0, or -1 with *error (NULL: could not connect). */
static int subscribe(struct top *t, json_t **error)
{
	json_t *result;

	*error = NULL;
	lv_client_close(t->sub);
	if (!(t->sub = lv_client_connect(t->socket)) ||
	    lv_client_call(t->sub, "subscribe", target_params(t), CALL_MS, &result, error) < 0 ||
	    *error)
		return -1;
	json_decref(result);
	return 0;
}

/* Takes the events that came: 0, or -1 when the stream ended. An overflow (we read too
 * slowly and the daemon drops us) subscribes again and takes the next status whole. */
static int take_events(struct top *t)
{
	char *line;

	while ((line = lv_client_read_line(t->sub, 0)) != NULL) {
		json_t *msg = json_loads(line, 0, NULL);
		const json_t *ev = json_object_get(msg, "params");
		const char *name = json_string_value(json_object_get(ev, "event"));

		free(line);
		if (name && !strcmp(name, "overflow"))
			t->resync = true;
		else if (top_model_take_event(t->model, ev, now_ms()))
			t->dirty = true;
		json_decref(msg);
	}
	if (errno == ETIMEDOUT)
		return 0;
	if (t->resync) {
		json_t *error;
		int rc = subscribe(t, &error);

		json_decref(error);
		if (rc == 0)
			return 0;
	}
	return -1;
}

/* ncurses colour pairs 1..7 are the terminal's colours 1..7 on its own background. */
static void start_colors(void)
{
	start_color();
	use_default_colors();
	for (short c = 1; c < 8 && c < COLORS; c++)
		init_pair(c, c, -1);
}

/* The attributes for an SGR code of ctl_state_sgr ("32", "33;1"). */
static attr_t sgr_attr(const char *sgr)
{
	attr_t a = 0;
	int fg = atoi(sgr);

	if (fg >= 31 && fg <= 37)
		a |= COLOR_PAIR(fg - 30);
	if (strstr(sgr, ";1"))
		a |= A_BOLD;
	return a;
}

enum { W_STATE = 9, W_PID = 8, W_UPTIME = 8, W_RESTARTS = 8, W_LAG = 8, W_LAST = 24 };

static int name_width(const struct top_row *rows, size_t n)
{
	int w = 4;

	for (size_t i = 0; i < n; i++)
		if ((int)strlen(rows[i].name) > w)
			w = (int)strlen(rows[i].name);
	return w > 32 ? 32 : w;
}

static void draw_row(const struct top *t, int y, const struct top_row *r, int nw)
{
	char pid[24], up[32], restarts[24], lag[32], jobs[256];
	const char *sgr = t->color ? ctl_state_sgr(r->state) : NULL;

	if (r->pid >= 0)
		snprintf(pid, sizeof pid, "%lld", r->pid);
	else
		snprintf(pid, sizeof pid, "-");
	ctl_format_uptime(r->uptime_ms, up, sizeof up);
	snprintf(restarts, sizeof restarts, "%lld", r->restarts);
	top_format_lag(r->lag_us, lag, sizeof lag);
	top_format_counters(r->counters, jobs, sizeof jobs);
	mvprintw(y, 0, "%-*.*s ", nw, nw, r->name);
	if (sgr)
		attron(sgr_attr(sgr));
	printw("%-*s", W_STATE, r->state);
	if (sgr)
		attroff(sgr_attr(sgr));
	printw(" %-*s %-*s %-*s %-*s %-*.*s %s", W_PID, pid, W_UPTIME, up, W_RESTARTS, restarts,
	       W_LAG, lag, W_LAST, W_LAST, r->last, jobs);
	clrtoeol();
}

static void draw_header(const struct top *t)
{
	char counts[512], clock[16];
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(clock, sizeof clock, "%H:%M:%S", &tm);
	top_format_counts(t->model, counts, sizeof counts);
	mvprintw(0, 0, "loopvisord %s  %s", t->version, counts);
	clrtoeol();
	mvprintw(0, COLS > 8 ? COLS - 8 : 0, "%s", clock);
}

static void draw_footer(const struct top *t, size_t n)
{
	move(LINES - 1, 0);
	if (t->edit) {
		printw("/%s", t->editing);
		clrtoeol();
		return;
	}
	attron(A_REVERSE);
	printw("q quit  s sort: %s%s  r reverse  / filter%s%s  p %s  %zu rows",
	       top_sort_name(t->view.sort), t->view.reverse ? " (reversed)" : "",
	       t->filter[0] ? ": " : "", t->filter, t->view.per_pool ? "per worker" : "per pool", n);
	attroff(A_REVERSE);
	clrtoeol();
}

static void draw(struct top *t)
{
	struct top_row *rows;
	size_t n, height = LINES > 3 ? (size_t)LINES - 3 : 1, i;
	int nw;

	t->view.filter = t->filter;
	t->view.per_pool = t->mode == MODE_POOLS ||
	                   (t->mode == MODE_AUTO && top_count_filtered(t->model, t->filter) > height);
	n = top_rows(t->model, &t->view, now_ms(), &rows);
	if (t->scroll + height > n)
		t->scroll = n > height ? n - height : 0;
	nw = name_width(rows, n);
	erase();
	draw_header(t);
	attron(A_BOLD);
	mvprintw(1, 0, "%-*s %-*s %-*s %-*s %-*s %-*s %-*s %s", nw, "NAME", W_STATE, "STATE",
	         W_PID, "PID", W_UPTIME, "UPTIME", W_RESTARTS, "RESTARTS", W_LAG, "LAG", W_LAST,
	         "LAST", "JOBS");
	attroff(A_BOLD);
	for (i = 0; i < height && t->scroll + i < n; i++)
		draw_row(t, (int)i + 2, &rows[t->scroll + i], nw);
	if (n == 0)
		mvprintw(2, 0, t->filter[0] ? "no worker's name has '%s'" : "no workers", t->filter);
	draw_footer(t, n);
	top_rows_free(rows, n);
	refresh();
	t->drawn_ms = now_ms();
	t->dirty = false;
}

/* A key typed after '/': Enter applies the filter, Esc clears it. */
static void edit_key(struct top *t, int ch)
{
	size_t len = strlen(t->editing);

	if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
		memcpy(t->filter, t->editing, sizeof t->filter);
		t->edit = false;
		t->scroll = 0;
	} else if (ch == 27) {
		t->filter[0] = t->editing[0] = '\0';
		t->edit = false;
	} else if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
		if (len)
			t->editing[len - 1] = '\0';
	} else if (ch >= 32 && ch < 127 && len + 1 < sizeof t->editing) {
		t->editing[len] = (char)ch;
		t->editing[len + 1] = '\0';
	}
}

/* One key; false for q. */
static bool key(struct top *t, int ch)
{
	size_t page = LINES > 4 ? (size_t)LINES - 4 : 1;

	t->dirty = true;
	if (t->edit) {
		edit_key(t, ch);
		return true;
	}
	switch (ch) {
	case 'q': return false;
	case 's': t->view.sort = (t->view.sort + 1) % TOP_SORT_N; break;
	case 'r': t->view.reverse = !t->view.reverse; break;
	case 'p': t->mode = t->view.per_pool ? MODE_WORKERS : MODE_POOLS; t->scroll = 0; break;
	case '/':
		t->edit = true;
		memcpy(t->editing, t->filter, sizeof t->editing);
		break;
	case 27: t->filter[0] = '\0'; break;
	case KEY_UP: t->scroll -= t->scroll > 0; break;
	case KEY_DOWN: t->scroll++; break;
	case KEY_PPAGE: t->scroll = t->scroll > page ? t->scroll - page : 0; break;
	case KEY_NPAGE: t->scroll += page; break;
	case KEY_HOME: t->scroll = 0; break;
	default: break;
	}
	return true;
}

/* How long poll may sleep: until the next redraw or status is due. */
static int poll_timeout(const struct top *t)
{
	long long now = now_ms(), due = t->status_ms + STATUS_MS;

	if (t->drawn_ms + STATUS_MS < due)
		due = t->drawn_ms + STATUS_MS;
	if (t->dirty && t->drawn_ms + REDRAW_MS < due)
		due = t->drawn_ms + REDRAW_MS;
	return due <= now ? 0 : (int)(due - now);
}

/* The loop: EXIT_OK on q or a signal, EXIT_CONNECT when the daemon went away. */
static int run(struct top *t)
{
	for (;;) {
		struct pollfd fds[2] = { { .fd = STDIN_FILENO, .events = POLLIN },
		                         { .fd = lv_client_fd(t->sub), .events = POLLIN } };
		json_t *error;
		int ch, rc;

		if (poll(fds, 2, poll_timeout(t)) < 0 && errno != EINTR)
			return EXIT_CONNECT;
		if (stop_signal)
			return EXIT_OK;
		while ((ch = getch()) != ERR)
			if (!key(t, ch))
				return EXIT_OK;
		if (take_events(t) < 0)
			return EXIT_CONNECT;
		if (now_ms() - t->status_ms >= STATUS_MS) {
			rc = take_status(t, t->resync, &error);
			if (rc < 0 && !error)
				return EXIT_CONNECT;
			t->resync = t->resync && rc != 0;
			if (rc == 1 || error) /* try again in a second */
				t->status_ms = now_ms();
			json_decref(error);
		}
		if ((t->dirty && now_ms() - t->drawn_ms >= REDRAW_MS) ||
		    now_ms() - t->drawn_ms >= STATUS_MS)
			draw(t);
	}
}

/* What the first calls got instead of an answer, said as loopvisorctl says it. */
static int refused(const char *method, json_t *error)
{
	if (error) {
		ctl_print_error(stderr, error);
		json_decref(error);
		return EXIT_REMOTE;
	}
	fprintf(stderr, "loopvisorctl: %s: %s\n", method,
	        errno == ETIMEDOUT ? "no answer" : "the daemon closed the connection");
	return EXIT_CONNECT;
}

static void take_version(struct top *t)
{
	json_t *result, *error;

	snprintf(t->version, sizeof t->version, "?");
	if (lv_client_call(t->c, "version", NULL, CALL_MS, &result, &error) == 0 && result)
		snprintf(t->version, sizeof t->version, "%s",
		         json_string_value(json_object_get(result, "version")) ?: "?");
	json_decref(result);
	json_decref(error);
}

int ctl_top(struct lv_client *c, const struct opts *o, const char *target)
{
	struct top t = { .c = c, .socket = o->socket, .target = target, .model = top_model_new() };
	struct sigaction sa = { .sa_handler = on_stop };
	SCREEN *screen;
	json_t *error;
	int term_err;
	int rc;

	/* subscribed before the first status, so that no change falls between the two */
	if (subscribe(&t, &error) < 0) {
		rc = refused("subscribe", error);
		goto out;
	}
	if (take_status(&t, true, &error) != 0) {
		rc = refused("status", error);
		goto out;
	}
	take_version(&t);
	/* ours before newterm, which then leaves them be; no SA_RESTART: poll wakes up */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0) {
		rc = EXIT_CONNECT;
		goto out;
	}
	/* an unknown TERM is an error we say, not initscr's exit; setupterm tells without the
	 * allocation a failed newterm leaves behind */
	if (setupterm(NULL, STDOUT_FILENO, &term_err) != OK ||
	    (del_curterm(cur_term), !(screen = newterm(NULL, stdout, stdin)))) {
		fprintf(stderr, "loopvisorctl: top: cannot draw on terminal type '%s'\n",
		        getenv("TERM") ?: "(TERM not set)");
		rc = EXIT_USAGE;
		goto out;
	}
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(25);
	curs_set(0);
	t.color = !o->no_color && has_colors() && !(getenv("NO_COLOR") && *getenv("NO_COLOR"));
	if (t.color)
		start_colors();
	draw(&t);
	rc = run(&t);
	endwin();
	delscreen(screen);
	if (rc == EXIT_CONNECT)
		fprintf(stderr, "loopvisorctl: the daemon went away\n");
out:
	lv_client_close(t.sub);
	json_decref(t.model);
	return rc;
}
