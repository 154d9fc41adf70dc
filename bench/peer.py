"""Peer: what every peer supervisor driver shares (see peers.py for how each figure is
taken): a marked process tree, setup, teardown and the scenarios in terms of a few
tool-specific hooks."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid

from measure import (
    percentile, alive, pids_with_env, wait_uptime, TAG_VAR, LOG_POLL, STORM_POLL)


class Peer:
    """One supervisor under test.  See peers.py for how each figure is taken."""

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
        self._marker = f"{TAG_VAR}={tag}".encode()
        self._env = dict(os.environ, **{TAG_VAR: tag})
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
            if not alive(p.pid):
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
            left = pids_with_env(self._marker)
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
        while pids_with_env(self._marker) and time.perf_counter() < end:
            time.sleep(0.05)
        end = time.perf_counter() + 30
        while signal_all(signal.SIGKILL):
            if time.perf_counter() > end:
                raise RuntimeError(f"{self.name}: processes survive SIGKILL: "
                                   f"{pids_with_env(self._marker)}")
            time.sleep(0.02)
        for p in self._roots:
            p.wait()
        self._roots = []
        self._marker = b""

    def leftover_pids(self) -> list[int]:
        """Live processes started by any setup of this object (should be [])."""
        return pids_with_env(f"{TAG_VAR}={self._id}-".encode())

    # ---- measurements shared by all tools

    def restart_latency(self, index: int, timeout: float = 10) -> float:
        """kill -9 worker index (once it has run MIN_UPTIME s) and return the
        seconds until the tool reports a new process for it running."""
        deadline = time.perf_counter() + timeout
        old = self._pid(index)
        if not old:
            raise RuntimeError(f"{self.name}: worker {index} is not running")
        wait_uptime(old, deadline)
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
                time.sleep(STORM_POLL)
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
                    time.sleep(LOG_POLL)
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
