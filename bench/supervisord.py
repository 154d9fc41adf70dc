"""supervisord driven over XML-RPC on its unix socket (see peers.py)."""

from __future__ import annotations

import http.client
import os
import resource
import shlex
import signal
import socket
import time
import xmlrpc.client

from measure import remaining, write_file, run_cli, Inotify, SETUP_POLL
from peer import Peer


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
        write_file(self._conf, f"""\
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
            left = remaining(deadline, f"{self.name} setup")
            try:
                if self._call(left, "getState")["statename"] == "RUNNING":
                    infos = self._call(remaining(deadline, f"{self.name} setup"),
                                       "getAllProcessInfo")
                    seen.update(i["name"] for i in infos if i["pid"])
                    if len(infos) == self.n and (not autostart or len(seen) == self.n):
                        return
            except (FileNotFoundError, ConnectionRefusedError):
                self._transport.close()   # socket not there yet
            time.sleep(SETUP_POLL)

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
        ino = Inotify()
        try:
            ino.watch(self._log, Inotify.MODIFY)
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
                    ino.read(remaining(deadline, f"{self.name} restart of w_{index}"))
        finally:
            ino.close()
        info = self._call(remaining(deadline, "getProcessInfo"), "getProcessInfo",
                          f"w:w_{index}")
        if info["statename"] != "RUNNING" or info["pid"] in (0, old):
            raise RuntimeError(f"{self.name}: w_{index} not restarted: {info}")
        return t1 - t0

    def status_all(self, timeout: float = 120) -> float:
        # supervisorctl status exits 3 when some process is not running.
        return run_cli(["supervisorctl", "-c", self._conf, "status"], timeout, ok=(0, 3))

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
