"""What the benchmarks read of processes (/proc: memory, CPU, age, children, environment
markers), inotify through ctypes, and small helpers shared by the peer drivers."""

from __future__ import annotations

import ctypes
import os
import re
import resource
import select
import shlex
import struct
import subprocess
import time


# Children inherit this; at n = 10000 every tool needs thousands of fds.
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if _soft != _hard:
    resource.setrlimit(resource.RLIMIT_NOFILE, (_hard, _hard))

CLK_TCK = os.sysconf("SC_CLK_TCK")
TAG_VAR = "LOOPVISOR_BENCH_PEER"
MIN_UPTIME = 1.2          # seconds a worker must have run before restart_latency kills it
SETUP_POLL = 0.02        # setup is not timed: coarse polling is fine there
LOG_POLL = 0.002         # log_throughput polls log sizes every 2 ms
STORM_POLL = 0.02        # crash_storm reads runit/s6 status files every 20 ms


def read_proc(pid: int, name: str) -> bytes:
    try:
        with open(f"/proc/{pid}/{name}", "rb") as f:
            return f.read()
    except (FileNotFoundError, ProcessLookupError):
        raise ProcessLookupError(pid) from None


def stat_fields(pid: int) -> list[bytes]:
    """Fields of /proc/pid/stat from field 3 (state) on; comm may hold spaces."""
    data = read_proc(pid, "stat")
    return data[data.rindex(b")") + 2:].split()


def rss_kib(pid: int) -> int:
    """VmRSS of pid in KiB (0 for a process without memory, e.g. a zombie)."""
    m = re.search(rb"^VmRSS:\s+(\d+) kB", read_proc(pid, "status"), re.M)
    return int(m.group(1)) if m else 0


def cpu_seconds(pid: int) -> float:
    """utime + stime of pid, in seconds."""
    f = stat_fields(pid)
    return (int(f[11]) + int(f[12])) / CLK_TCK


def pss_kib(pid: int) -> int:
    """Pss of pid in KiB, from /proc/pid/smaps_rollup."""
    m = re.search(rb"^Pss:\s+(\d+) kB", read_proc(pid, "smaps_rollup"), re.M)
    return int(m.group(1)) if m else 0


def percentile(values, p: float) -> float:
    """p-th percentile (0..100) with linear interpolation between ranks."""
    v = sorted(values)
    if not v:
        raise ValueError("percentile of no values")
    k = (len(v) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def alive(pid: int) -> bool:
    """True if pid exists and is not a zombie; never reaps anything."""
    try:
        return stat_fields(pid)[0] != b"Z"
    except ProcessLookupError:
        return False


def age(pid: int) -> float:
    """Seconds since pid started (10 ms resolution)."""
    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    return uptime - int(stat_fields(pid)[19]) / CLK_TCK


def pids_with_env(marker: bytes) -> list[int]:
    """Live processes whose environment contains marker (zombies have none)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if marker in f.read():
                        found.append(int(entry))
            except OSError:
                pass
    return found


def children_named(parents: set[int], comm: bytes) -> list[int]:
    """Live children of any of parents whose command name is comm."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    data = f.read()
            except OSError:
                continue
            name = data[data.index(b"(") + 1:data.rindex(b")")]
            fields = data[data.rindex(b")") + 2:].split()
            if name == comm and fields[0] != b"Z" and int(fields[1]) in parents:
                found.append(int(entry))
    return sorted(found)


def remaining(deadline: float, what: str) -> float:
    left = deadline - time.perf_counter()
    if left <= 0:
        raise TimeoutError(what)
    return left


def write_file(path: str, text: str, mode: int = 0o644) -> None:
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def run_cli(argv: list[str], timeout: float, ok=(0,)) -> float:
    """Run a user-facing CLI, read all its output; return its wall time."""
    t0 = time.perf_counter()
    try:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TimeoutError(f"{argv[0]} took more than {timeout} s") from None
    elapsed = time.perf_counter() - t0
    if r.returncode not in ok:
        raise RuntimeError(f"{shlex.join(argv[:4])}... exited {r.returncode}: "
                           f"{(r.stderr or r.stdout)[-500:].decode(errors='replace')}")
    return elapsed


def wait_uptime(pid: int, deadline: float) -> None:
    while True:
        short = MIN_UPTIME - age(pid)
        if short <= 0:
            return
        time.sleep(min(short, remaining(deadline, "waiting for worker uptime")))


class Inotify:
    """Minimal inotify(7) through ctypes."""

    MODIFY = 0x2
    MOVED_TO = 0x80
    Q_OVERFLOW = 0x4000
    _libc = ctypes.CDLL(None, use_errno=True)

    def __init__(self):
        self.fd = self._libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        self._poll = select.poll()
        self._poll.register(self.fd, select.POLLIN)

    def watch(self, path: str, mask: int) -> int:
        wd = self._libc.inotify_add_watch(self.fd, os.fsencode(path), mask)
        if wd < 0:
            raise OSError(ctypes.get_errno(), f"inotify_add_watch {path}")
        return wd

    def read(self, timeout: float) -> list[tuple[int, int, bytes]]:
        """(wd, mask, name) events, waiting up to timeout s; [] if none came."""
        if not self._poll.poll(max(0, int(timeout * 1000 + 0.999))):
            return []
        events = []
        while True:
            try:
                buf = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                return events
            off = 0
            while off < len(buf):
                wd, mask, _cookie, size = struct.unpack_from("iIII", buf, off)
                name = buf[off + 16:off + 16 + size].rstrip(b"\0")
                events.append((wd, mask, name))
                off += 16 + size

    def close(self) -> None:
        os.close(self.fd)


class PidChangeCounter:
    """Counts restarts as changes to a new non-zero pid in the tool's status
    files, sampled every STORM_POLL s (a worker living >= 1 s cannot restart
    twice between two samples)."""

    def __init__(self, read_pids):
        self._read = read_pids
        self._last = read_pids()
        self.count = 0

    def sample(self) -> None:
        for i, pid in enumerate(self._read()):
            if pid and pid != self._last[i]:
                self.count += 1
                self._last[i] = pid
