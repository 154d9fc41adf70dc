#!/bin/sh
# test_completion: loopvisorctl's bash completion (completion/loopvisorctl.bash) sourced in
# bash and called as bash calls it (COMP_WORDS, COMP_CWORD, COMP_LINE, COMP_POINT): commands,
# options, and the pool and worker names of a daemon started here, asked through the -s
# given on the line. The zsh completion is checked for syntax where zsh is installed.
# Prints a closing "N passed, N failed" line.
set -u
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$2" && pwd)
CTL="$BUILD/bin/loopvisorctl"
tmp=$(mktemp -d /tmp/lvcompl.XXXXXX)
daemon=""
cleanup() {
	if [ -n "$daemon" ]; then
		kill "$daemon" 2>/dev/null
		wait "$daemon" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# complete WORD... : what the completion offers for the words, the last the one being
# completed (a ':' is a word of its own, as bash splits them), one a line, sorted
complete() {
	bash -c '
		. "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE=$(printf "%s " "$@"); COMP_LINE=${COMP_LINE% }
		COMP_LINE=${COMP_LINE// : /:}; COMP_LINE=${COMP_LINE// :/:}
		COMP_POINT=${#COMP_LINE}
		_loopvisorctl
		[ ${#COMPREPLY[@]} -gt 0 ] && printf "%s\n" "${COMPREPLY[@]}" | sort' \
		bash "$SRC/completion/loopvisorctl.bash" "$CTL" "$@"
}
# expect NAME "EXPECTED WORDS" WORD... : the completion offers exactly these
expect() {
	name=$1 want=$(printf '%s\n' $2 | sort)
	shift 2
	got=$(complete "$@" 2>"$tmp/err")
	if [ "$got" = "$want" ] && [ ! -s "$tmp/err" ]; then
		pass=$((pass + 1))
		echo "ok - $name"
	else
		fail=$((fail + 1))
		echo "not ok - $name"
		echo "    wanted: $(echo $want)"
		echo "    got:    $(echo $got)"
		sed 's/^/    stderr: /' "$tmp/err"
	fi
}
. "$SRC/tests/lib/check.sh"

check "the bash completion registers itself for loopvisorctl" bash -c \
	". '$SRC/completion/loopvisorctl.bash' && complete -p loopvisorctl | grep -q -- '-F _loopvisorctl'"
expect "commands: re -> reload remove reset restart" "reload remove reset restart" re
expect "commands: s -> scale shutdown signal start status stop" \
	"scale shutdown signal start status stop" s
expect "commands: t -> tail top" "tail top" t
expect "every command from the empty word" \
	"status start stop restart reset scale signal reload add remove inspect wait shutdown version events tail call top" ""
expect "options: --" "--socket --json --timeout --no-wait --help --version" --
expect "options after an option: --json --n" "--no-wait" --json --n
expect "restart --r -> --rolling" "--rolling" restart --r
expect "tail -> -f -n" "-f -n" tail -
expect "no daemon: restart offers all, quietly" "all" -s "$tmp/none.sock" restart ""

# a daemon with two tiny pools (sleep workers), on a socket of its own
cat >"$tmp/c.json" <<JSON
{ "pools": [ { "name": "alpha", "exec": ["sleep", "600"], "workers": 2 },
             { "name": "beta", "exec": ["sleep", "600"], "workers": 1 } ] }
JSON
"$BUILD/bin/loopvisord" -c "$tmp/c.json" -s "$tmp/s.sock" 2>"$tmp/daemon.log" &
daemon=$!
S=$tmp/s.sock
check "the daemon runs its pools" sh -c "for i in \$(seq 200); do [ -S '$S' ] && break; sleep 0.05; done
	'$CTL' -s '$S' --timeout 10000 wait alpha running &&
	'$CTL' -s '$S' --timeout 10000 wait beta running"
pids=$("$CTL" -s "$S" --json status | sed -n 's/^ *"pid": \([0-9]*\),*$/\1/p')
check "its three workers have pids" test "$(echo $pids | wc -w)" -eq 3
expect "restart <TAB> offers the pools, their workers and all" \
	"all alpha beta alpha:0 alpha:1 beta:0" -s "$S" restart ""
expect "and does so after a first target" \
	"all alpha beta alpha:0 alpha:1 beta:0" -s "$S" restart beta ""
expect "--socket=SOCKET, stop a" "all alpha alpha:0 alpha:1" --socket="$S" stop a
expect "--socket SOCKET after other options, status b" "beta beta:0" --json --socket "$S" status b
expect "inspect alpha: -> the indexes (bash splits at ':')" "0 1" -s "$S" inspect alpha :
expect "inspect alpha:1 -> 1" "1" -s "$S" inspect alpha : 1
expect "remove <TAB> offers pools only" "alpha beta" -s "$S" remove ""
expect "scale beta <TAB> -> config" "config" -s "$S" scale beta ""
expect "wait <TAB> offers pools and workers (all is no target of wait)" \
	"alpha beta alpha:0 alpha:1 beta:0" -s "$S" wait ""
expect "wait alpha r -> running" "running" -s "$S" wait alpha r
expect "wait alpha:0 s -> the states with s" "starting stopped stopping" -s "$S" wait alpha : 0 s
expect "signal beta T -> TERM" "TERM" -s "$S" signal beta T
expect "reload takes nothing" "" -s "$S" reload ""
expect "top <TAB> offers pools and workers" "alpha beta alpha:0 alpha:1 beta:0" -s "$S" top ""
expect "top takes one TARGET" "" -s "$S" top alpha ""

check "the daemon shuts down" "$CTL" -s "$S" shutdown
wait "$daemon"
rc=$?
daemon=""
check "and exits 0" test "$rc" -eq 0
check "no worker left behind" sh -c "for p in $(echo $pids); do ! kill -0 \$p 2>/dev/null || exit 1; done"

if command -v zsh >/dev/null 2>&1; then
	check "zsh completion: syntax" zsh -n "$SRC/completion/_loopvisorctl"
	check "zsh completion: #compdef loopvisorctl" grep -qx '#compdef loopvisorctl' \
		"$SRC/completion/_loopvisorctl"
else
	echo "SKIP: zsh completion: zsh is not installed"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
