#!/usr/bin/env python3
"""Fake scenario server: prints its listening line, exits 0 on SIGTERM or SIGINT."""
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

stop = {signal.SIGTERM, signal.SIGINT}
signal.pthread_sigmask(signal.SIG_BLOCK, stop)
assert "--port" in sys.argv and "--threads" in sys.argv, sys.argv
print("racelab: listening on 127.0.0.1:40001", flush=True)
signal.sigwait(stop)
sys.exit(0)
