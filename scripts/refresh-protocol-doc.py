#!/usr/bin/env python3
"""Re-records the replies in docs/protocol.md from a real loopvisord.

Starts build/bin/loopvisord with the page's replay config in a temp dir, sends every
"→" line in order on one connection and rewrites the "←" lines that follow it with what
the daemon answered. tests/integration/test_protocol_doc.c checks the result.
"""
import os, re, socket, subprocess, sys, tempfile, time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
doc_path = os.path.join(root, "docs", "protocol.md")
doc = open(doc_path, encoding="utf-8").read()
config = re.search(r"<!-- replay-config -->\n```json\n(.*?)```", doc, re.S).group(1)

with tempfile.TemporaryDirectory() as tmp:
    open(os.path.join(tmp, "config.json"), "w").write(config)
    sock_path = os.path.join(tmp, "control.sock")
    daemon = subprocess.Popen([os.path.join(root, "build", "bin", "loopvisord"), "-c",
                               os.path.join(tmp, "config.json"), "-s", sock_path],
                              stderr=subprocess.DEVNULL)
    for _ in range(100):
        if os.path.exists(sock_path):
            break
        time.sleep(0.05)
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_path)
    f = s.makefile("rwb")
    out = []
    for line in doc.split("\n"):
        if line.startswith("← "):
            out.append("← " + f.readline().decode().rstrip("\n"))
            continue
        if line.startswith("→ "):
            f.write(line[2:].encode() + b"\n")
            f.flush()
        out.append(line)
    daemon.wait(timeout=30)
open(doc_path, "w", encoding="utf-8").write("\n".join(out))
print("rewrote", doc_path)
