#!/bin/sh
# Installs the Debian packages loopvisor needs, only those missing. Called by the Makefile
# before every build (with "test" before the suite, "deb" before make deb); a no-op when all
# are present.
set -eu

# libncurses-dev: loopvisorctl top draws its screen with ncurses; libpython3-dev: the
# "python" job embeds CPython (docs/python.md).
PKGS="build-essential cmake pkg-config libevent-dev libjansson-dev libsystemd-dev check"
PKGS="$PKGS libncurses-dev libpython3-dev"
# Real programs the integration tests supervise: redis-server and systemd-notify speak
# sd_notify without knowing loopvisor; systemd-nspawn and debootstrap boot a real systemd.
if [ "${1:-}" = "test" ]; then
	PKGS="$PKGS redis-server systemd systemd-container debootstrap clang libclang-rt-14-dev"
	PKGS="$PKGS valgrind util-linux patch"
	# test_top runs loopvisorctl top in a tmux pane and reads the screen back
	PKGS="$PKGS tmux"
	# test_python_serve: an ASGI app under uvicorn and an aiohttp app
	PKGS="$PKGS python3-uvicorn python3-aiohttp"
fi
# Building the Debian packages and checking them (make deb, and test_deb in the suite);
# zsh for test_completion's syntax check of the zsh completion.
if [ "${1:-}" = "test" ] || [ "${1:-}" = "deb" ]; then
	PKGS="$PKGS systemd dpkg-dev debhelper lintian"
fi
if [ "${1:-}" = "test" ]; then
	# prometheus: promtool and a real server check GET /metrics (test_http, test_prometheus);
	# chromium: the dashboard in a real browser (test_dashboard)
	PKGS="$PKGS zsh prometheus chromium"
fi
# make test-vm: a VM under software emulation with Debian's kernel (downloaded, not
# installed: tests/vm/run.sh), booted from an initramfs of busybox and the build.
if [ "${1:-}" = "vm" ]; then
	PKGS="$PKGS qemu-system-x86 busybox-static cpio"
fi
# The peers make bench compares with, its driver and its plots.
if [ "${1:-}" = "bench" ]; then
	PKGS="$PKGS python3 supervisor runit s6 gnuplot-nox"
	# the python scenario: gunicorn with uvicorn's worker class, wrk for the load
	PKGS="$PKGS gunicorn python3-uvicorn wrk"
fi

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 || { echo "install-deps: need root or sudo to install:$missing" >&2; exit 1; }
	SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# Do not start the services that packages bring (redis-server, supervisor): tests and
# benchmarks start their own.
export RUNLEVEL=1
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends $missing
