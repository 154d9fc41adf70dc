"""Peer process supervisors driven side by side with loopvisor.

Three classes with one interface -- Supervisord, Runit, S6 -- each run that
supervisor in the foreground, as a child of this process in its own session,
inside a directory it owns under the caller's workdir.  Every timing is taken
with time.perf_counter() in this process.  How each figure is observed:

* supervisord: start_all is one XML-RPC supervisor.startAllProcesses(wait=True)
  (what `supervisorctl start all` sends); it returns once supervisord holds
  every process RUNNING.  restart_latency watches supervisord's own log with
  inotify (event-driven) for the worker's "entered RUNNING state" line.  It
  does not poll XML-RPC because every request wakes supervisord's main loop:
  under Python 3 SIGCHLD does not interrupt its poll() (PEP 475), so an idle
  supervisord notices a death by the pipe EOF (or the 1 s poll timeout when
  the child is not reapable yet), respawns on the next 1 s turn and marks
  RUNNING on the one after -- 2 to 3 s -- while a polled one does it in ~10 ms.
* runit: state is runsv's supervise/status file, which runsv replaces by
  rename(); an inotify watch on supervise/ reports every update (event-driven).
* s6: state comes from s6-supervise's event fifodir: a FIFO named
  ftrig1:@<tai64n>:<random> in servicedir/event, exactly what
  s6-ftrig-listen1 / s6-svwait create (event-driven), checked against
  supervise/status.
Polled, with the interval given where defined below: setup readiness (20 ms,
untimed), log file sizes in log_throughput (2 ms), runit/s6 pids for the
crash_storm restart count (20 ms).

Restart delays are the lowest each tool allows: supervisord autorestart=true,
startsecs=0, startretries 1000000 (no backoff applies with startsecs=0);
runit and s6 have no finish script.  runsv still sleeps 1 s before restarting a
service that ran less than 1 s, and s6-supervise (2.11) waits 1 s after a death
unless the service signalled readiness more than 1 s earlier, so s6 run
scripts signal readiness (notification-fd 3) before exec'ing the worker, which
makes restarts immediate.  restart_latency therefore only kills a worker that
has been up for MIN_UPTIME seconds, the same for every tool.

Every process a Peer starts carries a marker in its environment (inherited by
all three tools' children), so teardown() finds and kills everything it
started through /proc even after reparenting or setsid, and leftover_pids()
proves nothing is left.

Only the standard library is used; inotify is reached through ctypes.
"""

from __future__ import annotations

import ctypes
import http.client
import os
import re
import resource
import select
import selectors
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid
import xmlrpc.client

# Children inherit this; at n = 10000 every tool needs thousands of fds.
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if _soft != _hard:
    resource.setrlimit(resource.RLIMIT_NOFILE, (_hard, _hard))

_CLK_TCK = os.sysconf("SC_CLK_TCK")
_TAG_VAR = "LOOPVISOR_BENCH_PEER"
MIN_UPTIME = 1.2          # seconds a worker must have run before restart_latency kills it
_SETUP_POLL = 0.02        # setup is not timed: coarse polling is fine there
_LOG_POLL = 0.002         # log_throughput polls log sizes every 2 ms
_STORM_POLL = 0.02        # crash_storm reads runit/s6 status files every 20 ms


# ---------------------------------------------------------------- /proc helpers

def _read_proc(pid: int, name: str) -> bytes:
    try:
        with open(f"/proc/{pid}/{name}", "rb") as f:
            return f.read()
    except (FileNotFoundError, ProcessLookupError):
        raise ProcessLookupError(pid) from None


def _stat_fields(pid: int) -> list[bytes]:
    """Fields of /proc/pid/stat from field 3 (state) on; comm may hold spaces."""
    data = _read_proc(pid, "stat")
    return data[data.rindex(b")") + 2:].split()


def rss_kib(pid: int) -> int:
    """VmRSS of pid in KiB (0 for a process without memory, e.g. a zombie)."""
    m = re.search(rb"^VmRSS:\s+(\d+) kB", _read_proc(pid, "status"), re.M)
    return int(m.group(1)) if m else 0


def cpu_seconds(pid: int) -> float:
    """utime + stime of pid, in seconds."""
    f = _stat_fields(pid)
    return (int(f[11]) + int(f[12])) / _CLK_TCK


def pss_kib(pid: int) -> int:
    """Pss of pid in KiB, from /proc/pid/smaps_rollup."""
    m = re.search(rb"^Pss:\s+(\d+) kB", _read_proc(pid, "smaps_rollup"), re.M)
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


def _alive(pid: int) -> bool:
    """True if pid exists and is not a zombie; never reaps anything."""
    try:
        return _stat_fields(pid)[0] != b"Z"
    except ProcessLookupError:
        return False


def _age(pid: int) -> float:
    """Seconds since pid started (10 ms resolution)."""
    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    return uptime - int(_stat_fields(pid)[19]) / _CLK_TCK


def _pids_with_env(marker: bytes) -> list[int]:
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


def _children(parents: set[int], comm: bytes) -> list[int]:
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


def _remaining(deadline: float, what: str) -> float:
    left = deadline - time.perf_counter()
    if left <= 0:
        raise TimeoutError(what)
    return left


def _write(path: str, text: str, mode: int = 0o644) -> None:
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def _run_cli(argv: list[str], timeout: float, ok=(0,)) -> float:
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


def _wait_uptime(pid: int, deadline: float) -> None:
    while True:
        short = MIN_UPTIME - _age(pid)
        if short <= 0:
            return
        time.sleep(min(short, _remaining(deadline, "waiting for worker uptime")))


class _Inotify:
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


class _PidChangeCounter:
    """Counts restarts as changes to a new non-zero pid in the tool's status
    files, sampled every _STORM_POLL s (a worker living >= 1 s cannot restart
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


# ---------------------------------------------------------------- base class

class Peer:
    """One supervisor under test.  See the module docstring."""

    name = ""
    binaries: tuple[str, ...] = ()
    setup_timeout = 120.0   # seconds setup() may take
    stop_grace = 5.0        # seconds between SIGTERM and SIGKILL in teardown()

    def __init__(self, workdir: str):
        self.workdir = workdir
        self.n = 0
        self.dir = ""                       # this setup's directory under workdir
        self._roots: list[subprocess.Popen] = []
        self._id = uuid.uuid4().hex         # marks everything this object starts
        self._marker = b""                  # marks everything the current setup started
        self._env: dict[str, str] = {}      # environment of the current setup's roots
        self._runs = 0

    # ---- lifecycle

    def available(self) -> bool:
        return all(shutil.which(b) for b in self.binaries)

    def setup(self, n: int, argv: list[str], *, autostart: bool = False) -> None:
        """Configure n workers running argv, start the supervisor, return when
        it knows all n (and, with autostart, has run each at least once)."""
        self._setup(n, argv, autostart, capture_logs=False)

    def _setup(self, n: int, argv: list[str], autostart: bool, capture_logs: bool) -> None:
        if self._roots:
            raise RuntimeError(f"{self.name}: already set up; call teardown() first")
        deadline = time.perf_counter() + self.setup_timeout
        self._runs += 1
        self.n = n
        self.dir = os.path.join(self.workdir, f"{self.name}-{self._runs}")
        os.mkdir(self.dir)
        tag = f"{self._id}-{self._runs}"
        self._marker = f"{_TAG_VAR}={tag}".encode()
        self._env = dict(os.environ, **{_TAG_VAR: tag})
        try:
            self._configure(argv, autostart, capture_logs, deadline)
            self._launch()
            self._wait_ready(autostart, deadline)
        except BaseException:
            self.teardown()
            raise

    def _spawn(self, argv: list[str], out_name: str) -> None:
        """Start a root supervisor process in its own session, output to a file."""
        with open(os.path.join(self.dir, out_name), "wb") as out:
            self._roots.append(subprocess.Popen(
                argv, cwd=self.dir, env=self._env, stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True))

    def _check_roots(self) -> None:
        for p in self._roots:
            if not _alive(p.pid):
                out = ""
                for f in sorted(os.listdir(self.dir)):
                    if f.endswith(".out"):
                        with open(os.path.join(self.dir, f), "rb") as fh:
                            out += fh.read()[-2000:].decode(errors="replace")
                raise RuntimeError(f"{self.name}: {p.args[0]} died: {out}")

    def teardown(self) -> None:
        """SIGTERM everything this setup started (root process groups and every
        marked pid), SIGKILL what is left after stop_grace, reap the roots and
        check /proc that no marked process remains.  Idempotent."""
        self._close()
        if not self._marker:
            return

        def signal_all(sig):
            left = _pids_with_env(self._marker)
            for p in self._roots:
                if p.returncode is None:      # never reaped yet: its pgid is ours
                    try:
                        os.killpg(p.pid, sig)
                    except ProcessLookupError:
                        pass
            for pid in left:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            return left

        end = time.perf_counter() + self.stop_grace
        signal_all(signal.SIGTERM)
        while _pids_with_env(self._marker) and time.perf_counter() < end:
            time.sleep(0.05)
        end = time.perf_counter() + 30
        while signal_all(signal.SIGKILL):
            if time.perf_counter() > end:
                raise RuntimeError(f"{self.name}: processes survive SIGKILL: "
                                   f"{_pids_with_env(self._marker)}")
            time.sleep(0.02)
        for p in self._roots:
            p.wait()
        self._roots = []
        self._marker = b""

    def leftover_pids(self) -> list[int]:
        """Live processes started by any setup of this object (should be [])."""
        return _pids_with_env(f"{_TAG_VAR}={self._id}-".encode())

    # ---- measurements shared by all tools

    def restart_latency(self, index: int, timeout: float = 10) -> float:
        """kill -9 worker index (once it has run MIN_UPTIME s) and return the
        seconds until the tool reports a new process for it running."""
        deadline = time.perf_counter() + timeout
        old = self._pid(index)
        if not old:
            raise RuntimeError(f"{self.name}: worker {index} is not running")
        _wait_uptime(old, deadline)
        return self._time_restart(index, old, deadline)

    def ping_latency(self, timeout: float = 10) -> float | None:
        return None

    def crash_storm(self, n: int, seconds: float) -> dict:
        """Run for `seconds` while the n workers (setup(n, ["sleep", "1"],
        autostart=True)) die and get restarted; ping back to back where the tool
        has a control server.  Restarts are counted by _restart_counter()."""
        if n != self.n:
            raise ValueError(f"{self.name}: set up with {self.n} workers, not {n}")
        pings = []
        has_ping = self.ping_latency() is not None   # also opens the connection
        counter = self._restart_counter()
        t0 = time.perf_counter()
        end = t0 + seconds
        while time.perf_counter() < end:
            if has_ping:
                pings.append(self.ping_latency())
            else:
                counter.sample()
                time.sleep(_STORM_POLL)
        counter.sample()
        elapsed = time.perf_counter() - t0
        ms = [p * 1000 for p in pings]
        return {
            "restarts": counter.count,
            "restarts_per_s": counter.count / elapsed,
            "ping_p50_ms": percentile(ms, 50) if ms else None,
            "ping_p99_ms": percentile(ms, 99) if ms else None,
            "ping_max_ms": max(ms) if ms else None,
        }

    def log_throughput(self, n_workers: int, lines_per_worker: int, line_len: int,
                       timeout: float) -> dict:
        """Set up n_workers that each print lines_per_worker lines of line_len
        bytes (newline included) then sleep, captured by the tool's own logger
        without rotation; "seconds" runs from the bulk start until every
        worker's log holds all its bytes (sizes polled every 2 ms), or to the
        timeout.  Lines are then counted as payload lines, as loopvisor.py
        does.  Tears down when done."""
        if line_len < 2:
            raise ValueError("line_len counts the newline and must be >= 2")
        payload = b"x" * (line_len - 1) + b"\n"
        script = (f"yes {'x' * (line_len - 1)} | head -n {lines_per_worker}; "
                  "exec sleep 1000")
        per_worker = lines_per_worker * line_len
        self._setup(n_workers, ["sh", "-c", script], False, capture_logs=True)
        try:
            deadline = time.perf_counter() + timeout
            t0 = time.perf_counter()
            self.start_all(timeout)
            # A worker's bytes reach its log in order, so a full size means all
            # its payload is there (supervisord may append a stderr line after).
            pending = set(range(n_workers))
            while pending and time.perf_counter() < deadline:
                pending = {i for i in pending
                           if sum(map(os.path.getsize, self._log_files(i))) < per_worker}
                if pending:
                    time.sleep(_LOG_POLL)
            seconds = time.perf_counter() - t0
            found = 0
            for i in range(n_workers):
                for path in self._log_files(i):
                    with open(path, "rb") as f:
                        found += f.read().count(payload)
        finally:
            self.teardown()
        return {
            "seconds": seconds,
            "mb_per_s": found * line_len / 1e6 / seconds,
            "lines_expected": n_workers * lines_per_worker,
            "lines_found": found,
        }

    # ---- per tool

    def _configure(self, argv, autostart, capture_logs, deadline): raise NotImplementedError
    def _launch(self): raise NotImplementedError
    def _wait_ready(self, autostart, deadline): raise NotImplementedError
    def _pid(self, index: int) -> int: raise NotImplementedError
    def _time_restart(self, index, old, deadline): raise NotImplementedError
    def _restart_counter(self): raise NotImplementedError
    def _log_files(self, i: int) -> list[str]: raise NotImplementedError

    def _close(self) -> None:
        """Release client-side resources (connections) before teardown."""

    def start_all(self, timeout: float) -> float: raise NotImplementedError
    def worker_pids(self) -> list[int]: raise NotImplementedError
    def status_all(self, timeout: float = 120) -> float: raise NotImplementedError
    def supervisor_pids(self) -> list[int]: raise NotImplementedError


# ---------------------------------------------------------------- supervisord

class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


class _UnixTransport(xmlrpc.client.Transport):
    """XML-RPC over supervisord's unix socket, one persistent connection."""

    def __init__(self, path: str):
        super().__init__()
        self._path = path
        self.timeout = 10.0

    def make_connection(self, host):
        if self._connection and self._connection[0] == host:
            conn = self._connection[1]
        else:
            conn = _UnixHTTPConnection(self._path, self.timeout)
            self._connection = host, conn
        conn.timeout = self.timeout
        if conn.sock is not None:
            conn.sock.settimeout(self.timeout)
        return conn


class _LogCounter:
    """Counts supervisord's "spawned: 'w_" log lines written since creation."""

    def __init__(self, path: str):
        self._path = path
        self._start = os.path.getsize(path)
        self.count = 0

    def sample(self) -> None:
        with open(self._path, "rb") as f:
            f.seek(self._start)
            self.count = f.read().count(b"spawned: 'w_")


class Supervisord(Peer):
    """supervisord 4 with one [program:w] of numprocs=n.

    start_all: XML-RPC startAllProcesses(wait=True), returns when all RUNNING.
    restart_latency: event-driven (inotify on supervisord.log, "entered RUNNING
    state" line), pid change confirmed by getProcessInfo afterwards.
    status_all: `supervisorctl -c CONF status`.  ping_latency: getState over a
    persistent unix-socket connection.  crash_storm restarts: "spawned:" lines
    in supervisord.log.
    """

    name = "supervisord"
    binaries = ("supervisord", "supervisorctl")

    def _configure(self, argv, autostart, capture_logs, deadline):
        def esc(s):
            return s.replace("%", "%%")
        d = self.dir
        self._conf = os.path.join(d, "supervisord.conf")
        self._sock = os.path.join(d, "supervisor.sock")
        self._log = os.path.join(d, "supervisord.log")
        if len(self._sock) > 100:
            raise ValueError(f"socket path too long for AF_UNIX: {self._sock}")
        minfds = max(1024, 3 * self.n + 64)   # stdin + stdout pipes + log file each
        if os.geteuid() != 0:                 # only root may raise the hard limit
            minfds = min(minfds, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
        if capture_logs:
            # stdout only, like runit's and s6's log pipes; stderr is read and dropped.
            os.mkdir(os.path.join(d, "logs"))
            stdout_log = esc(os.path.join(d, "logs")) + "/w_%(process_num)d.log"
        else:
            stdout_log = "NONE"
        _write(self._conf, f"""\
[unix_http_server]
file={esc(self._sock)}

[supervisord]
nodaemon=true
logfile={esc(self._log)}
logfile_maxbytes=0
pidfile={esc(os.path.join(d, "supervisord.pid"))}
childlogdir={esc(d)}
minfds={minfds}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{esc(self._sock)}

[program:w]
command={esc(shlex.join(argv))}
numprocs={self.n}
process_name=%(program_name)s_%(process_num)d
autostart={str(autostart).lower()}
autorestart=true
startsecs=0
startretries=1000000
redirect_stderr={str(not capture_logs).lower()}
stdout_logfile={stdout_log}
stderr_logfile=NONE
stdout_logfile_maxbytes=0
stdout_logfile_backups=0
""")
        self._transport = _UnixTransport(self._sock)
        self._rpc = xmlrpc.client.ServerProxy("http://localhost", transport=self._transport)

    def _launch(self):
        self._spawn(["supervisord", "-c", self._conf], "supervisord.out")

    def _call(self, timeout: float, method: str, *args):
        self._transport.timeout = timeout
        try:
            return getattr(self._rpc.supervisor, method)(*args)
        except TimeoutError:
            self._transport.close()      # the reply may still come: drop the connection
            raise TimeoutError(f"{self.name}: {method} took more than {timeout:.3g} s") from None

    def _wait_ready(self, autostart, deadline):
        seen = set()
        while True:
            self._check_roots()
            left = _remaining(deadline, f"{self.name} setup")
            try:
                if self._call(left, "getState")["statename"] == "RUNNING":
                    infos = self._call(_remaining(deadline, f"{self.name} setup"),
                                       "getAllProcessInfo")
                    seen.update(i["name"] for i in infos if i["pid"])
                    if len(infos) == self.n and (not autostart or len(seen) == self.n):
                        return
            except (FileNotFoundError, ConnectionRefusedError):
                self._transport.close()   # socket not there yet
            time.sleep(_SETUP_POLL)

    def _close(self):
        if self._roots:
            self._transport.close()

    def start_all(self, timeout: float) -> float:
        t0 = time.perf_counter()
        results = self._call(timeout, "startAllProcesses", True)
        elapsed = time.perf_counter() - t0
        failed = [r for r in results if r["status"] != 80]    # Faults.SUCCESS
        if failed:
            raise RuntimeError(f"{self.name}: start failed: {failed[:3]}")
        return elapsed

    def worker_pids(self) -> list[int]:
        pids = [0] * self.n
        for info in self._call(60, "getAllProcessInfo"):
            pids[int(info["name"].rsplit("_", 1)[1])] = info["pid"]
        return pids

    def _pid(self, index):
        return self._call(60, "getProcessInfo", f"w:w_{index}")["pid"]

    def _time_restart(self, index, old, deadline):
        needle = f"success: w_{index} entered RUNNING state".encode()
        ino = _Inotify()
        try:
            ino.watch(self._log, _Inotify.MODIFY)
            with open(self._log, "rb") as log:
                log.seek(0, os.SEEK_END)
                tail = b""
                t0 = time.perf_counter()
                os.kill(old, signal.SIGKILL)
                while True:
                    tail += log.read()
                    if needle in tail:
                        t1 = time.perf_counter()
                        break
                    tail = tail[tail.rfind(b"\n") + 1:]
                    ino.read(_remaining(deadline, f"{self.name} restart of w_{index}"))
        finally:
            ino.close()
        info = self._call(_remaining(deadline, "getProcessInfo"), "getProcessInfo",
                          f"w:w_{index}")
        if info["statename"] != "RUNNING" or info["pid"] in (0, old):
            raise RuntimeError(f"{self.name}: w_{index} not restarted: {info}")
        return t1 - t0

    def status_all(self, timeout: float = 120) -> float:
        # supervisorctl status exits 3 when some process is not running.
        return _run_cli(["supervisorctl", "-c", self._conf, "status"], timeout, ok=(0, 3))

    def supervisor_pids(self) -> list[int]:
        return [p.pid for p in self._roots]

    def ping_latency(self, timeout: float = 10) -> float:
        t0 = time.perf_counter()
        self._call(timeout, "getState")
        return time.perf_counter() - t0

    def _restart_counter(self):
        return _LogCounter(self._log)

    def _log_files(self, i):
        path = os.path.join(self.dir, "logs", f"w_{i}.log")
        return [path] if os.path.exists(path) else []


# ---------------------------------------------------------------- runit

class _ServiceDirPeer(Peer):
    """runit and s6: a folder per worker, brought up in bulk by one command (_up_argv) and
    watched by _wait_running until the given workers run (event-driven)."""

    def _up_argv(self) -> list[str]: raise NotImplementedError
    def _wait_running(self, indexes, deadline, action, what, not_pid=0) -> float:
        raise NotImplementedError

    _control_fifo = ""   # the fifo in supervise/ that has a reader once the service is supervised
    _supervise_comm = b""  # the per-service supervisor process

    def supervisor_pids(self) -> list[int]:
        roots = [p.pid for p in self._roots]
        return roots + _children(set(roots), self._supervise_comm)

    def _restart_counter(self):
        return _PidChangeCounter(self.worker_pids)

    def _log_files(self, i):
        # svlogd and s6-log both write "current" and rotate into "@..." files
        logdir = os.path.join(self.dir, "logs", f"w_{i}")
        return [os.path.join(logdir, f) for f in os.listdir(logdir)
                if f == "current" or f.startswith("@")]

    def _service_ready(self, index: int) -> bool:
        return True

    def _wait_ready(self, autostart, deadline):
        pending = set(range(self.n))
        while pending:
            self._check_roots()
            for i in list(pending):
                try:
                    fd = os.open(os.path.join(self._svc[i], "supervise", self._control_fifo),
                                 os.O_WRONLY | os.O_NONBLOCK)
                except OSError:
                    continue
                os.close(fd)
                if os.path.exists(os.path.join(self._svc[i], "supervise", "status")) \
                        and self._service_ready(i) and (not autostart or self._pid(i)):
                    pending.discard(i)
            if pending:
                time.sleep(min(_SETUP_POLL, _remaining(deadline, f"{self.name} setup")))

    def start_all(self, timeout: float) -> float:
        deadline = time.perf_counter() + timeout
        procs = []

        def bring_up():
            procs.append(subprocess.Popen(self._up_argv(), stdin=subprocess.DEVNULL,
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT))

        t0 = time.perf_counter()
        try:
            t1 = self._wait_running(range(self.n), deadline, bring_up, f"{self.name} start_all")
            out = procs[0].communicate(timeout=_remaining(deadline, "bringing them up"))[0]
        finally:
            if procs and procs[0].poll() is None:
                procs[0].kill()
                procs[0].wait()
        if procs[0].returncode != 0:
            raise RuntimeError(f"{self._up_argv()[0]} exited {procs[0].returncode}: "
                               f"{out[-500:]!r}")
        return t1 - t0

    def worker_pids(self) -> list[int]:
        return [self._pid(i) for i in range(self.n)]

    def _time_restart(self, index, old, deadline):
        t0 = 0.0

        def kill():
            nonlocal t0
            t0 = time.perf_counter()
            os.kill(old, signal.SIGKILL)

        return self._wait_running([index], deadline, kill,
                                  f"{self.name} restart of w_{index}", not_pid=old) - t0


class Runit(_ServiceDirPeer):
    """runsvdir + one runsv per worker.

    runsvdir handles at most 1000 services (static table), so services are
    spread over ceil(n/1000) scan directories, one runsvdir each.
    start_all: one `sv up DIR...` for all services; completion is event-driven
    (inotify on each supervise/, read supervise/status on every rename).
    restart_latency: same, for one service.  status_all: one `sv status DIR...`.
    No control server: ping_latency is None.  crash_storm restarts: pid changes
    in supervise/status sampled every 20 ms.
    """

    name = "runit"
    binaries = ("runsvdir", "runsv", "sv", "svlogd")
    per_runsvdir = 1000

    def _configure(self, argv, autostart, capture_logs, deadline):
        self._svc = []
        for i in range(self.n):
            _remaining(deadline, f"{self.name} setup")    # ~2 ms per service on a slow disk
            shard = os.path.join(self.dir, "sv", str(i // self.per_runsvdir))
            d = os.path.join(shard, f"w_{i}")
            os.makedirs(d)
            _write(os.path.join(d, "run"), f"#!/bin/sh\nexec {shlex.join(argv)}\n", 0o755)
            if not autostart:
                _write(os.path.join(d, "down"), "")
            if capture_logs:
                logdir = os.path.join(self.dir, "logs", f"w_{i}")
                os.makedirs(logdir)
                _write(os.path.join(logdir, "config"), "s0\n")   # never rotate
                os.mkdir(os.path.join(d, "log"))
                _write(os.path.join(d, "log", "run"),
                       f"#!/bin/sh\nexec svlogd {shlex.quote(logdir)}\n", 0o755)
            self._svc.append(d)

    def _launch(self):
        shards = os.path.join(self.dir, "sv")
        for s in sorted(os.listdir(shards), key=int):
            self._spawn(["runsvdir", os.path.join(shards, s)], f"runsvdir-{s}.out")

    def _pid(self, index: int) -> int:
        """Worker pid from runsv's 20-byte supervise/status; 0 unless state is run."""
        try:
            with open(os.path.join(self._svc[index], "supervise", "status"), "rb") as f:
                b = f.read(20)
        except FileNotFoundError:
            return 0
        return struct.unpack_from("<I", b, 12)[0] if len(b) == 20 and b[19] == 1 else 0

    # sv needs runsv to hold supervise/ok open for reading
    _control_fifo = "ok"

    def _wait_running(self, indexes, deadline, action, what, not_pid=0) -> float:
        """Watch supervise/ of each index, run action(), return perf_counter()
        when each reports a running pid other than not_pid."""
        ino = _Inotify()
        try:
            wds = {ino.watch(os.path.join(self._svc[i], "supervise"), _Inotify.MOVED_TO): i
                   for i in indexes}
            pending = set(indexes)

            def check(idx):
                for i in idx:
                    if self._pid(i) not in (0, not_pid):
                        pending.discard(i)

            action()
            check(list(pending))
            while pending:
                events = ino.read(_remaining(deadline, what))
                if any(mask & _Inotify.Q_OVERFLOW for _, mask, _ in events):
                    check(list(pending))
                else:
                    check({wds[wd] for wd, _, name in events if name == b"status"})
            return time.perf_counter()
        finally:
            ino.close()

    def _up_argv(self) -> list[str]:
        return ["sv", "up", *self._svc]

    def status_all(self, timeout: float = 120) -> float:
        return _run_cli(["sv", "status", *self._svc], timeout)

    _supervise_comm = b"runsv"


# ---------------------------------------------------------------- s6

class _FifoDirListener:
    """Subscribes to s6 event fifodirs the way s6-ftrig-listen1 does: a FIFO
    named ftrig1:@<tai64n hex>:<6 chars>, made under a dotted name, opened,
    then renamed so s6-supervise only ever sees it with a reader."""

    def __init__(self, eventdirs: list[str]):
        self._sel = selectors.EpollSelector()
        self._paths = []
        try:
            for i, d in enumerate(eventdirs):
                now = time.time_ns()
                name = "ftrig1:@%016x%08x:%s" % (
                    (1 << 62) + 10 + now // 10**9, now % 10**9, os.urandom(3).hex())
                tmp = os.path.join(d, "." + name)
                os.mkfifo(tmp, 0o622)
                # O_RDWR: we are also a writer, so the FIFO never reads EOF.
                fd = os.open(tmp, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
                self._sel.register(fd, selectors.EVENT_READ, i)
                os.rename(tmp, os.path.join(d, name))
                self._paths.append(os.path.join(d, name))
        except BaseException:
            self.close()
            raise

    def read(self, timeout: float) -> list[tuple[int, bytes]]:
        """(index, event chars) for every FIFO with data, waiting up to timeout."""
        out = []
        for key, _ in self._sel.select(timeout):
            out.append((key.data, os.read(key.fd, 4096)))
        return out

    def close(self) -> None:
        for key in list(self._sel.get_map().values()):
            os.close(key.fd)
        self._sel.close()
        for p in self._paths:
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass


class S6(_ServiceDirPeer):
    """s6-svscan + one s6-supervise per worker.

    Run scripts signal readiness (notification-fd 3) before exec'ing the
    worker: s6-supervise 2.11 otherwise waits 1 s before every restart.
    start_all: `s6-svc -u DIR` once per service (s6-svc takes one servicedir;
    there is no bulk command), run as one sh loop; completion is event-driven
    through each service's event fifodir ('u' events, checked against
    supervise/status).  restart_latency: same for one service.  status_all:
    `s6-svstat DIR` once per service in one sh loop (no bulk command).
    No control server: ping_latency is None.  crash_storm restarts: pid
    changes in supervise/status sampled every 20 ms.
    """

    name = "s6"
    binaries = ("s6-svscan", "s6-supervise", "s6-svc", "s6-svstat", "s6-log")

    def _configure(self, argv, autostart, capture_logs, deadline):
        if self.n > 89990:
            raise ValueError("s6-svscan supervises at most 90000 services")
        self._scan = os.path.join(self.dir, "scan")
        self._svc = []
        for i in range(self.n):
            _remaining(deadline, f"{self.name} setup")
            d = os.path.join(self._scan, f"w_{i}")
            os.makedirs(d)
            _write(os.path.join(d, "notification-fd"), "3\n")
            _write(os.path.join(d, "run"),
                   f"#!/bin/sh\necho >&3\nexec 3>&-\nexec {shlex.join(argv)}\n", 0o755)
            if not autostart:
                _write(os.path.join(d, "down"), "")
            if capture_logs:
                logdir = os.path.join(self.dir, "logs", f"w_{i}")
                os.makedirs(logdir)
                os.mkdir(os.path.join(d, "log"))
                # n1000: keep archives; s268435455: the largest file before rotation.
                _write(os.path.join(d, "log", "run"),
                       f"#!/bin/sh\nexec s6-log n1000 s268435455 {shlex.quote(logdir)}\n",
                       0o755)
            self._svc.append(d)

    def _launch(self):
        # -c: s6-svscan refuses more than 500 services by default.
        self._spawn(["s6-svscan", "-c", str(self.n + 10), self._scan], "s6-svscan.out")

    def _pid(self, index: int) -> int:
        """Worker pid from s6-supervise's 35-byte supervise/status; 0 unless up
        (while ./finish runs the pid field holds the finish process, flag bit 1)."""
        try:
            with open(os.path.join(self._svc[index], "supervise", "status"), "rb") as f:
                b = f.read(35)
        except FileNotFoundError:
            return 0
        return int.from_bytes(b[24:32], "big") if len(b) == 35 and not b[34] & 2 else 0

    # s6-svc needs a reader on supervise/control, s6-svstat needs status, listeners event/
    _control_fifo = "control"

    def _service_ready(self, index: int) -> bool:
        return os.path.isdir(os.path.join(self._svc[index], "event"))

    def _wait_ready(self, autostart, deadline):
        super()._wait_ready(autostart, deadline)
        _run_cli(["s6-svstat", self._svc[0]], _remaining(deadline, "s6-svstat"))

    def _wait_running(self, indexes, deadline, action, what, not_pid=0) -> float:
        """Subscribe to each index's fifodir, run action(), return perf_counter()
        when each has sent 'u' and its status shows an up pid other than not_pid."""
        indexes = list(indexes)
        listener = _FifoDirListener([os.path.join(self._svc[i], "event") for i in indexes])
        try:
            pending = set(range(len(indexes)))

            def check(slots):
                for k in slots:
                    if self._pid(indexes[k]) not in (0, not_pid):
                        pending.discard(k)

            action()
            check(list(pending))
            while pending:
                check({k for k, chars in listener.read(_remaining(deadline, what))
                       if b"u" in chars})
            return time.perf_counter()
        finally:
            listener.close()

    def _sh_loop(self, command: str) -> list[str]:
        return ["sh", "-c", f'for d do {command} "$d" || exit; done', "sh", *self._svc]

    def _up_argv(self) -> list[str]:
        return self._sh_loop("s6-svc -u")

    def status_all(self, timeout: float = 120) -> float:
        return _run_cli(self._sh_loop("s6-svstat"), timeout)

    _supervise_comm = b"s6-supervise"


PEERS = (Supervisord, Runit, S6)


# ---------------------------------------------------------------- self-check

def _selfcheck(n: int = 20) -> None:
    failures = []
    for cls in PEERS:
        if not cls("").available():
            print(f"{cls.name}: not installed, skipped")
            continue
        workdir = tempfile.mkdtemp(prefix=f"peers-{cls.name}-")
        peer = cls(workdir)
        try:
            t = time.perf_counter()
            peer.setup(n, ["sleep", "1000"])
            print(f"{peer.name}: setup({n}) {time.perf_counter() - t:.3f} s")
            print(f"  start_all        {peer.start_all(60) * 1000:9.2f} ms")
            pids = peer.worker_pids()
            assert len(pids) == n and all(pids), pids
            lat = [peer.restart_latency(i % n) * 1000 for i in range(5)]
            print("  restart_latency  " + " ".join(f"{x:.2f}" for x in lat) + " ms")
            print(f"  status_all       {peer.status_all() * 1000:9.2f} ms")
            ping = peer.ping_latency()
            print(f"  ping_latency     {'-' if ping is None else f'{ping * 1000:.3f} ms'}")
            sup = peer.supervisor_pids()
            print(f"  supervisor_pids  {len(sup)} processes, Pss "
                  f"{sum(pss_kib(p) for p in sup)} KiB; workers Pss "
                  f"{sum(pss_kib(p) for p in peer.worker_pids())} KiB")
            peer.teardown()
            peer.setup(n, ["sleep", "1"], autostart=True)
            storm = peer.crash_storm(n, 3)
            print("  crash_storm      " + ", ".join(
                f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}"
                for k, v in storm.items()))
            peer.teardown()
            logs = peer.log_throughput(3, 20000, 100, 60)
            print(f"  log_throughput   {logs}")
            assert logs["lines_found"] == logs["lines_expected"], logs
        except Exception as e:
            failures.append(f"{peer.name}: {e!r}")
            print(f"  FAILED: {e!r}")
        finally:
            peer.teardown()
            left = peer.leftover_pids()
            if left:
                failures.append(f"{peer.name}: leftover processes {left}")
            shutil.rmtree(workdir)
    assert not failures, failures
    print("self-check passed: no leftover process")


if __name__ == "__main__":
    _selfcheck(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
