#!/usr/bin/env python3
"""test_man_pages: the man pages cover what the sources define, and format without warnings.

usage: test_man_pages.py SOURCE_DIR

Names are read from the sources, never listed here, so a verb or key added to the code
fails this test until the man page has it:
- loopvisorctl.1: an entry (.TP) for every command in ctl/request.c's commands[],
  every long option of its getopt table and short option of its option string, and every
  exit code of its EXIT_* enum under EXIT STATUS.
- loopvisor.json.5: every key of the allowed-key lists (the NULL-terminated string arrays
  in config/config.c and config/pool.c) and every rlimit name, as an entry or a "key".
- loopvisord.8: every long and short option of daemon/main.c and every signal it handles.
- none of them sends the reader to the source tree (docs/..., *.c).
- groff -man -ww -z, and man --warnings -l where man is installed, print nothing.
Prints `N checks passed, N failed`.
"""
import os
import re
import shutil
import subprocess
import sys

SRC = os.path.abspath(sys.argv[1])
passed = failed = 0


def check(ok, what, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok - {what}")
    else:
        failed += 1
        print(f"not ok - {what}")
        for line in detail.rstrip().splitlines():
            print("    " + line)


def read(*parts):
    return open(os.path.join(SRC, *parts), encoding="utf-8").read()


def strings(text):
    return re.findall(r'"([^"\\]*)"', text)


def string_arrays(c):
    """name -> strings of each `static const char *const NAME[] = { ..., NULL }`."""
    return {m.group(1): strings(m.group(2)) for m in re.finditer(
        r"static const char \*const (\w+)\[\]\s*=\s*\{(.*?)\}", c, re.S)}


def longopts(c):
    body = re.search(r"struct option longopts\[\]\s*=\s*\{(.*?)\n\t\};", c, re.S).group(1)
    return re.findall(r'\{\s*"([\w-]+)"', body)


def shortopts(c):
    spec = re.search(r'getopt_long\(argc, argv, "([^"]*)"', c).group(1)
    return [ch for ch in spec if ch.isalnum()]


def unroff(text):
    """The man source with font escapes and \\- taken out, for looking words up."""
    return re.sub(r"\\f[BIRP]|\\f\(..", "", text).replace("\\-", "-").replace("\\(dq", '"')


def entries(man):
    """The first word of every .TP entry's tag line."""
    lines, out = man.split("\n"), set()
    for i, line in enumerate(lines[:-1]):
        if line.startswith(".TP"):
            tag = unroff(re.sub(r"^\.(B|BR|BI|I|IR)\s+", "", lines[i + 1]))
            for word in re.findall(r"[\w.+-]+", tag.replace('"', " ").replace(",", " ")):
                out.add(word)
    return out


def section(man, name):
    m = re.search(r"^\.SH " + re.escape(name) + r"\s*$(.*?)(?=^\.SH |\Z)", man, re.M | re.S)
    return m.group(1) if m else ""


ctl = "".join(read("ctl", f) for f in ("loopvisorctl.c", "request.c", "request.h"))
ctl_man = read("man", "loopvisorctl.1")
ctl_entries = entries(ctl_man)
commands = string_arrays(ctl)["commands"]
check(len(commands) >= 16, f"ctl/request.c lists {len(commands)} commands")
for verb in commands:
    check(verb in ctl_entries, f"loopvisorctl.1 has an entry for the command {verb}")
for opt in longopts(ctl):
    check(f"--{opt}" in ctl_entries, f"loopvisorctl.1 has an entry for --{opt}")
for opt in shortopts(ctl):
    check(f"-{opt}" in ctl_entries, f"loopvisorctl.1 has an entry for -{opt}")
codes = re.search(r"enum \{ (EXIT_OK.*?)\};", ctl, re.S).group(1)
exit_entries = entries(section(ctl_man, "EXIT STATUS"))
for name, number in re.findall(r"(EXIT_\w+) = (\d+)", codes):
    check(number in exit_entries, f"loopvisorctl.1 EXIT STATUS has {number} ({name})")

cfg_man = read("man", "loopvisor.json.5")
cfg_text, cfg_entries = unroff(cfg_man), entries(cfg_man)
keys = []
for f in ("config.c", "pool.c", "http.c"):
    c = read("config", f)
    for name, names in string_arrays(c).items():
        keys += [(f, name, k) for k in names]
    keys += [(f, "rlimit_names", k) for k in re.findall(r'\{ "(\w+)", RLIMIT_\w+ \}', c)]
check(len(keys) >= 40, f"config/ defines {len(keys)} keys")
for f, array, key in keys:
    check(key in cfg_entries or f'"{key}"' in cfg_text or
          re.search(r"\\fB" + re.escape(key) + r"\\fR", cfg_man) is not None,
          f"loopvisor.json.5 covers {key} ({f} {array})")

d = read("daemon", "main.c")
d_man = read("man", "loopvisord.8")
d_entries = entries(d_man)
for opt in longopts(d):
    check(f"--{opt}" in d_entries, f"loopvisord.8 has an entry for --{opt}")
for opt in shortopts(d):
    check(f"-{opt}" in d_entries, f"loopvisord.8 has an entry for -{opt}")
for sig in sorted(set(re.findall(r"evsignal_new\([^,]+, (SIG\w+)", d))):
    check(sig in entries(section(d_man, "SIGNALS")), f"loopvisord.8 SIGNALS has {sig}")

pages = ["loopvisorctl.1", "loopvisor.json.5", "loopvisord.8"]
for page in pages:
    text = unroff(read("man", page))
    hits = re.findall(r"\bdocs/\S+|\b[\w/]+\.c\b|\bsource tree\b|\bin the source\b", text)
    check(not hits, f"{page} does not send the reader to the source tree", " ".join(hits))

env = dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="80")
if shutil.which("groff"):
    for page in pages:
        r = subprocess.run(["groff", "-man", "-ww", "-z", os.path.join(SRC, "man", page)],
                           capture_output=True, text=True, env=env)
        check(r.returncode == 0 and not r.stderr.strip() and not r.stdout.strip(),
              f"groff -man -ww -z {page}: no warnings", r.stdout + r.stderr)
else:
    check(False, "groff is installed (groff-base)", "needed to check the pages format")
if shutil.which("man"):
    for page in pages:
        r = subprocess.run(["man", "--warnings", "-l", os.path.join(SRC, "man", page)],
                           capture_output=True, text=True, env=env)
        check(r.returncode == 0 and not r.stderr.strip(),
              f"man --warnings -l {page}: no warnings", r.stderr)
else:
    print("SKIP - man --warnings: man is not installed (groff checked the pages)")

print(f"{passed} checks passed, {failed} failed")
sys.exit(1 if failed or not passed else 0)
