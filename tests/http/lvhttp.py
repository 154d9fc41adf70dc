"""lvhttp: what test_prometheus.py and test_dashboard.py share: TAP-like checks with a
closing "N passed, N failed", a free loopback port, bounded waits on a condition, and the
end of the processes a test started (by their pids), with their logs on failure."""
import os
import shutil
import socket
import subprocess
import sys
import time

counts = {"passed": 0, "failed": 0}


def check(ok, name, detail=""):
    if ok:
        counts["passed"] += 1
        print(f"ok - {name}")
    else:
        counts["failed"] += 1
        print(f"not ok - {name}\n    {detail}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def until(fn, seconds, errors=(OSError,)):
    """fn() until it returns something true, for up to seconds (None then); each call is a
    real request answered by the program asked, 50 ms apart."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            got = fn()
            if got:
                return got
        except errors:
            pass
        time.sleep(0.05)
    return None


def finish(procs, tmp, logs):
    """Ends procs (SIGTERM, SIGKILL after 20 s), prints the logs' tails if a check failed,
    removes tmp, prints the summary and exits 0 or 1."""
    for p in procs:
        if p and p.poll() is None:
            p.terminate()
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    if counts["failed"]:
        for log in logs:
            path = os.path.join(tmp, log)
            if os.path.exists(path):
                print(f"--- {log} (last lines)")
                print("".join(open(path).readlines()[-15:]), end="")
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"{counts['passed']} passed, {counts['failed']} failed")
    sys.exit(1 if counts["failed"] else 0)
