#!/bin/sh
# test_top: loopvisorctl top in a real terminal (a tmux pane on a private tmux server) against
# a daemon started here: its rows, a killed worker's new pid and restart seen from the event
# stream, the keys s, /, p and q, and "the daemon went away" with exit 3. Every wait polls the
# screen for a bounded time. Prints a closing "N passed, N failed"; 77 (skip) without tmux.
set -u
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$2" && pwd)
CTL="$BUILD/bin/loopvisorctl"
command -v tmux >/dev/null 2>&1 || { echo "SKIP: tmux is not installed"; exit 77; }
tmp=$(mktemp -d /tmp/lvtop.XXXXXX)
daemon="" pids=""
T="tmux -S $tmp/tmux.sock"
cleanup() {
	$T kill-server 2>/dev/null
	if [ -n "$daemon" ]; then
		kill "$daemon" 2>/dev/null
		wait "$daemon" 2>/dev/null
	fi
	for p in $pids; do # workers have sessions of their own: none may outlive the test
		kill -9 "$p" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
. "$SRC/tests/lib/check.sh"

# screen [PANE]: what the pane shows now
screen() { $T capture-pane -p -t "${1:-top}"; }
# until SECONDS CMD...: polls CMD every 0.1 s until it succeeds, for at most SECONDS;
# then prints the screen (for the failure's output) and succeeds or fails with the last try
until_ok() {
	n=$(($1 * 10))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	"$@" && return 0
	echo "after waiting, the screen:"
	screen "${pane:-top}"
	return 1
}
# row NAME: the screen's line for NAME (the first column), in fields
row() { screen "${pane:-top}" | awk -v n="$1" '$1 == n'; }
# shows NAME STATE: the row of NAME shows STATE
shows() { row "$1" | awk -v s="$2" '$2 == s { f = 1 } END { exit !f }'; }
pid_of() { "$CTL" -s "$S" --json status "$1" | sed -n 's/^ *"pid": \([0-9]*\),*$/\1/p'; }
pane_dead() { [ "$($T display-message -p -t "${pane:-top}" '#{pane_dead}')" = 1 ]; }

cat >"$tmp/c.json" <<JSON
{ "pools": [ { "name": "web", "exec": ["sleep", "1000"], "workers": 3,
               "restart": "always" },
             { "name": "job", "exec": ["sleep", "1000"], "autostart": false } ] }
JSON
"$BUILD/bin/loopvisord" -c "$tmp/c.json" -s "$tmp/s.sock" 2>"$tmp/daemon.log" &
daemon=$!
S=$tmp/s.sock
check "the daemon runs web" sh -c "for i in \$(seq 200); do [ -S '$S' ] && break; sleep 0.05; done
	'$CTL' -s '$S' --timeout 10000 wait web running"
pids=$(pid_of web)

check "top without a terminal is a usage error" sh -c \
	"'$CTL' -s '$S' top </dev/null >'$tmp/notty' 2>&1; [ \$? -eq 2 ] && grep -q 'top needs a terminal' '$tmp/notty'"

# top NAME ENV OPTIONS TARGET: the command a pane runs: top (colours unless ENV or OPTIONS
# say otherwise), then its exit status and what it said on stderr in files NAME.rc and
# NAME.err (tmux may drop a dying pane's last output, so the screen cannot tell)
top() {
	echo "unset NO_COLOR; $2 '$CTL' -s '$S' $3 top $4 2>'$tmp/$1.err'; echo \$? >'$tmp/$1.rc'"
}
# remain-on-exit keeps a pane whose top exited
printf 'set -g remain-on-exit on\n' >"$tmp/tmux.conf"
$T -f "$tmp/tmux.conf" new-session -d -s top -x 120 -y 40 "$(top first "" "" "")"
check "top shows web:0..web:2 running" until_ok 10 sh -c "$(cat <<SH
	screen() { $T capture-pane -p -t top; }
	for w in web:0 web:1 web:2; do
		screen | awk -v n=\$w '\$1 == n && \$2 == "running" { f = 1 } END { exit !f }' || exit 1
	done
SH
)"
check "and job:0 stopped" until_ok 10 shows job:0 stopped
check "running in green" until_ok 10 sh -c \
	"$T capture-pane -e -p -t top | grep 'web:0 ' | grep -q \"\$(printf '\\033')\\[32mrunning\""
check "a header with the version and the counts" until_ok 10 sh -c \
	"$T capture-pane -p -t top | head -1 | grep -q 'loopvisord .* workers 4: 3 running, 1 stopped'"

old=$(pid_of web:1)
kill -9 "$old"
# the new process, its pid on the screen, restarts 1, running again: from the events
new_row() { row web:1 | awk -v old="$old" '$2 == "running" && $3 != old && $3 != "-" && $5 == 1 { f = 1 } END { exit !f }'; }
check "a killed worker shows its new pid, running, restarts 1" until_ok 10 new_row
check "and how its last process ended" until_ok 10 sh -c \
	"$T capture-pane -p -t top | grep '^web:1 ' | grep -q 'killed by KILL'"
pids="$pids $(pid_of web:1)"

$T send-keys -t top s
check "s sorts by state" until_ok 10 sh -c "$T capture-pane -p -t top | grep -q 'sort: state'"
$T send-keys -t top / j o b Enter
check "/job Enter leaves only job:0" until_ok 10 sh -c "$(cat <<SH
	s=\$($T capture-pane -p -t top)
	echo "\$s" | grep -q '^job:0 ' && ! echo "\$s" | grep -q '^web:' && echo "\$s" | grep -q 'filter: job'
SH
)"
$T send-keys -t top p
check "p shows one row per pool" until_ok 10 sh -c "$(cat <<SH
	s=\$($T capture-pane -p -t top)
	echo "\$s" | grep -q '^job (1) *stopped' && ! echo "\$s" | grep -q '^job:0'
SH
)"
$T send-keys -t top r
check "r reverses the order" until_ok 10 sh -c "$T capture-pane -p -t top | grep -q 'sort: state (reversed)'"
$T send-keys -t top / Escape
check "/ Esc clears the filter: web is back, after job (stopped, reversed)" until_ok 10 sh -c "$(cat <<SH
	s=\$($T capture-pane -p -t top)
	echo "\$s" | grep -q '^web (3) *running' && ! echo "\$s" | grep -q 'filter: job' &&
	[ "\$(echo "\$s" | awk '/^(job|web) / { printf "%s ", \$1 }')" = 'job web ' ]
SH
)"
$T send-keys -t top q
check "q quits top" until_ok 10 pane_dead
check "with exit status 0" grep -qx 0 "$tmp/first.rc"
check "and nothing on stderr" test ! -s "$tmp/first.err"

# a screen too small for the four workers: one row per pool until p, then arrows scroll
$T new-session -d -s small -x 100 -y 6 "$(top small "" "" "")"
pane=small
check "too many workers for the screen: one row per pool" until_ok 10 sh -c \
	"$T capture-pane -p -t small | grep -q '^web (3) ' && ! $T capture-pane -p -t small | grep -q '^web:'"
$T send-keys -t small p
check "p: per worker, the first three fit" until_ok 10 sh -c \
	"[ \"\$($T capture-pane -p -t small | awk '/^(job|web):/ { printf \"%s \", \$1 }')\" = 'job:0 web:0 web:1 ' ]"
$T send-keys -t small Down
check "Down scrolls one row" until_ok 10 sh -c \
	"[ \"\$($T capture-pane -p -t small | awk '/^(job|web):/ { printf \"%s \", \$1 }')\" = 'web:0 web:1 web:2 ' ]"
$T send-keys -t small PPage
check "PgUp back to the top" until_ok 10 sh -c \
	"[ \"\$($T capture-pane -p -t small | awk '/^(job|web):/ { printf \"%s \", \$1 }')\" = 'job:0 web:0 web:1 ' ]"
$T send-keys -t small q
check "q quits it" until_ok 10 pane_dead
pane=""

# top_pid PANE: the pid of the top its pane's shell runs (the shell's one child)
top_pid() { cat "/proc/$($T display-message -p -t "$1" '#{pane_pid}')/task/"*/children | tr -d ' \n'; }
# the first with NO_COLOR set, the second with --no-color
for sig in TERM INT; do
	if [ "$sig" = TERM ]; then
		$T new-window -d -t top -n "$sig" "$(top "$sig" NO_COLOR=1 "" "")"
	else
		$T new-window -d -t top -n "$sig" "$(top "$sig" "" --no-color "")"
	fi
	check "top runs in a window for SIG$sig" until_ok 10 sh -c \
		"$T capture-pane -p -t top:$sig | grep -q '^web:0 '"
	check "in no colour" sh -c \
		"! $T capture-pane -e -p -t top:$sig | grep -q \"\$(printf '\\033')\\[3[0-7]m\""
	kill -"$sig" "$(top_pid "top:$sig")"
	pane=top:$sig
	check "SIG$sig ends top" until_ok 10 pane_dead
	check "with exit status 0" grep -qx 0 "$tmp/$sig.rc"
	pane=""
done

$T new-window -d -t top -n bad "$(top bad TERM=nosuchterm "" "")"
pane=top:bad
check "a terminal ncurses does not know: exit 2" until_ok 10 sh -c \
	"grep -qx 2 '$tmp/bad.rc' && grep -q \"cannot draw on terminal type 'nosuchterm'\" '$tmp/bad.err'"
pane=""

# a second top, then the daemon goes
$T new-window -d -t top -n gone "$(top gone "" "" web)"
pane=top:gone
check "top web shows web's workers only" until_ok 10 sh -c \
	"$T capture-pane -p -t top:gone | grep -q '^web:2 ' && ! $T capture-pane -p -t top:gone | grep -q '^job'"
check "the daemon shuts down" "$CTL" -s "$S" shutdown
wait "$daemon"
rc=$?
daemon=""
check "and exits 0" test "$rc" -eq 0
check "top exits when the daemon goes" until_ok 10 pane_dead
check "saying so after leaving the screen, and only that" sh -c \
	"[ \"\$(cat '$tmp/gone.err')\" = 'loopvisorctl: the daemon went away' ]"
check "with exit status 3" grep -qx 3 "$tmp/gone.rc"
check "no worker left behind" sh -c "for p in $(echo $pids); do ! kill -0 \$p 2>/dev/null || exit 1; done"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
