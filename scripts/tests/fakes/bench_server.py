#!/usr/bin/env python3
"""Fake server for `racelab bench-http`: takes any flags (racelab's `--port 0 --threads N` or
the Go reference's `-addr 127.0.0.1:0`), prints "racelab: listening on 127.0.0.1:<port>"
with the port in `<its path>.port` (default 40003), and writes the runtime's start-up mark
into `<log_path>.<pid>` when TSAN_OPTIONS names a log_path, unless `<its path>.uninstrumented`
exists. On SIGTERM: copies `<its path>.report` (when present) into that log, prints
"racelab: shutdown complete", holds until stdin closes when RACELAB_HOLD_AFTER_SHUTDOWN=1,
and exits 66 when it copied a report, else 0."""
import os
import re
import signal
import sys

me = os.path.realpath(sys.argv[0])
stop = {signal.SIGTERM, signal.SIGINT}
signal.pthread_sigmask(signal.SIG_BLOCK, stop)
found = re.search(r'log_path=("[^"]*"|\S+)', os.environ.get("TSAN_OPTIONS", ""))
log = f"{found.group(1).strip(chr(34))}.{os.getpid()}" if found else None
if log and not os.path.exists(me + ".uninstrumented"):
    with open(log, "a") as out:
        out.write(f"***** Running under ThreadSanitizer v3 (pid {os.getpid()}) *****\n")
port = open(me + ".port").read().strip() if os.path.exists(me + ".port") else "40003"
print(f"racelab: listening on 127.0.0.1:{port}", flush=True)
signal.sigwait(stop)
reported = bool(log) and os.path.exists(me + ".report")
if reported:
    with open(me + ".report", encoding="utf-8") as src, open(log, "a") as dst:
        dst.write(src.read())
print("racelab: shutdown complete", flush=True)
if os.environ.get("RACELAB_HOLD_AFTER_SHUTDOWN") == "1":
    sys.stdin.read()
sys.exit(66 if reported else 0)
