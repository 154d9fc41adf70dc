#!/bin/sh
# test_install: installs the build into a temp prefix, then builds the hello job of
# docs/jobs.md against it with nothing but pkg-config and runs it under the installed
# loopvisord. Prints a closing "N passed, N failed" line.
set -u
BUILD=$1
SRC=$2
tmp=$(mktemp -d /tmp/lvinstall.XXXXXX)
daemon=""
cleanup() {
	[ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
. "$SRC/tests/lib/check.sh"

prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$BUILD/CMakeCache.txt")
check "cmake --install (into a DESTDIR)" env DESTDIR="$tmp" cmake --install "$BUILD"
pcdir=$(find "$tmp" -name loopvisor-job.pc -printf '%h\n' | head -n 1)
export PKG_CONFIG_PATH="$pcdir"
# installed under a temp root instead of the real one: tell pkg-config
pc() { pkg-config --define-variable=prefix="$tmp$prefix" "$@"; }
for f in loopvisor.service loopvisor@.service loopvisor.socket; do
	check "the $f unit is installed" test -n "$(find "$tmp" -name "$f")"
done
check "the example config is installed" test -f "$tmp/$(sed -n 's/^CMAKE_INSTALL_FULL_SYSCONFDIR:.*=//p' "$BUILD/CMakeCache.txt" | head -n 1)/loopvisor/loopvisor.json" -o -n "$(find "$tmp" -path '*etc/loopvisor/loopvisor.json')"
for m in man8/loopvisord.8 man1/loopvisorctl.1 man5/loopvisor.json.5; do
	check "man page $m" test -n "$(find "$tmp" -path "*man/$m")"
done
# every unit passes systemd-analyze verify (ExecStart pointed at the built daemon)
for f in loopvisor.service loopvisor.socket loopvisor@.service; do
	sed "s|ExecStart=[^ ]*/loopvisord|ExecStart=$(cd "$BUILD" && pwd)/bin/loopvisord|" \
		"$(find "$tmp" -name "$f" | head -n 1)" >"$tmp/$(echo "$f" | sed 's/@/@demo/')"
done
check "systemd-analyze verify: loopvisor.service, loopvisor.socket, loopvisor@demo.service" \
	sh -c "cd '$tmp' && systemd-analyze verify --man=no ./loopvisor.service ./loopvisor.socket \
	       ./loopvisor@demo.service 2>&1 | (! grep .)"
check "pkg-config --cflags --libs loopvisor-job" pc --cflags --libs loopvisor-job
check "the job folder pkg-config names holds the shipped jobs" \
	test -f "$(pc --variable=jobdir loopvisor-job)/ticker.so"

# hello.c and hello.json exactly as docs/jobs.md shows them
awk '/^`hello.c`:/{f=1;next} f&&/^```c/{c=1;next} c&&/^```/{exit} c' "$SRC/docs/jobs.md" >"$tmp/hello.c"
check "docs/jobs.md has hello.c" test -s "$tmp/hello.c"
# shellcheck disable=SC2046
check "hello.so builds with pkg-config alone" \
	cc -fPIC $(pc --cflags loopvisor-job) -Wall -Wextra -Werror -o "$tmp/hello.so" "$tmp/hello.c" \
	   $(pc --libs loopvisor-job)
cat >"$tmp/hello.json" <<JSON
{ "job_path": ["."], "pools": [ { "name": "hello", "module": "hello", "workers": 2 } ] }
JSON
sbin=$(find "$tmp" -path '*/sbin/loopvisord' -type f | head -n 1)
bin=$(find "$tmp" -path '*/bin/loopvisorctl' -type f | head -n 1)
"$sbin" -c "$tmp/hello.json" -s "$tmp/hello.sock" 2>"$tmp/daemon.log" &
daemon=$!
check "the installed daemon runs the hello job" \
	sh -c "for i in \$(seq 100); do [ -S '$tmp/hello.sock' ] && break; sleep 0.05; done;
	       '$bin' -s '$tmp/hello.sock' call wait '{\"target\":\"hello\",\"state\":\"running\",\"timeout_ms\":10000}'"
check "and stops it" "$bin" -s "$tmp/hello.sock" shutdown
wait "$daemon"
rc=$?
daemon=""
check "the daemon exited 0" test "$rc" -eq 0

# cmake --install --prefix DIR, no DESTDIR: everything under DIR, and what names a path names
# DIR (pkg-config, the units), so the hello job builds against it with pkg-config alone
p="$tmp/prefix"
check "cmake --install --prefix (no DESTDIR)" cmake --install "$BUILD" --prefix "$p"
check "every installed file is under the prefix" \
	sh -c "grep -v '^$p/' '$BUILD/install_manifest.txt' | (! grep .)"
check "the install wrote files" test -s "$BUILD/install_manifest.txt"
check "the config is in PREFIX/etc/loopvisor" test -f "$p/etc/loopvisor/loopvisor.json"
for f in loopvisor.service loopvisor@.service loopvisor.socket; do
	check "the $f unit is in PREFIX/lib/systemd/system" test -f "$p/lib/systemd/system/$f"
done
check "loopvisor.service starts PREFIX's daemon with PREFIX's config" grep -qx \
	"ExecStart=$p/sbin/loopvisord -c $p/etc/loopvisor/loopvisor.json" "$p/lib/systemd/system/loopvisor.service"
check "bash completion" test -f "$p/share/bash-completion/completions/loopvisorctl"
check "zsh completion" test -f "$p/share/zsh/vendor-completions/_loopvisorctl"
ppc=$(find "$p" -name loopvisor-job.pc -printf '%h\n' | head -n 1)
check "the pkg-config file's prefix is PREFIX" \
	test "$(PKG_CONFIG_PATH="$ppc" pkg-config --variable=prefix loopvisor-job)" = "$p"
# shellcheck disable=SC2046
check "hello.so builds against PREFIX with pkg-config alone" \
	cc -fPIC $(PKG_CONFIG_PATH="$ppc" pkg-config --cflags loopvisor-job) -Wall -Wextra -Werror \
	   -o "$tmp/hello2.so" "$tmp/hello.c" $(PKG_CONFIG_PATH="$ppc" pkg-config --libs loopvisor-job)
check "and its header is PREFIX's" sh -c \
	"PKG_CONFIG_PATH='$ppc' pkg-config --cflags loopvisor-job | grep -q -- '-I$p/include'"
# and the daemon installed there runs the installed example config, whose ticker job it
# finds next to itself (bin/../lib/loopvisor/jobs), when the libdir is plain lib
if [ -f "$p/lib/loopvisor/jobs/ticker.so" ]; then
	"$p/sbin/loopvisord" -c "$p/etc/loopvisor/loopvisor.json" -s "$tmp/p.sock" 2>"$tmp/pdaemon.log" &
	daemon=$!
	check "PREFIX's daemon runs PREFIX's example config (the ticker job)" \
		sh -c "for i in \$(seq 100); do [ -S '$tmp/p.sock' ] && break; sleep 0.05; done;
		       '$p/bin/loopvisorctl' -s '$tmp/p.sock' --timeout 10000 wait ticker running"
	check "and stops" "$p/bin/loopvisorctl" -s "$tmp/p.sock" shutdown
	wait "$daemon"
	rc=$?
	daemon=""
	check "with exit 0" test "$rc" -eq 0
else
	echo "SKIP: the example config under PREFIX: the libdir is not lib, so the daemon does not look there"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
