#!/usr/bin/env bash
# make mutants: every tests/mutants/*.patch is a small deliberate breakage of a promised
# behaviour, with the ctest test that must catch it. Each is applied in turn to one scratch
# copy of the tree, built, and its test run: a test that still passes (the mutant
# survived) or a patch that no longer applies (stale) fails the run.
#
#   scripts/mutants.sh [SCRATCH_DIR] [PATCH...]
#
# A patch file is a header, then a unified diff from the repository root (patch -p1):
#   Mutant: M1 a module heartbeat no longer pushes the hang deadline
#   Kills: test_workers
#   ---
# "Kills: vm:test_memory" runs that suite in make test-vm's VM (tests/vm/run.sh) instead:
# for what needs a memory controller in cgroup v2, which this project's CI hosts lack.
#   diff --git a/daemon/proc/loop_channel.c b/daemon/proc/loop_channel.c ...
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scratch=${1:-build-mutants}
shift || true
if [ $# -gt 0 ]; then patches=("$@"); else patches=(tests/mutants/*.patch); fi
[ -e "${patches[0]}" ] || { echo "mutants: no patches in tests/mutants"; exit 1; }
jobs=$(nproc)

# A fresh copy of the working tree (tracked and new files, not the build folders), built
# once; each mutant then rebuilds only what it touches.
rm -rf "$scratch"
mkdir -p "$scratch/src"
git ls-files -z --cached --others --exclude-standard |
	grep -zv -E '^(build|build-asan|build-release|build-fuzz|build-deb|build-mutants|build-vm|run)/' |
	tar --null -T - -cf - | tar -xf - -C "$scratch/src"
src=$(cd "$scratch/src" && pwd)
bld=$src/build
log=$(cd "$scratch" && pwd)/log
mkdir -p "$log"
echo "mutants: building the unmutated tree in $src"
if ! { cmake -S "$src" -B "$bld" -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
       cmake --build "$bld" -j "$jobs"; } >"$log/build.log" 2>&1; then
	tail -30 "$log/build.log"
	echo "mutants: the unmutated tree does not build"
	exit 1
fi

kills_of() { sed -n 's/^Kills:[[:space:]]*//p' "$1" | head -1; }
diff_of() { sed -n '/^diff --git /,$p' "$1"; }
run_test() {
	case $1 in
	vm:*) (cd "$src" && sh tests/vm/run.sh "$bld" "${1#vm:}") >"$2" 2>&1 ;;
	*) (cd "$bld" && ctest -R "^$1\$" --timeout 600 --output-on-failure) >"$2" 2>&1 ;;
	esac
}
passed() { grep -q -e "tests passed, 0 tests failed out of 1" -e "test-vm: every suite passed" "$1"; }

# Every test that is to kill a mutant must pass without one, or its failure proves nothing.
declare -A baseline
for p in "${patches[@]}"; do
	t=$(kills_of "$p")
	[ -n "$t" ] && [ -z "${baseline[$t]:-}" ] || continue
	if run_test "$t" "$log/$t.unmutated.log" && passed "$log/$t.unmutated.log"; then
		baseline[$t]=pass
	else
		baseline[$t]=fail
		echo "mutants: $t fails without any mutant (see $log/$t.unmutated.log)"
	fi
done

killed=0 survived=0 stale=0 broken=0
for p in "${patches[@]}"; do
	name=$(basename "$p" .patch)
	t=$(kills_of "$p")
	what=$(sed -n 's/^Mutant:[[:space:]]*//p' "$p" | head -1)
	if [ -z "$t" ] || [ -z "$(diff_of "$p")" ]; then
		echo "mutant $name: STALE (no Kills: line or no diff)"; stale=$((stale + 1)); continue
	fi
	if [ "${baseline[$t]}" != pass ]; then
		echo "mutant $name: NOT JUDGED ($t fails unmutated)"; broken=$((broken + 1)); continue
	fi
	if ! diff_of "$p" | (cd "$src" && patch -p1 --dry-run -s >/dev/null 2>&1); then
		echo "mutant $name: STALE (no longer applies): $what"; stale=$((stale + 1)); continue
	fi
	diff_of "$p" | (cd "$src" && patch -p1 -s)
	start=$(date +%s)
	if ! cmake --build "$bld" -j "$jobs" >"$log/$name.build.log" 2>&1; then
		echo "mutant $name: BROKEN (does not build, proves nothing): $what"
		broken=$((broken + 1))
	elif run_test "$t" "$log/$name.log"; then
		echo "mutant $name: SURVIVED $t ($(( $(date +%s) - start )) s): $what"
		survived=$((survived + 1))
	else
		echo "mutant $name: killed by $t ($(( $(date +%s) - start )) s): $what"
		grep -h -E ':[FE]:' "$log/$name.log" | head -2 | sed 's/^/    /'
		killed=$((killed + 1))
	fi
	diff_of "$p" | (cd "$src" && patch -R -p1 -s)
done
cmake --build "$bld" -j "$jobs" >"$log/restore.log" 2>&1 # leave the copy unmutated
echo "mutants: $killed killed, $survived survived, $stale stale, $broken broken or not judged"
[ $((survived + stale + broken)) -eq 0 ]
