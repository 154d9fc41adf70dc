#!/bin/sh
# inside: runs under a real systemd (PID 1) in the test container, after multi-user.target.
# Writes "ok - ..." / "not ok - ..." lines to /results/out, then powers the container off.
out=/results/out
ctl="loopvisorctl -s /run/loopvisor/control.sock"
: >"$out"
check() { # NAME COMMAND...
	name=$1
	shift
	if "$@" >/tmp/check.log 2>&1; then
		echo "ok - $name" >>"$out"
	else
		echo "not ok - $name" >>"$out"
		sed 's/^/    /' /tmp/check.log >>"$out"
	fi
}
# waits up to $1 tenths of a second for a command to succeed
until_ok() {
	n=$1
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}
all_running() { $ctl --json status | grep -q '"state": "running"' && ! $ctl --json status | grep -q -e '"state": "starting"' -e '"state": "backoff"'; }
mainpid() { systemctl show -p MainPID --value loopvisor; }

check "systemctl start loopvisor" systemctl start loopvisor
check "workers run when start returns (READY=1 came after them)" all_running
check "systemctl status shows the STATUS= line" sh -c "systemctl show -p StatusText --value loopvisor | grep -q 'workers running'"
check "a notify pool running as nobody gets ready under the unit's hardening" \
	sh -c "$ctl --json status | grep -q '\"status\": \"serving\"'"
check "its notify socket is nobody's, in the runtime folder" \
	sh -c "[ \"\$(stat -c %U:%a /run/loopvisor/loopvisor-notify.*/65534)\" = nobody:600 ]"
check "the daemon moved into its leaf of the delegated unit cgroup" \
	sh -c "grep -qx '0::/system.slice/loopvisor.service/supervisor' /proc/$(mainpid)/cgroup"
check "each worker runs in a leaf of its own" sh -c "grep -qx '0::/system.slice/loopvisor.service/pool-sleeper/w-0' \
	/proc/\$($ctl --json status | tr -d ' \n' | sed -n 's/.*\"name\":\"sleeper:0\",[^}]*\"pid\":\([0-9]*\).*/\1/p')/cgroup"
check "systemctl status shows the worker tree" sh -c "systemctl status loopvisor --no-pager -l | grep -q 'pool-web'"
check "status says cgroups are on" sh -c "$ctl --json status | grep -q '\"cgroup\": \"on: /sys/fs/cgroup/'"
check "systemctl reload loopvisor" systemctl reload loopvisor
check "the reload reached the daemon" until_ok 50 sh -c "journalctl -u loopvisor --no-pager | grep -q 'reload: '"
check "the reload ran in .control beside the daemon's leaf, which it left alone" \
	sh -c "grep -qx '0::/system.slice/loopvisor.service/supervisor' /proc/$(mainpid)/cgroup"
check "journalctl -u loopvisor LOOPVISOR_POOL=web shows the pool's lines" \
	until_ok 50 sh -c "journalctl -u loopvisor LOOPVISOR_POOL=web --no-pager -o verbose | grep -q 'LOOPVISOR_WORKER=web:0'"
pids=$($ctl --json status | sed -n 's/.*"pid": \([0-9]*\).*/\1/p' | tr '\n' ' ')
old=$(mainpid)
kill -STOP "$old"
check "a frozen daemon is killed by the watchdog and restarted" until_ok 300 sh -c "[ \"\$(systemctl show -p MainPID --value loopvisor)\" != '$old' ] && [ \"\$(systemctl show -p MainPID --value loopvisor)\" != 0 ]"
check "its workers died with it" sh -c "for p in $pids; do ! kill -0 \$p 2>/dev/null || exit 1; done"
check "the restarted daemon runs its workers again" until_ok 100 all_running
pids=$($ctl --json status | sed -n 's/.*"pid": \([0-9]*\).*/\1/p' | tr '\n' ' ')
check "systemctl stop loopvisor" systemctl stop loopvisor
check "stop drained the workers" sh -c "for p in $pids; do ! kill -0 \$p 2>/dev/null || exit 1; done"
check "the daemon logged its drain" sh -c "journalctl -u loopvisor --no-pager | grep -q 'all workers stopped, exiting'"
check "systemctl start loopvisor.socket" systemctl start loopvisor.socket
check "the first loopvisorctl call starts the daemon" $ctl call ping
# it answers on its socket before its workers run; it is active once they do (READY=1)
check "it is the service systemd started" until_ok 100 sh -c "systemctl is-active loopvisor"
systemctl stop loopvisor loopvisor.socket
echo done >>"$out"
systemctl poweroff
