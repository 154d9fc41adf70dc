# bash completion for loopvisorctl: its commands, options, and the pool and worker names of
# the running daemon, asked quietly (loopvisorctl --json status, with the -s/--socket given
# on the command line; no daemon, no names).

# The names the daemon lists: _loopvisorctl_names pools|workers LOOPVISORCTL [SOCKET OPTION...]
_loopvisorctl_names()
{
	local what=$1 ctl=$2 out
	shift 2
	command -v "$ctl" >/dev/null 2>&1 || return 0
	# status exits 5 when a worker failed, yet answers: take the output whatever the exit
	out=$(timeout 3 "$ctl" "$@" --json --timeout 1000 status 2>/dev/null </dev/null)
	out=$(printf '%s\n' "$out" | sed -n 's/^ *"name": *"\([^"\\]*\)",\{0,1\} *$/\1/p')
	if [ "$what" = pools ]; then
		printf '%s\n' "$out" | grep -v ':'
	else
		printf '%s\n' "$out" | grep ':'
	fi
}

_loopvisorctl()
{
	local cur prev verb= i w nargs=0
	local -a sockopt=()
	local commands="status start stop restart reset scale signal reload add remove inspect
		wait shutdown version events tail call top"
	local options="-s --socket --json --timeout --no-wait --help --version"
	local states="starting running stopping stopped backoff failed"
	local signals="HUP INT QUIT KILL USR1 USR2 TERM CONT STOP"

	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	local first=$COMP_CWORD # the first of the words that make up cur
	# POOL:INDEX: bash splits words at ':' (COMP_WORDBREAKS); complete the whole word from
	# the line itself and hand back only what follows the last ':'
	if [ -n "${COMP_LINE:-}" ] && [[ $COMP_WORDBREAKS == *:* ]]; then
		cur=${COMP_LINE:0:${COMP_POINT:-${#COMP_LINE}}}
		cur=${cur##*[[:space:]]}
		local rest=$cur pieces=0
		while [[ $rest == *:* ]]; do # each ':' a word, and each name between them
			[ -n "${rest%%:*}" ] && pieces=$((pieces + 1))
			pieces=$((pieces + 1))
			rest=${rest#*:}
		done
		[ -n "$rest" ] && pieces=$((pieces + 1))
		[ "$pieces" -gt 1 ] && first=$((COMP_CWORD - pieces + 1))
	fi

	# the options before the command, the command, and how many words follow it
	for ((i = 1; i < first; i++)); do
		w=${COMP_WORDS[i]}
		if [ -z "$verb" ]; then
			case $w in
			-s|--socket) sockopt=(-s "${COMP_WORDS[i + 1]}"); i=$((i + 1)) ;;
			--socket=*) sockopt=(-s "${w#--socket=}") ;;
			--timeout) i=$((i + 1)) ;;
			-*) ;;
			*) verb=$w ;;
			esac
		elif [ "$w" != : ] && [ "${COMP_WORDS[i - 1]}" != : ]; then
			nargs=$((nargs + 1))
		fi
	done
	prev=${COMP_WORDS[first - 1]}

	local words=""
	if [ -z "$verb" ]; then
		case $prev in
		-s|--socket) mapfile -t COMPREPLY < <(compgen -f -- "$cur"); return 0 ;;
		--timeout) return 0 ;;
		esac
		if [[ $cur == -* ]]; then words=$options; else words=$commands; fi
	else
		local ctl=${COMP_WORDS[0]}
		local pools workers
		case $verb in
		status|start|stop|restart|reset|signal|events|wait|tail|scale|remove|inspect|top)
			pools=$(_loopvisorctl_names pools "$ctl" "${sockopt[@]}")
			workers=$(_loopvisorctl_names workers "$ctl" "${sockopt[@]}")
			;;
		esac
		case $verb in
		status|start|stop|reset) words="all $pools $workers" ;;
		restart)
			if [[ $cur == -* ]]; then words="--rolling"; else words="all $pools $workers"; fi ;;
		signal) words="all $pools $workers $signals" ;;
		events|top) [ "$nargs" -eq 0 ] && words="$pools $workers" ;;
		wait)
			if [ "$nargs" -eq 0 ]; then words="$pools $workers"; else words=$states; fi ;;
		tail)
			case $prev in
			-n) return 0 ;;
			esac
			if [[ $cur == -* ]]; then words="-f -n"; else words="$pools $workers"; fi ;;
		scale) [ "$nargs" -eq 0 ] && words=$pools; [ "$nargs" -eq 1 ] && words=config ;;
		remove) [ "$nargs" -eq 0 ] && words=$pools ;;
		inspect) [ "$nargs" -eq 0 ] && words=$workers ;;
		add)
			if [ "$nargs" -eq 0 ]; then
				mapfile -t COMPREPLY < <(compgen -f -- "$cur")
				[[ - == "$cur"* ]] && COMPREPLY+=(-)
			fi
			return 0 ;;
		call) ;;
		esac
	fi
	# shellcheck disable=SC2086
	mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
	if [[ $cur == *:* && $COMP_WORDBREAKS == *:* ]]; then
		local colon_prefix=${cur%"${cur##*:}"}
		for i in "${!COMPREPLY[@]}"; do
			COMPREPLY[i]=${COMPREPLY[i]#"$colon_prefix"}
		done
	fi
	return 0
}
complete -F _loopvisorctl loopvisorctl
