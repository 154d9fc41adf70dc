#!/usr/bin/env python3
"""test_prometheus: a real Prometheus server (Debian's prometheus) scrapes a real loopvisord
every second on loopback; after a kill -9 of a worker, Prometheus' own HTTP API answers
increase(loopvisor_pool_restarts_total{reason="signal"}[1m]) with 1.

usage: test_prometheus.py BUILD_DIR

Prints "N passed, N failed"; exits 77 (skipped) when /usr/bin/prometheus is not installed.
Both processes are started here, in a temp dir, and ended by their pids.
"""
import json, os, signal, subprocess, sys, tempfile, urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lvhttp import check, finish, free_port, until  # noqa: E402

PROMETHEUS = "/usr/bin/prometheus"
build = os.path.abspath(sys.argv[1])




def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode()


def need(what, fn, seconds):
    """until(), and a failed check that ends the test when it does not come."""
    got = until(fn, seconds)
    if not got:
        check(False, what, f"not within {seconds} s")
        raise SystemExit(1)
    return got


def query(prom_port, expr):
    url = f"http://127.0.0.1:{prom_port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    status, body = get(url)
    result = json.loads(body)["data"]["result"]
    return [float(r["value"][1]) for r in result]


def main():
    if not os.access(PROMETHEUS, os.X_OK):
        print(f"SKIP: {PROMETHEUS} is not installed (Debian package prometheus)")
        sys.exit(77)
    tmp = tempfile.mkdtemp(prefix="lvprom.")
    daemon = prom = None
    try:
        http_port, prom_port = free_port(), free_port()
        sock = os.path.join(tmp, "control.sock")
        with open(os.path.join(tmp, "config.json"), "w") as f:
            json.dump({"http": {"listen": [f"tcp:127.0.0.1:{http_port}"]},
                       "pools": [{"name": "s", "exec": ["sleep", "1000"], "workers": 2}]}, f)
        daemon = subprocess.Popen([os.path.join(build, "bin", "loopvisord"), "-c",
                                   os.path.join(tmp, "config.json"), "-s", sock],
                                  stderr=open(os.path.join(tmp, "daemon.log"), "w"))
        ctl = [os.path.join(build, "bin", "loopvisorctl"), "-s", sock]
        need("the daemon answers", lambda: subprocess.run(
            ctl + ["--timeout", "10000", "wait", "s", "running"],
            capture_output=True).returncode == 0, 20)
        with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: loopvisor\n    static_configs:\n"
                    f"      - targets: ['127.0.0.1:{http_port}']\n")
        prom = subprocess.Popen([PROMETHEUS, f"--config.file={tmp}/prometheus.yml",
                                 f"--storage.tsdb.path={tmp}/data",
                                 f"--web.listen-address=127.0.0.1:{prom_port}"],
                                stdout=subprocess.DEVNULL,
                                stderr=open(os.path.join(tmp, "prometheus.log"), "w"))
        need("prometheus is ready",
              lambda: get(f"http://127.0.0.1:{prom_port}/-/ready")[0] == 200, 60)
        check(need("prometheus scrapes the daemon", lambda: query(prom_port, "up") == [1.0], 30),
              "prometheus scrapes loopvisord: up is 1")
        base = 'loopvisor_pool_restarts_total{pool="s",reason="signal"}'
        check(need("the restarts series is scraped", lambda: query(prom_port, base) == [0.0], 30),
              "loopvisor_pool_restarts_total{reason=\"signal\"} is scraped, 0")
        status = json.loads(subprocess.run(ctl + ["--json", "status", "s:0"],
                                           capture_output=True, text=True).stdout)
        os.kill(status["workers"][0]["pid"], signal.SIGKILL)
        got = need("the restart shows", lambda: [v for v in query(prom_port, base) if v >= 1], 30)
        check(got == [1.0], "the kill -9 is one restart by signal", f"got {got}")
        incr = need("increase() sees it", lambda: [
            v for v in query(prom_port, f"increase({base}[1m])") if v > 0], 30)
        check(round(incr[0]) == 1, f"increase(...[1m]) answers 1 (got {incr[0]:.3f})",
              f"got {incr}")
    finally:
        finish((prom, daemon), tmp, ("daemon.log", "prometheus.log"))

main()
