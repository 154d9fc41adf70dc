"""Scenario python: the same ASGI app served by loopvisor's python job (uvicorn inside the
loop loopvisor built) and by gunicorn with uvicorn's worker class, N workers each, on the
same loopback port in turn: requests/s of a trivial endpoint (wrk), restart after kill -9,
the time from a blocked loop to a serving replacement and whether the log says where it was
blocked, and RSS per worker."""
import os
import re
import signal
import subprocess
import threading
import time

from loopvisor import Loopvisor
from measure import rss_kib

APP = '''import os, time
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            await send({"type": msg["type"] + ".complete"})
            if msg["type"] == "lifespan.shutdown":
                return
    if scope["path"] == "/block":
        time.sleep(600)  # blocks the worker's event loop
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok %d" % os.getpid()})
'''
STARTED = "Application startup complete."
TIMEOUT_S = 5  # gunicorn --timeout, loopvisor hang_timeout_ms


def _children(pid):
    """The pids whose parent is pid."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    if int(f.read().rsplit(b")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return out


def _get(port, path, timeout=None):
    import socket
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
        return s.recv(4096)


def _block(port):
    """A request that blocks one worker's loop (it never answers: that worker dies)."""
    def run():
        try:
            _get(port, "/block", timeout=60)
        except OSError:
            pass
    threading.Thread(target=run, daemon=True).start()


def _wrk(port, seconds):
    out = subprocess.run(["wrk", "-t2", "-c64", f"-d{seconds}s", f"http://127.0.0.1:{port}/"],
                         capture_output=True, text=True, check=True).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


class LoopvisorPython:
    name = "loopvisor"

    def __init__(self, workdir, build, n, port):
        self.lv = Loopvisor(workdir, build)
        self.workdir, self.n, self.port = workdir, n, port

    def start(self):
        self.lv._launch({"pools": [{
            "name": "api", "workers": self.n, "listen": [f"tcp:127.0.0.1:{self.port}"],
            "python": {"asgi": "app:app", "path": [self.workdir]},
            "hang_timeout_ms": TIMEOUT_S * 1000}]})
        self.lv.rpc.call("wait", {"target": "api", "state": "running", "timeout_ms": 60000})

    def worker_pids(self):
        return [w["pid"] for w in self.lv.rpc.call("status")["workers"] if w["pid"]]

    def after_restarts(self, total, timeout=60):
        """Until the pool's workers were restarted total times in all and all run again."""
        deadline = time.monotonic() + timeout
        while True:
            ws = self.lv.rpc.call("status")["workers"]
            if sum(w["restarts"] for w in ws) >= total and all(w["state"] == "running" for w in ws):
                return
            if time.monotonic() > deadline:
                raise TimeoutError("loopvisor: no restart")
            time.sleep(0.005)

    def reason(self):
        """What it says of the blocked worker: the error, and the app's line it was stuck on."""
        for w in self.lv.rpc.call("status")["workers"]:
            if "hung" in (w["last_error"] or ""):
                tail = self.lv.rpc.call("tail", {"target": w["name"], "lines": 200})["lines"]
                where = [l["text"].strip() for l in tail if "app.py" in l["text"]]
                return {"error": w["last_error"], "where": where[-1] if where else None}
        return {"error": None, "where": None}

    def stop(self):
        self.lv.teardown()


class Gunicorn:
    name = "gunicorn"

    def __init__(self, workdir, n, port):
        self.workdir, self.n, self.port = workdir, n, port
        self.log = os.path.join(workdir, "gunicorn.log")
        self.proc = None

    def available(self):
        try:
            subprocess.run(["gunicorn", "--version"], capture_output=True, check=True)
            return True
        except (OSError, subprocess.CalledProcessError):
            return False

    def _started(self):
        with open(self.log, errors="replace") as f:
            return f.read().count(STARTED)

    def _until_started(self, count, timeout=60):
        deadline = time.monotonic() + timeout
        while self._started() < count:  # its log is the only place gunicorn says so
            if time.monotonic() > deadline:
                raise TimeoutError("gunicorn: no worker started")
            time.sleep(0.005)

    def start(self):
        self.proc = subprocess.Popen(
            ["gunicorn", "-k", "uvicorn.workers.UvicornWorker", "-w", str(self.n),
             "-b", f"127.0.0.1:{self.port}", "--timeout", str(TIMEOUT_S), "--chdir",
             self.workdir, "--error-logfile", self.log, "app:app"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        open(self.log, "a").close()
        self._until_started(self.n)

    def worker_pids(self):
        return _children(self.proc.pid)

    def after_restarts(self, total, timeout=60):
        self._until_started(self.n + total, timeout)

    def reason(self):
        with open(self.log, errors="replace") as f:
            text = f.read()
        timeout = re.findall(r".*WORKER TIMEOUT.*", text)
        where = [l.strip() for l in text.splitlines() if "app.py" in l and "line" in l]
        return {"error": timeout[-1].split("] ", 2)[-1] if timeout else None,
                "where": where[-1] if where else None}

    def stop(self):
        if self.proc:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def measure(system, seconds):
    """The figures of one system, started and stopped here."""
    system.start()
    try:
        pids = system.worker_pids()
        r = {"rss_kib_per_worker": sum(rss_kib(p) for p in pids) // max(len(pids), 1)}
        r["requests_per_s"] = _wrk(system.port, seconds)
        t0 = time.perf_counter()
        os.kill(min(pids), signal.SIGKILL)
        system.after_restarts(1)
        r["kill9_to_serving_ms"] = (time.perf_counter() - t0) * 1e3
        t0 = time.perf_counter()
        _block(system.port)  # lands on the worker that accepts it
        system.after_restarts(2, timeout=TIMEOUT_S * 6)
        r["blocked_to_serving_s"] = time.perf_counter() - t0
        r["reason"] = system.reason()
        return r
    finally:
        system.stop()
