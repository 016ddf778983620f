#!/usr/bin/env python3
"""Fake scenario server that dies by SIGSEGV right after its listening line."""
import os
import resource
import re
import signal

# What the runtime writes into its log at start-up with verbosity=1 (racelab's proof that
# the process was instrumented).
_log_path = re.search(r'log_path=("[^"]*"|\S+)', os.environ.get("TSAN_OPTIONS", ""))
if _log_path:
    with open(f"{_log_path.group(1).strip(chr(34))}.{os.getpid()}", "a") as _log:
        _log.write(f"***** Running under ThreadSanitizer v3 (pid {os.getpid()}) *****\n")

resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file
print("racelab: listening on 127.0.0.1:40003", flush=True)
signal.signal(signal.SIGSEGV, signal.SIG_DFL)
os.kill(os.getpid(), signal.SIGSEGV)
