#!/usr/bin/env python3
"""Fake scenario server that TSan reported on: on SIGTERM it copies `<its path>.report`
(when that file exists) to TSan's log file `<log_path>.<pid>` and exits 66."""
import os
import re
import signal
import sys

stop = {signal.SIGTERM, signal.SIGINT}
signal.pthread_sigmask(signal.SIG_BLOCK, stop)
print("racelab: listening on 127.0.0.1:40002", flush=True)
signal.sigwait(stop)
log_path = re.search(r'log_path=("[^"]*"|\S+)', os.environ["TSAN_OPTIONS"]).group(1).strip('"')
report = sys.argv[0] + ".report"
if os.path.exists(report):
    with open(report, encoding="utf-8") as src, open(f"{log_path}.{os.getpid()}", "w") as dst:
        dst.write(src.read())
sys.exit(66)
