#!/usr/bin/env python3
"""Fake scenario server that ignores SIGTERM and never exits by itself."""
import os
import re
import signal
import threading

# What the runtime writes into its log at start-up with verbosity=1 (racelab's proof that
# the process was instrumented).
_log_path = re.search(r'log_path=("[^"]*"|\S+)', os.environ.get("TSAN_OPTIONS", ""))
if _log_path:
    with open(f"{_log_path.group(1).strip(chr(34))}.{os.getpid()}", "a") as _log:
        _log.write(f"***** Running under ThreadSanitizer v3 (pid {os.getpid()}) *****\n")

signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("racelab: listening on 127.0.0.1:40004", flush=True)
threading.Event().wait()
