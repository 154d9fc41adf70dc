#!/bin/sh
# build-deb.sh OUTDIR [JOBS]: builds the Debian packages from debian/ with
# dpkg-buildpackage -b -us -uc. dpkg-buildpackage writes its results next to the source
# folder, so the source is copied to OUTDIR/src first (build folders and .git left out) and
# the .deb, .ddeb/-dbgsym, .buildinfo and .changes files land in OUTDIR. Used by make deb
# and the tests that need the package.
set -eu
out=$1
jobs=${2:-$(nproc)}
src=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -rf "$out/src"
rm -f "$out"/*.deb "$out"/*.ddeb "$out"/*.changes "$out"/*.buildinfo
mkdir "$out/src"
# the source without build trees (also OUTDIR itself when it is inside the source)
(cd "$src" && tar -c --exclude=./.git --exclude='./build' --exclude='./build-*' \
	--exclude=./run --exclude="./${out#"$src"/}" .) | tar -x -C "$out/src"
cd "$out/src"
DEB_BUILD_OPTIONS="parallel=$jobs${DEB_BUILD_OPTIONS:+ $DEB_BUILD_OPTIONS}" \
	dpkg-buildpackage -b -us -uc
cd "$out"
rm -rf "$out/src"
ls -1 "$out"/*.deb "$out"/*.changes
