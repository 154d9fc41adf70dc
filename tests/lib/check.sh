# check.sh: what the shell test scripts share (sourced, not run). check NAME COMMAND...
# runs the command, counts it and prints "ok - NAME", or "not ok - NAME" and the first 40
# lines it printed; the script ends with "N passed, N failed" ($pass and $fail). Needs $tmp.
pass=0
fail=0
check() { # NAME COMMAND...
	name=$1
	shift
	if "$@" >"$tmp/out" 2>&1; then
		pass=$((pass + 1))
		echo "ok - $name"
	else
		fail=$((fail + 1))
		echo "not ok - $name"
		sed 's/^/    /' "$tmp/out" | head -40
	fi
}
