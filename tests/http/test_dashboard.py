#!/usr/bin/env python3
"""test_dashboard: the dashboard (GET /) in a real browser, headless Chromium driven over its
DevTools protocol: the page shows every worker, a kill -9 of one shows as its restart (new
pid, restarts 1) within 2 s of the daemon knowing it, without reloading the page; the filter
hides what does not match; a worker's detail pane shows its last log lines.

usage: test_dashboard.py BUILD_DIR [SCREENSHOT.png]

Prints "N passed, N failed"; exits 77 (skipped) when /usr/bin/chromium is not installed.
The daemon and the browser are started here, in a temp dir, and ended by their pids.
"""
import base64, json, os, signal, socket, struct, subprocess, sys, tempfile, time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lvhttp import check, finish, free_port, until  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
build = os.path.abspath(sys.argv[1])
screenshot = sys.argv[2] if len(sys.argv) > 2 else None




class DevTools:
    """The smallest WebSocket client (RFC 6455) that speaks Chromium's DevTools protocol."""

    def __init__(self, url):
        host, path = url[len("ws://"):].split("/", 1)
        h, p = host.split(":")
        self.s = socket.create_connection((h, int(p)), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall((f"GET /{path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.s.recv(1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError(f"no websocket: {head!r}")
        self.next_id = 0

    def _recv(self, n):
        data = b""
        while len(data) < n:
            chunk = self.s.recv(n - len(data))
            if not chunk:
                raise ConnectionError("devtools closed")
            data += chunk
        return data

    def _message(self):
        data = b""
        while True:
            b0, b1 = self._recv(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._recv(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._recv(8))[0]
            data += self._recv(n)
            if b0 & 0x80:
                return json.loads(data)

    def call(self, method, **params):
        self.next_id += 1
        payload = json.dumps({"id": self.next_id, "method": method, "params": params}).encode()
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else
                                bytes([0x80 | 126]) + struct.pack(">H", n))
        self.s.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        while True:
            msg = self._message()
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]

    def js(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True)
        return r["result"].get("value")


def until_ok(fn, seconds):
    return until(fn, seconds, (OSError, RuntimeError))


def need(what, fn, seconds):
    """until() (DevTools errors count as not yet), and a failed check that ends the test
    when it does not come."""
    got = until_ok(fn, seconds)
    if not got:
        check(False, what, f"not within {seconds} s")
        raise SystemExit(1)
    return got


def main():
    if not os.access(CHROMIUM, os.X_OK):
        print(f"SKIP: {CHROMIUM} is not installed (Debian package chromium)")
        sys.exit(77)
    tmp = tempfile.mkdtemp(prefix="lvdash.")
    daemon = browser = None
    try:
        http_port, dt_port = free_port(), free_port()
        sock = os.path.join(tmp, "control.sock")
        with open(os.path.join(tmp, "config.json"), "w") as f:
            json.dump({"http": {"listen": [f"tcp:127.0.0.1:{http_port}"]},
                       "pools": [{"name": "web", "module": "ticker", "workers": 3,
                                  "heartbeat_ms": 200},
                                 {"name": "s", "workers": 2,
                                  "exec": ["sh", "-c", "echo started; exec sleep 1000"]}]}, f)
        daemon = subprocess.Popen([os.path.join(build, "bin", "loopvisord"), "-c",
                                   os.path.join(tmp, "config.json"), "-s", sock],
                                  stderr=open(os.path.join(tmp, "daemon.log"), "w"))
        ctl = [os.path.join(build, "bin", "loopvisorctl"), "-s", sock]
        for pool in ("web", "s"):
            need(f"the daemon starts {pool}", lambda: subprocess.run(
                ctl + ["--timeout", "10000", "wait", pool, "running"],
                capture_output=True).returncode == 0, 30)
        browser = subprocess.Popen([CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
                                    "--no-first-run", f"--user-data-dir={tmp}/profile",
                                    f"--remote-debugging-port={dt_port}",
                                    "--window-size=1280,800", "about:blank"],
                                   stdout=subprocess.DEVNULL,
                                   stderr=open(os.path.join(tmp, "chromium.log"), "w"))
        pages = need("chromium starts", lambda: [t for t in json.loads(urllib.request.urlopen(
            f"http://127.0.0.1:{dt_port}/json/list", timeout=5).read())
            if t["type"] == "page"], 60)
        dt = DevTools(pages[0]["webSocketDebuggerUrl"])
        dt.call("Page.navigate", url=f"http://127.0.0.1:{http_port}/")
        shown = until_ok(lambda: dt.js("document.querySelectorAll('.worker').length") == 5, 20)
        check(shown, "the page shows every worker (3 of web, 2 of s)",
              dt.js("document.body.innerText"))
        status = json.loads(subprocess.run(ctl + ["--json", "status", "s:0"],
                                           capture_output=True, text=True).stdout)
        pid = status["workers"][0]["pid"]
        tile = "document.querySelector('[data-worker=\"s:0\"]')"
        check(dt.js(f"{tile}.dataset.pid") == str(pid) and
              dt.js(f"{tile}.dataset.state") == "running", "s:0 shows running with its pid")
        check(until_ok(lambda: dt.js("document.getElementById('live').textContent")
                    .startswith("live"), 10), "the page is live on /events")

        os.kill(pid, signal.SIGKILL)
        subprocess.run(ctl + ["call", "wait", json.dumps({"target": "s:0", "state": "running",
                                                          "restarts": 1})],
                       capture_output=True, timeout=30)
        t0 = time.monotonic()
        seen = until_ok(lambda: dt.js(f"{tile}.dataset.restarts") == "1" and
                     dt.js(f"{tile}.dataset.pid") not in ("", str(pid)) and
                     dt.js(f"{tile}.dataset.state") == "running", 10)
        elapsed = time.monotonic() - t0
        check(seen and elapsed < 2, f"the restart shows without a reload ({elapsed:.2f} s after "
              "the daemon had it)", dt.js(f"{tile}.innerText"))
        check(dt.js("performance.getEntriesByType('navigation').length") == 1,
              "the page was never reloaded")

        dt.js("const f = document.getElementById('filter'); f.value = 'web';"
              "f.dispatchEvent(new Event('input'))")
        check(dt.js("document.querySelectorAll('.worker.hidden').length") == 2,
              "the filter hides the 2 workers of s")
        dt.js("const g = document.getElementById('filter'); g.value = '';"
              "g.dispatchEvent(new Event('input'))")
        dt.js(f"{tile}.click()")
        check(until_ok(lambda: "stdout: started" in dt.js(
            "document.getElementById('detail').innerText"), 10),
              "the detail pane shows the worker's last log lines")
        dt.js("document.querySelector('[data-worker=\"web:0\"]').click()")
        check(until_ok(lambda: '"lag_us"' in (dt.js(
            "(document.querySelector('#detail .inspect') || {}).textContent") or ""), 10),
              "the detail pane of a module worker shows its loops' inspect answer")
        check(until_ok(lambda: dt.js("document.querySelector('[data-worker=\"web:0\"] polyline')"
                                  " !== null"), 10), "web:0 draws a loop lag sparkline")
        if screenshot:
            png = dt.call("Page.captureScreenshot", format="png")["data"]
            with open(screenshot, "wb") as f:
                f.write(base64.b64decode(png))
            print(f"# screenshot in {screenshot}")
    finally:
        finish((browser, daemon), tmp, ("daemon.log", "chromium.log"))

main()
