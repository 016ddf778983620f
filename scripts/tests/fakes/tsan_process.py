#!/usr/bin/env python3
"""A process of a gated test run, standing in for a TSan-instrumented test binary.

    tsan_process.py [--log FILE]... [--say TEXT] [--env-to FILE] [--exit N | --signal NAME]

Each --log FILE is copied to TSan's log file `<log_path>.<pid>` (log_path from
TSAN_OPTIONS, as the runtime does), one after the other; --say prints a line on stdout;
--env-to writes the TSAN_OPTIONS it was given to FILE; then it exits with N (default 0)
or kills itself with the signal NAME (e.g. SIGKILL).
"""
import argparse
import os
import re
import signal
import sys

parser = argparse.ArgumentParser()
parser.add_argument("--log", action="append", default=[])
parser.add_argument("--say", action="append", default=[])
parser.add_argument("--env-to")
parser.add_argument("--exit", type=int, default=0)
parser.add_argument("--signal")
args = parser.parse_args()

options = os.environ.get("TSAN_OPTIONS", "")
if args.env_to:
    with open(args.env_to, "w", encoding="utf-8") as out:
        out.write(options)
if args.log:
    log_path = re.search(r'log_path=("[^"]*"|\S+)', options).group(1).strip('"')
    with open(f"{log_path}.{os.getpid()}", "w", encoding="utf-8") as dst:
        for name in args.log:
            with open(name, encoding="utf-8") as src:
                dst.write(src.read())
for text in args.say:
    print(text, flush=True)
if args.signal:
    sys.stdout.flush()
    os.kill(os.getpid(), getattr(signal, args.signal))
sys.exit(args.exit)
