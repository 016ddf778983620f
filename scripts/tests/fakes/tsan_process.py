#!/usr/bin/env python3
"""A process of a gated test run, standing in for a TSan-instrumented test binary.

    tsan_process.py [--plain] [--log FILE]... [--say TEXT] [--env-to FILE]
                    [--exit N | --signal NAME]

Unless --plain (a process built without TSan), it first writes the runtime's start-up mark
("Running under ThreadSanitizer", which verbosity=1 asks for) into `<log_path>.<pid>`.
Each --log FILE is copied to TSan's log file `<log_path>.<pid>` (log_path from
TSAN_OPTIONS, as the runtime does), one after the other; --say prints a line on stdout;
--exit-from-tsan-options exits with the last exitcode= of TSAN_OPTIONS (as after a report);
--env-to writes the TSAN_OPTIONS it was given to FILE; then it exits with N (default 0)
or kills itself with the signal NAME (e.g. SIGKILL).
"""
import argparse
import os
import re
import signal
import sys

parser = argparse.ArgumentParser()
parser.add_argument("--plain", action="store_true")
parser.add_argument("--log", action="append", default=[])
parser.add_argument("--say", action="append", default=[])
parser.add_argument("--env-to")
parser.add_argument("--exit", type=int, default=0)
parser.add_argument("--signal")
parser.add_argument("--exit-from-tsan-options", action="store_true",
                    help="exit as the runtime would after a report: TSAN_OPTIONS' exitcode")
args = parser.parse_args()

options = os.environ.get("TSAN_OPTIONS", "")
if args.env_to:
    with open(args.env_to, "w", encoding="utf-8") as out:
        out.write(options)
log_path = re.search(r'log_path=("[^"]*"|\S+)', options)
if log_path and not args.plain:
    with open(f"{log_path.group(1).strip(chr(34))}.{os.getpid()}", "a") as dst:
        dst.write(f"***** Running under ThreadSanitizer v3 (pid {os.getpid()}) *****\n")
if args.log:
    assert log_path is not None, "a process with --log needs log_path in TSAN_OPTIONS"
    with open(f"{log_path.group(1).strip(chr(34))}.{os.getpid()}", "a", encoding="utf-8") as dst:
        for name in args.log:
            with open(name, encoding="utf-8") as src:
                dst.write(src.read())
for text in args.say:
    print(text, flush=True)
if args.signal:
    sys.stdout.flush()
    os.kill(os.getpid(), getattr(signal, args.signal))
if args.exit_from_tsan_options:
    code = re.findall(r"exitcode=(\d+)", options)
    sys.exit(int(code[-1]) if code else 66)
sys.exit(args.exit)
