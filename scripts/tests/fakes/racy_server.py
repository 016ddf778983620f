#!/usr/bin/env python3
"""Fake scenario server that TSan reported on: on SIGTERM it copies `<its path>.report`
(when that file exists) to TSan's log file `<log_path>.<pid>` and exits 66. On SIGUSR1 it
does the same at once, as a server that reported and died mid-load (fake_load.py sends it
when `<load path>.kill-server` exists)."""
import os
import re
import signal
import sys

# What the runtime writes into its log at start-up with verbosity=1 (racelab's proof that
# the process was instrumented).
_log_path = re.search(r'log_path=("[^"]*"|\S+)', os.environ.get("TSAN_OPTIONS", ""))
if _log_path:
    with open(f"{_log_path.group(1).strip(chr(34))}.{os.getpid()}", "a") as _log:
        _log.write(f"***** Running under ThreadSanitizer v3 (pid {os.getpid()}) *****\n")

stop = {signal.SIGTERM, signal.SIGINT, signal.SIGUSR1}
signal.pthread_sigmask(signal.SIG_BLOCK, stop)
print("racelab: listening on 127.0.0.1:40002", flush=True)
signal.sigwait(stop)
log_path = re.search(r'log_path=("[^"]*"|\S+)', os.environ["TSAN_OPTIONS"]).group(1).strip('"')
report = sys.argv[0] + ".report"
if os.path.exists(report):
    with open(report, encoding="utf-8") as src, open(f"{log_path}.{os.getpid()}", "a") as dst:
        dst.write(src.read())
sys.exit(66)
