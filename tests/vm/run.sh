#!/bin/sh
# make test-vm: runs the integration suites that need what this project's CI hosts lack (the
# memory controller in cgroup v2: test_memory) in a VM, with test_cgroups beside them.
#
#   tests/vm/run.sh BUILD_DIR [SUITE...]
#
# The VM is qemu under software emulation (no KVM here), booted straight into an initramfs:
# Debian's kernel (its package downloaded with apt-get download, not installed), busybox for
# the shell and the tools the suites run (sh, sleep, setsid), and the build's own programs
# and the libraries they load, at the same absolute paths as here. Its init mounts cgroup2
# alone (a pure cgroup v2 host), hands memory, pids and cpu down from the root, runs each
# suite as ctest would, prints "lv-vm: SUITE rc=N" and powers off. About a minute a boot
# and a suite here. Exit status: 0 when every suite passed.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: tests/vm/run.sh BUILD_DIR [SUITE...]}" && pwd)
shift
suites=${*:-test_memory test_cgroups}
work=$root/build-vm
mkdir -p "$work"

# Debian's current kernel, fetched once
kpkg=$(apt-cache depends linux-image-amd64 | sed -n 's/.*Depends: //p' | head -1)
kernel=$work/vmlinuz-${kpkg#linux-image-}
if [ ! -s "$kernel" ]; then
	(cd "$work" && rm -f "$kpkg"_*.deb && apt-get download "$kpkg")
	dpkg-deb --fsys-tarfile "$work/$kpkg"_*.deb |
		tar -xO "./boot/vmlinuz-${kpkg#linux-image-}" > "$kernel.part"
	mv "$kernel.part" "$kernel"
	rm -f "$work/$kpkg"_*.deb
fi

# The initramfs: busybox, the build's programs and every library they load
tree=$work/root
rm -rf "$tree"
mkdir -p "$tree/bin" "$tree/proc" "$tree/sys" "$tree/dev" "$tree/tmp" "$tree/run" "$tree/etc"
cp /bin/busybox "$tree/bin/busybox"
# the users the suites would make with useradd, which busybox lacks
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\nlvt_cgroup:x:60001:60001::/:/bin/false\n' > "$tree/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\nlvt_cgroup:x:60001:\n' > "$tree/etc/group"
# util-linux's setpriv (busybox's cannot change users)
files="$build/bin/loopvisord $build/bin/loopvisorctl /usr/bin/setpriv"
for f in "$build"/tests/*_helper "$build"/tests/*.so "$build"/lib/loopvisor/jobs/*.so; do
	files="$files $f"
done
for s in $suites; do
	files="$files $build/tests/$s"
done
for f in $files; do
	mkdir -p "$tree$(dirname "$f")"
	cp "$f" "$tree$f"
	ldd "$f" | awk '/=> \// { print $3 } /^\t\/.*ld-linux/ { print $1 }'
done | sort -u | while read -r lib; do
	mkdir -p "$tree$(dirname "$lib")"
	cp -L "$lib" "$tree$lib"
done
[ -e "$tree/lib64/ld-linux-x86-64.so.2" ] || {
	mkdir -p "$tree/lib64"
	cp -L /lib64/ld-linux-x86-64.so.2 "$tree/lib64/"
}
sed -e "s|@BUILD@|$build|g" -e "s|@SUITES@|$suites|g" "$root/tests/vm/init" > "$tree/init"
chmod 755 "$tree/init"
(cd "$tree" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initrd.gz"

# Boot it: the console is the serial line, read here; the VM powers off when done
log=$work/console.log
echo "test-vm: booting $(basename "$kernel") with: $suites"
timeout 1800 qemu-system-x86_64 -accel tcg -m 1536 -smp 2 -nographic -no-reboot \
	-kernel "$kernel" -initrd "$work/initrd.gz" \
	-append "console=ttyS0 panic=-1 quiet rdinit=/init" > "$log" 2>&1 || true
tr -d '\r' < "$log" | grep -E '^(lv-vm|[0-9]+%: Checks|test_|.*:[FE]:)' || true
fail=0
for s in $suites; do
	if ! tr -d '\r' < "$log" | grep -q "^lv-vm: $s rc=0$"; then
		echo "test-vm: $s did not pass (see $log)"
		fail=1
	fi
done
[ $fail -eq 0 ] && echo "test-vm: every suite passed"
exit $fail
