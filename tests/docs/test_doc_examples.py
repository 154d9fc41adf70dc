#!/usr/bin/env python3
"""test_doc_examples: runs every fenced example in README.md and docs/*.md.

usage: test_doc_examples.py BUILD_DIR SOURCE_DIR

- ```json: a whole config, or one pool object (wrapped into {"pools": [...]}), must pass
  `loopvisord --check -c FILE` as a file (programs, folders and modules it names need not
  exist on this machine).
- ```c: must compile (cc -fsyntax-only -Wall -Wextra -Werror against include/ and the
  libraries' pkg-config flags).
- ```sh, ```console and bare ``` blocks of loopvisorctl commands (a bare block runs its
  `$ ` lines, the rest is their output): each is run against a real loopvisord this test
  starts on examples/demo.json in a temp dir, one daemon per document, commands in order,
  the socket swapped for the daemon's. It must exit 0, or N for a line ending `# exit N`.
  `events` and `tail -f` follow until interrupted: they must print a line and still run.
- Blocks of → / ← lines in docs/protocol.md are replayed by test_protocol_doc.
- A block right after `<!-- not-tested: REASON -->` is not run: it is counted and listed.
Anything else (a block that is none of these and not marked) fails, so a new example is
never silently left out; so does a heading with nothing under it. Prints `N examples run, N skipped (marked), N failed`.
"""
import glob
import json
import os
import re
import select
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

BUILD, SRC = (os.path.abspath(a) for a in sys.argv[1:3])
DAEMON = os.path.join(BUILD, "bin", "loopvisord")
CTL = os.path.join(BUILD, "bin", "loopvisorctl")
DEMO = os.path.join(SRC, "examples", "demo.json")
MARK = re.compile(r"^<!--\s*not-tested:\s*(.+?)\s*-->\s*$")
FENCE = re.compile(r"^```(\S*)\s*$")
EXIT = re.compile(r"#\s*exit\s+(\d+)\s*$")
# loopvisorctl options that take a value (ctl/loopvisorctl.c parse_opts)
VALUED = {"-s", "--socket", "--timeout"}

ran = skipped = failed = replayed = 0
tmp = tempfile.mkdtemp(prefix="lvdocs.")


def report(ok, where, what, detail=""):
    global ran, failed
    ran += 1
    if ok:
        print(f"ok - {where}: {what}")
    else:
        failed += 1
        print(f"not ok - {where}: {what}")
        for line in detail.rstrip().splitlines():
            print("    " + line)


def blocks(path):
    """(line number, language, text, not-tested reason or None) of each fenced block."""
    lines = open(path, encoding="utf-8").read().split("\n")
    i, prev = 0, ""
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            if lines[i].strip():
                prev = lines[i]
            i += 1
            continue
        start, lang, body = i + 1, m.group(1), []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        marked = MARK.match(prev)
        yield start, lang, "\n".join(body) + "\n", marked.group(1) if marked else None
        prev, i = "", i + 1


class Daemon:
    """loopvisord on a copy of examples/demo.json in a temp dir; only its own pid is killed."""

    def __init__(self, name):
        self.dir = tempfile.mkdtemp(prefix=name + ".", dir=tmp)
        self.sock = os.path.join(self.dir, "control.sock")
        shutil.copy(DEMO, os.path.join(self.dir, "demo.json"))
        self.log = open(os.path.join(self.dir, "daemon.log"), "w")
        self.proc = subprocess.Popen([DAEMON, "-c", os.path.join(self.dir, "demo.json"),
                                      "-s", self.sock], stderr=self.log, stdout=self.log)
        self.ready = self._wait_ready()

    def ctl(self, *args, timeout=60):
        return subprocess.run([CTL, "-s", self.sock, *args], capture_output=True, text=True,
                              timeout=timeout)

    def _wait_ready(self):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.proc.poll() is None:
            r = self.ctl("--json", "status", timeout=20)
            if r.returncode != 3:  # 3: not listening yet
                break
            time.sleep(0.05)  # polls for the socket to appear; no state is guessed
        else:
            return False
        for pool in json.loads(r.stdout)["pools"]:
            if self.ctl("--timeout", "20000", "wait", pool["name"], "running").returncode:
                return False
        return True

    def log_text(self):
        self.log.flush()
        return open(self.log.name, encoding="utf-8", errors="replace").read()[-3000:]

    def stop(self):
        if self.proc.poll() is None:
            self.ctl("shutdown", timeout=30)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def ctl_argv(words, sock):
    """The doc's loopvisorctl words with the built binary and this test's socket."""
    argv, i, has_socket = [CTL], 1, False
    while i < len(words):
        w = words[i]
        if w in ("-s", "--socket") and i + 1 < len(words):
            argv += [w, sock]
            has_socket = True
            i += 2
            continue
        if w.startswith("--socket="):
            argv.append("--socket=" + sock)
            has_socket = True
        else:
            argv.append(w)
        i += 1
    return argv, has_socket


def verb_and_args(argv):
    i = 1
    while i < len(argv) and argv[i].startswith("-"):
        i += 2 if argv[i] in VALUED else 1
    return (argv[i], argv[i + 1:]) if i < len(argv) else (None, [])


def follow(d, argv, env, where, line):
    """events / tail -f: must print a line and keep running until interrupted."""
    verb, args = verb_and_args(argv)
    targets = [a for a in args if not a.startswith("-") and not a.isdigit()]
    target = targets[-1].split(":")[0] if targets else "ticker"
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    got, triggers, deadline = b"", 0, time.monotonic() + 20
    try:
        while not got and time.monotonic() < deadline and p.poll() is None:
            ready, _, _ = select.select([p.stdout], [], [], 1.0)
            if ready:
                got = p.stdout.readline()
            elif triggers < 2:  # something for it to report: a restart of its pool
                d.ctl("restart", target)
                triggers += 1
        alive = p.poll() is None
    finally:
        if p.poll() is None:
            p.terminate()
        _, err = p.communicate(timeout=10)
    report(alive and bool(got), where,
           f"{line} (follows: printed a line, still running)",
           f"exit {p.returncode}; printed {got!r}\nstderr: {err.decode(errors='replace')}")


def run_shell(path, start, text, lang, state):
    where = f"{os.path.relpath(path, SRC)}:{start}"
    lines = text.splitlines()
    if any(l.startswith("$ ") for l in lines):
        cmds = [l[2:] for l in lines if l.startswith("$ ")]
    elif lang in ("sh", "console", "bash"):
        cmds = [l for l in lines if l.strip() and not l.lstrip().startswith("#")]
    else:
        report(False, where, "a bare block that is no $ transcript: run it or mark it",
               "put <!-- not-tested: REASON --> on the line before it")
        return
    for line in cmds:
        try:
            words = shlex.split(line, comments=True)
        except ValueError as e:
            report(False, where, line, str(e))
            continue
        if not words or os.path.basename(words[0]) != "loopvisorctl":
            report(False, where, line, "only loopvisorctl commands are run here: mark the block")
            continue
        if state.get("daemon") is None:
            state["daemon"] = Daemon(os.path.basename(path))
            if not state["daemon"].ready:
                report(False, where, "loopvisord on examples/demo.json did not come up",
                       state["daemon"].log_text())
                return
        d = state["daemon"]
        argv, has_socket = ctl_argv(words, d.sock)
        env = dict(os.environ)
        if not has_socket:
            env["LOOPVISOR_SOCKET"] = d.sock
        verb, args = verb_and_args(argv)
        if verb == "events" or (verb == "tail" and "-f" in args):
            follow(d, argv, env, where, line)
            continue
        want = int(EXIT.search(line).group(1)) if EXIT.search(line) else 0
        try:
            r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
            rc, out = r.returncode, r.stdout + r.stderr
        except subprocess.TimeoutExpired:
            rc, out = "none (still running after 60 s)", ""
        report(rc == want, where, f"{line} (exit {want})", f"exit {rc}\n{out}")


def run_json(path, start, text):
    where = f"{os.path.relpath(path, SRC)}:{start}"
    try:
        doc = json.loads(text)
    except ValueError as e:
        report(False, where, "```json block", f"not JSON: {e}")
        return
    what = "config"
    if isinstance(doc, dict) and "name" in doc:  # one pool, as add takes it
        doc, what = {"pools": [doc]}, "pool (wrapped into a config)"
    if os.geteuid() != 0 and any("user" in p or "group" in p for p in doc.get("pools", [])):
        global skipped_root
        skipped_root += 1
        print(f"SKIP - {where}: {what} sets user/group, which only root may check")
        return
    d = tempfile.mkdtemp(prefix="json.", dir=tmp)
    f = os.path.join(d, "example.json")
    with open(f, "w") as out:
        json.dump(doc, out)
    r = subprocess.run([DAEMON, "--check", "-c", f], capture_output=True, text=True, timeout=30)
    # an example names programs and folders of its reader's machine, not of this one: the
    # file must be valid; what --check finds missing on this host is no fault of the doc
    valid = r.returncode == 0 or f"{f} is valid, but " in r.stderr
    report(valid, where, f"{what} passes loopvisord --check", r.stdout + r.stderr)


def run_c(path, start, text):
    where = f"{os.path.relpath(path, SRC)}:{start}"
    f = os.path.join(tempfile.mkdtemp(prefix="c.", dir=tmp), "example.c")
    with open(f, "w") as out:
        out.write(text)
    flags = subprocess.run(["pkg-config", "--cflags", "libevent_core", "jansson"],
                           capture_output=True, text=True).stdout.split()
    r = subprocess.run(["cc", "-fsyntax-only", "-Wall", "-Wextra", "-Werror",
                        "-I" + os.path.join(SRC, "include"), *flags, f],
                       capture_output=True, text=True, timeout=60)
    report(r.returncode == 0, where, "C example compiles", r.stdout + r.stderr)


skipped_root = 0
HEADING = re.compile(r"^(#{1,6})\s*(.*?)\s*$")


def empty_headings(path):
    """Headings with nothing under them: the next heading (of the same or a higher level)
    or the end of the file follows with no text between."""
    out, fenced, last = [], False, None  # last: (line, level, title, has text)
    for n, line in enumerate(open(path, encoding="utf-8").read().split("\n"), 1):
        if line.startswith("```"):
            fenced = not fenced
        m = None if fenced else HEADING.match(line)
        if m:
            if last and not last[3] and (len(m.group(1)) <= last[1] or not m.group(2)):
                out.append(last)
            last = [n, len(m.group(1)), m.group(2), False]
            if not m.group(2):
                out.append(last)
                last = None
        elif last and line.strip():
            last[3] = True
    if last and not last[3]:
        out.append(last)
    return out


def main():
    global skipped, replayed
    docs = [os.path.join(SRC, "README.md")] + sorted(glob.glob(os.path.join(SRC, "docs", "*.md")))
    try:
        for path in docs:
            state = {}
            try:
                for start, lang, text, reason in blocks(path):
                    where = f"{os.path.relpath(path, SRC)}:{start}"
                    if reason:
                        skipped += 1
                        print(f"skip (marked) - {where}: {reason}")
                    elif re.search(r"^[→←] ", text, re.M):
                        if os.path.basename(path) == "protocol.md":
                            replayed += 1
                        else:
                            report(False, where, "→/← lines are replayed only in docs/protocol.md")
                    elif lang == "json":
                        run_json(path, start, text)
                    elif lang == "c":
                        run_c(path, start, text)
                    elif lang in ("sh", "console", "bash", ""):
                        run_shell(path, start, text, lang, state)
                    else:
                        report(False, where, f"```{lang} block: run it or mark it",
                               "put <!-- not-tested: REASON --> on the line before it")
            finally:
                if state.get("daemon"):
                    state["daemon"].stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    global failed
    empty = [(path, e) for path in docs for e in empty_headings(path)]
    for path, (n, level, title, _) in empty:
        print(f"not ok - {os.path.relpath(path, SRC)}:{n}: empty heading {'#' * level} {title}")
    print(f"{len(empty)} empty headings in {len(docs)} documents")
    failed += len(empty)
    print(f"{replayed} blocks of protocol exchanges left to test_protocol_doc")
    if skipped_root:
        print(f"{skipped_root} skipped (not root)")
    print(f"{ran} examples run, {skipped} skipped (marked), {failed} failed")
    return 0 if failed == 0 and ran > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
