#!/usr/bin/env python3
"""Fake scenario server whose TSan log ends in the middle of a report (as when a process
is killed while TSan writes); exits 66 on SIGTERM."""
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

PARTIAL_REPORT = """==================
WARNING: ThreadSanitizer: data race (pid={pid})
  Write of size 8 at 0x7b0400000010 by thread T3:
    #0 racelab::(anonymous namespace)::HandleHit(racelab::http::Request const&) /src/scenarios/counter/counter.cc:18:3 (counter_bad+0xd467f)
    #1 racelab::http::Router::Dispatch(racelab::http::Request const&) /src/harness/src/router.cc:40:10 (counter_bad+0xd45f6)

  Previous write of size 8 at 0x7b0400000010 by thread T2:
    #0 racelab::(anonymous namespace)::HandleHit(racelab::http::Req"""

stop = {signal.SIGTERM, signal.SIGINT}
signal.pthread_sigmask(signal.SIG_BLOCK, stop)
log_path = re.search(r'log_path=("[^"]*"|\S+)', os.environ["TSAN_OPTIONS"]).group(1).strip('"')
with open(f"{log_path}.{os.getpid()}", "a", encoding="utf-8") as log:
    log.write(PARTIAL_REPORT.format(pid=os.getpid()))
print("racelab: listening on 127.0.0.1:40005", flush=True)
signal.sigwait(stop)
sys.exit(66)
