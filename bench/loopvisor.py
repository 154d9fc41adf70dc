"""The loopvisor side of the benchmarks: the same interface as the peers in peers.py.

loopvisord runs in the foreground in a temp dir; everything is measured through its control
socket the way a user's script would: start waits for every worker to be running, restart
latency comes from the event stream (push, no polling).
"""
import contextlib
import json
import os
import resource
import signal
import socket
import subprocess
import time

from measure import percentile


class Rpc:
    """A blocking JSON-RPC 2.0 connection to the control socket, one line per message."""

    def __init__(self, path, timeout=120.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.reader = self.sock.makefile("rb")
        self.next_id = 0

    def call(self, method, params=None):
        self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            msg["params"] = params
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            reply = self.read()
            if reply.get("id") != self.next_id:
                continue  # a notification
            if "error" in reply:
                raise RuntimeError(f"{method}: {reply['error']}")
            return reply["result"]

    def read(self):
        line = self.reader.readline()
        if not line:
            raise ConnectionError("the daemon closed the connection")
        return json.loads(line)

    def close(self):
        self.reader.close()
        self.sock.close()


class Loopvisor:
    name = "loopvisor"
    setup_timeout = 120.0

    def __init__(self, workdir, build, kind="exec"):
        self.workdir = workdir
        self.build = build
        self.kind = kind  # "exec": argv as given; "module": the ticker job on its own loop
        if kind == "module":
            self.name = "loopvisor-module"
        self.sock = os.path.join(workdir, "control.sock")
        self.rpc = None
        self.daemon = None
        self.n = 0
        self.note = None
        self.env = None  # the daemon's environment (None: this one's)
        self.http_port = None  # set: the daemon serves /metrics there (every series)
        self.cgroup = None  # set: the config's "cgroup" ("auto" or "off")

    def available(self):
        return os.access(os.path.join(self.build, "bin", "loopvisord"), os.X_OK)

    def _pool(self, n, argv, autostart, extra=None):
        pool = {"name": "w", "workers": n, "autostart": autostart}
        if self.kind == "module":
            pool.update(module="ticker", params={"interval_ms": 86400000})
        else:
            pool["exec"] = argv
        pool.update(extra or {})
        return pool

    def _launch(self, config):
        if self.cgroup:
            config["cgroup"] = self.cgroup
        if self.http_port:
            config["http"] = {"listen": [f"tcp:127.0.0.1:{self.http_port}"],
                              "worker_series_max": 1000000}
        path = os.path.join(self.workdir, "loopvisor.json")
        with open(path, "w") as f:
            json.dump(config, f)
        log = open(os.path.join(self.workdir, "daemon.log"), "wb")
        self.daemon = subprocess.Popen(
            [os.path.join(self.build, "bin", "loopvisord"), "-c", path, "-s", self.sock],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
            env=self.env)
        log.close()
        deadline = time.monotonic() + self.setup_timeout
        while True:  # the socket exists once the daemon listens; waits on that, not a sleep
            if self.daemon.poll() is not None:
                raise RuntimeError(f"loopvisord exited with {self.daemon.returncode}")
            try:
                self.rpc = Rpc(self.sock)
                self.rpc.call("ping")
                return
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() > deadline:
                    raise TimeoutError("loopvisord did not listen")
                time.sleep(0.005)

    def setup(self, n, argv, *, autostart=False, extra=None):
        self.n = n
        extra = dict(extra or {})
        # captured output costs the daemon 2 descriptors per worker, on top of the channel
        if 3 * n + 256 > resource.getrlimit(resource.RLIMIT_NOFILE)[1]:
            extra.setdefault("output", "null")
            self.note = (f"{self.name} at {n} workers: \"output\": \"null\" (the hard "
                         "open-files limit here is too low for captured output)")
        self._launch({"pools": [self._pool(n, argv, autostart, extra)]})
        if autostart:
            self.rpc.call("wait", {"target": "w", "state": "running",
                                   "timeout_ms": int(self.setup_timeout * 1000)})

    def start_all(self, timeout):
        t0 = time.perf_counter()
        self.rpc.call("start", {"target": "w", "timeout_ms": int(timeout * 1000)})
        return time.perf_counter() - t0

    def status(self):
        return self.rpc.call("status")["workers"]

    def scrape(self, samples):
        """GET /metrics samples times: each one's milliseconds, and the size of the last."""
        times, size = [], 0
        for _ in range(samples):
            t0 = time.perf_counter()
            with socket.create_connection(("127.0.0.1", self.http_port)) as c:
                c.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                data = b""
                while chunk := c.recv(1 << 20):
                    data += chunk
            times.append((time.perf_counter() - t0) * 1e3)
            size = len(data)
        return times, size

    def worker_pids(self):
        return [w["pid"] for w in self.status()]

    def restart_latency(self, index, timeout=10):
        target = f"w:{index}"
        sub = Rpc(self.sock, timeout)
        try:
            sub.call("subscribe", {"events": ["worker.running"], "target": target})
            pid = self.rpc.call("status", {"target": target})["workers"][0]["pid"]
            t0 = time.perf_counter()
            os.kill(pid, signal.SIGKILL)
            while True:
                ev = sub.read()
                if ev.get("method") == "event" and ev["params"].get("pid") != pid:
                    return time.perf_counter() - t0
        finally:
            sub.close()

    def status_all(self):
        t0 = time.perf_counter()
        rc = subprocess.run([os.path.join(self.build, "bin", "loopvisorctl"), "-s", self.sock,
                             "status"], stdout=subprocess.PIPE).returncode
        if rc not in (0, 5):  # 5: a worker failed or backs off, which a status may show
            raise RuntimeError(f"loopvisorctl status exited {rc}")
        return time.perf_counter() - t0

    def supervisor_pids(self):
        """The daemon and its zygote (the process that forks the workers)."""
        pids = [self.daemon.pid]
        with contextlib.suppress(FileNotFoundError):
            with open(f"/proc/{self.daemon.pid}/task/{self.daemon.pid}/children") as f:
                for child in f.read().split():
                    with contextlib.suppress(FileNotFoundError), open(f"/proc/{child}/comm") as c:
                        if c.read().strip() == "loopvisor-zyg":
                            pids.append(int(child))
        return pids

    def ping_latency(self):
        t0 = time.perf_counter()
        self.rpc.call("ping")
        return time.perf_counter() - t0

    def restarts(self):
        return sum(w["restarts"] for w in self.status())

    def crash_storm(self, n, seconds):
        before = self.restarts()
        lat = []
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            lat.append(self.ping_latency())
        elapsed = time.perf_counter() - t0
        restarts = self.restarts() - before
        return {"restarts": restarts, "restarts_per_s": restarts / elapsed,
                "ping_p50_ms": percentile(lat, 50) * 1e3, "ping_p99_ms": percentile(lat, 99) * 1e3,
                "ping_max_ms": max(lat) * 1e3}

    def log_throughput(self, n_workers, lines_per_worker, line_len, timeout):
        line = "x" * (line_len - 1)
        script = f"yes {line} | head -n {lines_per_worker}; exec sleep 1000"
        logdir = os.path.join(self.workdir, "logs")
        self.n = n_workers
        self._launch({"logs": {"dir": logdir, "max_bytes": 0},
                      "pools": [self._pool(n_workers, ["sh", "-c", script], False)]})
        expected = n_workers * lines_per_worker
        path = os.path.join(logdir, "w.log")
        # each line gets "2026-12-02T10:00:00.123 w:N stdout: " in front: watch the size
        # (as the peers' figures do) and count the lines once at the end
        head = len("2026-12-02T10:00:00.123 w:0 stdout: ")
        size = lines_per_worker * sum(head + len(str(i)) - 1 + line_len for i in range(n_workers))
        t0 = time.perf_counter()
        self.rpc.call("start", {"target": "w"})
        while time.perf_counter() - t0 < timeout:
            with contextlib.suppress(FileNotFoundError):
                if os.stat(path).st_size >= size:
                    break
            time.sleep(0.002)
        seconds = time.perf_counter() - t0
        counter = LineCounter(path, line)
        counter.read()
        return {"seconds": seconds, "mb_per_s": counter.found * line_len / 1e6 / seconds,
                "lines_expected": expected, "lines_found": counter.found}

    def teardown(self):
        if self.rpc:
            try:
                self.rpc.call("shutdown")
            except (OSError, RuntimeError, ValueError):
                pass
            self.rpc.close()
            self.rpc = None
        if self.daemon:
            try:
                self.daemon.wait(timeout=60)
            except subprocess.TimeoutExpired:  # workers die with it (PR_SET_PDEATHSIG)
                self.daemon.kill()
                self.daemon.wait()
            self.daemon = None


class LineCounter:
    """Counts the payload lines of a growing file, reading each byte once."""

    def __init__(self, path, payload):
        self.path = path
        self.needle = payload.encode() + b"\n"
        self.offset = 0
        self.rest = b""
        self.found = 0

    def read(self):
        """Reads what was appended; False when nothing was."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return False
        if not data:
            return False
        self.offset += len(data)
        data = self.rest + data
        cut = data.rfind(b"\n") + 1  # whole lines only
        self.found += data[:cut].count(self.needle)
        self.rest = data[cut:]
        return True
