#!/bin/sh
# test_deb: builds the Debian packages the way make deb does (scripts/build-deb.sh, debian/)
# and checks what they hold: lintian finds no error or warning, the units pass systemd-analyze
# verify where the package put them, installing enables and starts nothing, the debug
# symbols are in -dbgsym, -dev has the job header and pkg-config file, man pages and docs
# are there, compressed. Exits 77 (ctest's SKIP_RETURN_CODE) when the Debian tools are
# missing. Prints a closing "N passed, N failed" line.
set -u
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$2" && pwd)

for tool in dpkg-buildpackage dh lintian systemd-analyze; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "SKIP: test_deb: $tool is not installed (make deps-test installs it)"
		exit 77
	fi
done

out="$BUILD/deb-test"
tmp=$(mktemp -d /tmp/lvdeb.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. "$SRC/tests/lib/check.sh"

if ! "$SRC/scripts/build-deb.sh" "$out" 2 >"$BUILD/deb-test.log" 2>&1; then
	tail -30 "$BUILD/deb-test.log"
	echo "not ok - the packages build"
	echo "0 passed, 1 failed"
	exit 1
fi
echo "ok - the packages build (log: $BUILD/deb-test.log)"
pass=$((pass + 1))

version=$("$BUILD/bin/loopvisorctl" --version | sed 's/^loopvisorctl //')
deb="$out/loopvisor_${version}_$(dpkg --print-architecture).deb"
dev=$(ls "$out"/loopvisor-dev_"$version"_*.deb 2>/dev/null | head -n 1)
dbg=$(ls "$out"/loopvisor-dbgsym_"$version"_*.*deb 2>/dev/null | head -n 1)
changes=$(ls "$out"/loopvisor_"$version"_*.changes 2>/dev/null | head -n 1)
check "loopvisor $version (what loopvisorctl --version says) is built" test -f "$deb"
check "and loopvisor-dev" test -n "$dev"
check "and loopvisor-dbgsym, the debug symbols" test -n "$dbg"
check "and the .changes" test -n "$changes"

# lintian: nothing at error or warning level (info and pedantic are not failures); it warns
# on stderr when run as root, which is not about the package
check "lintian: no errors, no warnings" sh -c "
	lintian --fail-on error,warning '$changes' 2>'$tmp/lintian.err' >'$tmp/lintian.out'; rc=\$?
	cat '$tmp/lintian.out'; grep -v 'root privileges' '$tmp/lintian.err'
	[ \$rc -eq 0 ] && ! grep -q '^[EW]:' '$tmp/lintian.out'"

root="$tmp/root"
mkdir -p "$root" "$tmp/dev" "$tmp/dbg" "$tmp/ctl"
dpkg-deb -x "$deb" "$root"
dpkg-deb -x "$dev" "$tmp/dev"
dpkg-deb -x "$dbg" "$tmp/dbg"
dpkg-deb -e "$deb" "$tmp/ctl"

check "-dev holds loopvisor/job.h" test -f "$tmp/dev/usr/include/loopvisor/job.h"
check "-dev holds loopvisor-job.pc" test -n "$(find "$tmp/dev/usr/lib" -path '*/pkgconfig/loopvisor-job.pc')"
check "the pkg-config file names /usr" grep -qx 'prefix=/usr' \
	"$(find "$tmp/dev/usr/lib" -name loopvisor-job.pc | head -n 1)"
check "-dbgsym holds debug files by build id" \
	test -n "$(find "$tmp/dbg/usr/lib/debug/.build-id" -name '*.debug' 2>/dev/null)"
for b in usr/sbin/loopvisord usr/bin/loopvisorctl; do
	check "$b is stripped" sh -c "! readelf -S '$root/$b' | grep -q -e '\.debug_info' -e '\.symtab'"
done
check "the shipped job modules" test -f "$(find "$root/usr/lib" -path '*/loopvisor/jobs/ticker.so')"
# the python job has a package of its own: loopvisor alone needs no libpython
py=$(ls "$out"/loopvisor-python_"$version"_*.deb 2>/dev/null | head -n 1)
check "loopvisor-python holds the python job" sh -c "dpkg-deb -c '$py' | grep -q 'loopvisor/jobs/python.so'"
check "and loopvisor does not, nor needs libpython" sh -c "! dpkg-deb -c '$deb' | grep -q python.so && ! dpkg-deb -f '$deb' Depends | grep -q libpython"
for m in man1/loopvisorctl.1 man5/loopvisor.json.5 man8/loopvisord.8; do
	check "man page $m, compressed" test -f "$root/usr/share/man/$m.gz" -a ! -e "$root/usr/share/man/$m"
done
check "docs: README, copyright, changelog" test -f "$root/usr/share/doc/loopvisor/README.md.gz" \
	-a -f "$root/usr/share/doc/loopvisor/copyright" -a -f "$root/usr/share/doc/loopvisor/changelog.gz"
for d in "$SRC"/docs/*.md; do
	check "docs: $(basename "$d")" test -f "$root/usr/share/doc/loopvisor/$(basename "$d").gz"
done
check "copyright: ISC, machine-readable" sh -c "grep -q '^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' '$root/usr/share/doc/loopvisor/copyright' && grep -q '^License: ISC' '$root/usr/share/doc/loopvisor/copyright'"
check "the example config is a conffile" grep -qx /etc/loopvisor/loopvisor.json "$tmp/ctl/conffiles"
check "bash completion" test -f "$root/usr/share/bash-completion/completions/loopvisorctl"
check "zsh completion" test -f "$root/usr/share/zsh/vendor-completions/_loopvisorctl"
for u in loopvisor.service loopvisor@.service loopvisor.socket; do
	check "unit $u" test -f "$root/lib/systemd/system/$u"
done

# Installing enables and starts nothing: dh_installsystemd --no-enable --no-start writes
# snippets that only re-enable a unit the administrator had enabled (was-enabled, under
# debian-installed), never the first-install enable, nor a start or restart
check "the maintainer scripts start or restart no unit" \
	sh -c "! cat '$tmp/ctl/'p* 2>/dev/null | grep -E 'deb-systemd-invoke (start|restart)|systemctl.*(start|enable)'"
check "the postinst does not enable a unit on first install" sh -c "
	! grep -q 'was-enabled defaults to true' '$tmp/ctl/postinst' &&
	[ \$(grep -c 'deb-systemd-helper enable' '$tmp/ctl/postinst') -le \
	  \$(grep -c 'deb-systemd-helper debian-installed' '$tmp/ctl/postinst') ]"

# systemd-analyze verify where the package put the units, the package's files as the root
# (so ExecStart= finds /usr/sbin/loopvisord), with what a system has around them: kill for
# ExecReload= and systemd's own targets
mkdir -p "$root/bin"
cp -L /bin/kill "$root/bin/kill"
for t in /lib/systemd/system/*.target; do
	[ -e "$root/lib/systemd/system/$(basename "$t")" ] || cp "$t" "$root/lib/systemd/system/"
done
check "systemd-analyze verify --root: loopvisor.service, loopvisor.socket, loopvisor@demo.service" \
	sh -c "systemd-analyze verify --root='$root' --man=no loopvisor.service loopvisor.socket \
	       loopvisor@demo.service 2>&1 | (! grep .)"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
