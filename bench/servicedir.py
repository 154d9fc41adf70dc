"""runit and s6: a service folder per worker, watched through supervise/ and event
fifodirs (see peers.py)."""

from __future__ import annotations

import os
import selectors
import shlex
import signal
import struct
import subprocess
import time

from measure import (
    children_named, remaining, write_file, run_cli, Inotify, PidChangeCounter, SETUP_POLL)
from peer import Peer


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
        return roots + children_named(set(roots), self._supervise_comm)

    def _restart_counter(self):
        return PidChangeCounter(self.worker_pids)

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
                time.sleep(min(SETUP_POLL, remaining(deadline, f"{self.name} setup")))

    def start_all(self, timeout: float) -> float:
        deadline = time.perf_counter() + timeout
        procs = []

        def bring_up():
            procs.append(subprocess.Popen(self._up_argv(), stdin=subprocess.DEVNULL,
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT))

        t0 = time.perf_counter()
        try:
            t1 = self._wait_running(range(self.n), deadline, bring_up, f"{self.name} start_all")
            out = procs[0].communicate(timeout=remaining(deadline, "bringing them up"))[0]
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
            remaining(deadline, f"{self.name} setup")    # ~2 ms per service on a slow disk
            shard = os.path.join(self.dir, "sv", str(i // self.per_runsvdir))
            d = os.path.join(shard, f"w_{i}")
            os.makedirs(d)
            write_file(os.path.join(d, "run"), f"#!/bin/sh\nexec {shlex.join(argv)}\n", 0o755)
            if not autostart:
                write_file(os.path.join(d, "down"), "")
            if capture_logs:
                logdir = os.path.join(self.dir, "logs", f"w_{i}")
                os.makedirs(logdir)
                write_file(os.path.join(logdir, "config"), "s0\n")   # never rotate
                os.mkdir(os.path.join(d, "log"))
                write_file(os.path.join(d, "log", "run"),
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
        ino = Inotify()
        try:
            wds = {ino.watch(os.path.join(self._svc[i], "supervise"), Inotify.MOVED_TO): i
                   for i in indexes}
            pending = set(indexes)

            def check(idx):
                for i in idx:
                    if self._pid(i) not in (0, not_pid):
                        pending.discard(i)

            action()
            check(list(pending))
            while pending:
                events = ino.read(remaining(deadline, what))
                if any(mask & Inotify.Q_OVERFLOW for _, mask, _ in events):
                    check(list(pending))
                else:
                    check({wds[wd] for wd, _, name in events if name == b"status"})
            return time.perf_counter()
        finally:
            ino.close()

    def _up_argv(self) -> list[str]:
        return ["sv", "up", *self._svc]

    def status_all(self, timeout: float = 120) -> float:
        return run_cli(["sv", "status", *self._svc], timeout)

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
            remaining(deadline, f"{self.name} setup")
            d = os.path.join(self._scan, f"w_{i}")
            os.makedirs(d)
            write_file(os.path.join(d, "notification-fd"), "3\n")
            write_file(os.path.join(d, "run"),
                   f"#!/bin/sh\necho >&3\nexec 3>&-\nexec {shlex.join(argv)}\n", 0o755)
            if not autostart:
                write_file(os.path.join(d, "down"), "")
            if capture_logs:
                logdir = os.path.join(self.dir, "logs", f"w_{i}")
                os.makedirs(logdir)
                os.mkdir(os.path.join(d, "log"))
                # n1000: keep archives; s268435455: the largest file before rotation.
                write_file(os.path.join(d, "log", "run"),
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
        run_cli(["s6-svstat", self._svc[0]], remaining(deadline, "s6-svstat"))

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
                check({k for k, chars in listener.read(remaining(deadline, what))
                       if b"u" in chars})
            return time.perf_counter()
        finally:
            listener.close()

    def _sh_loop(self, command: str) -> list[str]:
        return ["sh", "-c", f'for d do {command} "$d" || exit; done', "sh", *self._svc]

    def _up_argv(self) -> list[str]:
        return self._sh_loop("s6-svc -u")

    def status_all(self, timeout: float = 120) -> float:
        return run_cli(self._sh_loop("s6-svstat"), timeout)

    _supervise_comm = b"s6-supervise"
