#!/usr/bin/env python3
"""Fake scenario server that leaves a thread behind: a thread blocked forever on a lock;
at SIGTERM it reports it (and a lost job and a lost cancellation) as a real server does,
`racelab: finding {...}` lines, then "racelab: shutdown complete", then holds reading stdin
until EOF when RACELAB_HOLD_AFTER_SHUTDOWN=1, and exits 0."""
import json
import os
import re
import signal
import sys
import threading

# What the runtime writes into its log at start-up with verbosity=1 (racelab's proof that
# the process was instrumented).
_log_path = re.search(r'log_path=("[^"]*"|\S+)', os.environ.get("TSAN_OPTIONS", ""))
if _log_path:
    with open(f"{_log_path.group(1).strip(chr(34))}.{os.getpid()}", "a") as _log:
        _log.write(f"***** Running under ThreadSanitizer v3 (pid {os.getpid()}) *****\n")

stop = {signal.SIGTERM, signal.SIGINT}
signal.pthread_sigmask(signal.SIG_BLOCK, stop)
never = threading.Lock()
never.acquire()
started = threading.Event()
tids = []


def blocked_forever() -> None:
    tids.append(threading.get_native_id())
    started.set()
    never.acquire()  # nobody ever releases it: the leak


threading.Thread(target=blocked_forever, name="rl-fetch-3", daemon=True).start()
started.wait(timeout=10)
print("racelab: listening on 127.0.0.1:40005", flush=True)
signal.sigwait(stop)
for finding in ({"kind": "leaked-thread", "tid": tids[0], "name": "rl-fetch-3", "state": "S",
                 "wchan": "futex_wait_queue"},
                {"kind": "lost-job", "what": "webhook", "count": 2},
                {"kind": "lost-cancellation", "what": "report", "count": 7,
                 "max_after_cancel_ms": 850}):
    print("racelab: finding " + json.dumps(finding), flush=True)
print("racelab: shutdown complete", flush=True)
if os.environ.get("RACELAB_HOLD_AFTER_SHUTDOWN") == "1":
    sys.stdin.read()
sys.exit(0)
