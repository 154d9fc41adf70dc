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

Only the standard library is used; inotify is reached through ctypes. The code: measure.py
(/proc, inotify), peer.py (the shared driver), supervisord.py, servicedir.py (runit, s6).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time

from measure import pss_kib
from supervisord import Supervisord
from servicedir import Runit, S6


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
