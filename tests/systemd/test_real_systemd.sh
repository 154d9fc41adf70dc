#!/bin/sh
# test_real_systemd: builds the Debian package, installs it with dpkg into a minimal Debian
# 12 root, boots a real systemd (PID 1) there in systemd-nspawn and runs
# tests/systemd/inside.sh: start, STATUS=, reload, journal fields, a notify pool of another
# user, a watchdog kill of a frozen daemon, stop draining the workers, socket activation.
# The Debian root is made once with debootstrap and cached in the build folder.
set -u
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$2" && pwd)
root="$BUILD/nspawn-root"
results=$(mktemp -d /tmp/lvnspawn.XXXXXX)
trap 'rm -rf "$results"' EXIT

if [ "$(id -u)" -ne 0 ]; then
	echo "test_real_systemd: needs root (systemd-nspawn); not run"
	echo "0 passed, 1 failed"
	exit 1
fi
if [ ! -x "$root/lib/systemd/systemd" ] || [ ! -x "$root/bin/kill" ]; then
	# the mirror apt already uses on this machine
	mirror=$(sed -n 's/^URIs: //p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
	[ -n "$mirror" ] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list)
	rm -rf "$root.tmp" "$root"
	if ! debootstrap --variant=minbase \
		--include=systemd,systemd-sysv,dbus,procps,libevent-2.1-7,libevent-core-2.1-7,libevent-extra-2.1-7,libjansson4,libsystemd0 \
		bookworm "$root.tmp" "$mirror" >"$BUILD/nspawn-debootstrap.log" 2>&1; then
		tail -20 "$BUILD/nspawn-debootstrap.log"
		echo "0 passed, 1 failed"
		exit 1
	fi
	mv "$root.tmp" "$root"
fi

# what is under test: the Debian package (make deb: scripts/build-deb.sh), installed with dpkg
deb_build="$BUILD/deb"
"$SRC/scripts/build-deb.sh" "$deb_build" "$(nproc)" >"$BUILD/nspawn-deb.log" 2>&1 ||
	{ tail -20 "$BUILD/nspawn-deb.log"; echo "0 passed, 1 failed"; exit 1; }
deb=$(ls "$deb_build"/loopvisor_*.deb | head -n 1)
host_pass=0
host_fail=0
host_check() {
	if "$@" >/dev/null 2>&1; then host_pass=$((host_pass + 1)); echo "ok - $*";
	else host_fail=$((host_fail + 1)); echo "not ok - $*"; fi
}
host_check dpkg --root="$root" -i "$deb"
host_check dpkg --root="$root" -s loopvisor
# installing enables and starts nothing (dh_installsystemd --no-enable --no-start)
host_check sh -c "! find '$root/etc/systemd/system' -path '*.wants/loopvisor*' | grep -q ."
rm -rf "$root/etc/systemd/system/loopvisor.service" "$root/etc/systemd/system/loopvisor.socket"
mkdir -p "$root/etc/systemd/system/loopvisor.service.d"
cat >"$root/etc/systemd/system/loopvisor.service.d/test.conf" <<UNIT
[Service]
WatchdogSec=2s
TimeoutAbortSec=2s
UNIT
cat >"$root/etc/loopvisor/loopvisor.json" <<JSON
{ "pools": [ { "name": "web", "module": "ticker", "workers": 2, "params": { "interval_ms": 200 } },
             { "name": "sleeper", "exec": ["sleep", "3600"] },
             { "name": "notified", "exec": ["sh", "-c", "systemd-notify --ready --status=serving; exec sleep 3600"],
               "ready": "notify", "user": "nobody" } ] }
JSON
install -m 0755 "$SRC/tests/systemd/inside.sh" "$root/usr/local/sbin/lv-inside-test"
cat >"$root/etc/systemd/system/lv-inside-test.service" <<UNIT
[Unit]
Description=loopvisor tests under systemd
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/lv-inside-test
[Install]
WantedBy=multi-user.target
UNIT
mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
ln -sf /etc/systemd/system/lv-inside-test.service \
	"$root/etc/systemd/system/multi-user.target.wants/lv-inside-test.service"

timeout 300 systemd-nspawn -q --register=no --keep-unit -D "$root" -b \
	--bind="$results:/results" >"$BUILD/nspawn-boot.log" 2>&1
cat "$results/out" 2>/dev/null
pass=$(($(grep -c '^ok - ' "$results/out" 2>/dev/null) + host_pass))
fail=$(($(grep -c '^not ok - ' "$results/out" 2>/dev/null) + host_fail))
if ! grep -q '^done' "$results/out" 2>/dev/null; then
	echo "the test inside the container did not finish; boot log: $BUILD/nspawn-boot.log"
	tail -20 "$BUILD/nspawn-boot.log"
	fail=$((fail + 1))
fi
echo "${pass:-0} passed, ${fail:-0} failed"
[ "${fail:-0}" -eq 0 ]
