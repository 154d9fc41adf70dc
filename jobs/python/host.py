"""loopvisor's Python host (docs/python.md): in each loop thread of a worker, a fresh
asyncio loop made in that thread, the app's `async def main(ctx)` run on it, heartbeats
measured inside that loop, and a graceful stop. _loopvisor is the C side (host.c)."""
import asyncio
import faulthandler
import importlib
import json
import os
import site
import socket
import sys
import traceback

import _loopvisor as _lv

_LEVELS = {"error": 3, "warning": 4, "info": 6, "debug": 7}


def setup():
    """Once per process, before any app code: the pool's path and venv, and tracebacks of
    every thread on SIGABRT (what loopvisord sends a hung loop) into the captured stderr."""
    for folder in reversed([f for f in os.environ.get("LOOPVISOR_PYTHON_PATH", "").split(":") if f]):
        sys.path.insert(0, folder)
    venv = os.environ.get("LOOPVISOR_PYTHON_VENV")
    if venv:
        version = "python%d.%d" % sys.version_info[:2]
        site.addsitedir(os.path.join(venv, "lib", version, "site-packages"))
    faulthandler.enable(file=sys.stderr, all_threads=True)


def _find(spec):
    """The object "package.module:name" names."""
    module, _, name = spec.partition(":")
    obj = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def _asgi_main(app):
    """main(ctx) for an ASGI app: uvicorn serving it on the pool's sockets, in this loop."""
    import uvicorn

    class Server(uvicorn.Server):
        def install_signal_handlers(self):
            pass  # SIGTERM and SIGINT stay loopvisor's; ctx.stopping says when to stop

    async def main(ctx):
        # no request log, as under gunicorn: an app logs what it wants
        server = Server(uvicorn.Config(app, lifespan="auto", access_log=False))
        startup = server.startup

        async def started(sockets=None):
            await startup(sockets=sockets)
            if server.started:
                ctx.ready()

        async def stop_when_asked():
            await ctx.stopping.wait()
            server.should_exit = True

        server.startup = started
        watcher = asyncio.get_running_loop().create_task(stop_when_asked())
        try:
            await server.serve(sockets=ctx.sockets)
        finally:
            watcher.cancel()
        if not server.started:
            raise RuntimeError("uvicorn did not start (its output says why)")

    return main


def load():
    """The app's main, imported (in start: an import error is the worker's start error)."""
    if "LOOPVISOR_PYTHON_ASGI" in os.environ:
        return _asgi_main(_find(os.environ["LOOPVISOR_PYTHON_ASGI"]))
    main = _find(os.environ["LOOPVISOR_PYTHON_APP"])
    if not callable(main):
        raise TypeError("%s is not callable" % os.environ["LOOPVISOR_PYTHON_APP"])
    return main


class Context:
    """What main(ctx) gets: this worker's place, params, sockets, and its ways to speak."""

    def __init__(self, cap):
        self._cap = cap
        self.pool = _lv.pool(cap)
        self.index = _lv.index(cap)
        self.loop_index = _lv.loop_index(cap)
        self.params = json.loads(_lv.params(cap))
        # duplicates: closing one never closes what the pool's other workers share
        self.sockets = [socket.socket(fileno=os.dup(fd)) for fd in _lv.listen_fds(cap)]
        self.stopping = asyncio.Event()

    def ready(self):
        _lv.ready(self._cap)

    def counter(self, name, delta=1):
        _lv.counter(self._cap, str(name), int(delta))

    def log(self, level, msg):
        if isinstance(level, str):
            level = _LEVELS.get(level.lower(), 6)
        elif level >= 10:  # the logging module's numbers
            level = 3 if level >= 40 else 4 if level >= 30 else 6 if level >= 20 else 7
        _lv.log(self._cap, int(level), str(msg))


def _finish(loop):
    """What the loop holds at the end: cancelled and awaited, async generators and the
    default executor shut down, then the loop closed."""
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in tasks:
        t.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()


def run(cap, main):
    """One loop thread, to the end: 0 when main returned (or was cancelled after a stop
    that it did not finish in time), 1 when it raised."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    stop_s = int(os.environ.get("LOOPVISOR_STOP_TIMEOUT_MS", "10000")) / 1000.0
    late = os.environ.get("LOOPVISOR_PYTHON_READY") == "notify"
    wake = _lv.wake_fd(cap)
    try:
        ctx = Context(cap)
        task = loop.create_task(main(ctx))

        def on_wake():
            if _lv.pump(cap) and not ctx.stopping.is_set():
                ctx.stopping.set()
                # main has most of stop_timeout_ms to return; then its finally blocks run
                # before loopvisord's SIGKILL comes
                loop.call_later(stop_s * 0.8, task.cancel)

        def beat():
            _lv.beat(cap)
            loop.call_at(_lv.beat_due(cap) / 1e6, beat)

        loop.add_reader(wake, on_wake)
        loop.call_at(_lv.beat_due(cap) / 1e6, beat)
        if not late:
            loop.call_soon(ctx.ready)
        try:
            loop.run_until_complete(task)
        except asyncio.CancelledError:
            if not ctx.stopping.is_set():
                raise
        return 0
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        return 1
    finally:
        loop.remove_reader(wake)
        _finish(loop)
        asyncio.set_event_loop(None)
        # the worker ends with _exit, which flushes nothing: what the app printed is kept
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
