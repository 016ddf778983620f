#!/usr/bin/env python3
"""Fake racelab-load: checks the flags the runner must pass, prints one JSON result in
which every request succeeded, in 12.5 ms. `<its path>.peak` (if present) holds the peak
thread count, reported only with --pid (the process it samples);
the --header lines it was given go to `<its path>.headers` (JSON)."""
import argparse
import json
import os
import signal
import time

parser = argparse.ArgumentParser()
parser.add_argument("--host", required=True)
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--connections", type=int, required=True)
parser.add_argument("--requests", type=int, required=True)
parser.add_argument("--path", action="append", required=True)
parser.add_argument("--disconnects", type=int, default=0)
parser.add_argument("--header", action="append", default=[])
parser.add_argument("--pid", type=int)  # the runner passes it; bench-http does not
parser.add_argument("--timeout-ms", type=int)
args = parser.parse_args()
if args.pid is not None:
    os.kill(args.pid, 0)  # the server under load must exist
if os.path.exists(__file__ + ".kill-server"):
    # The server reports and dies mid-load: wait (with a deadline) until it has exited.
    os.kill(args.pid, signal.SIGUSR1)
    give_up = time.monotonic() + 20
    while time.monotonic() < give_up:
        with open(f"/proc/{args.pid}/stat") as stat:
            if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                break
if args.header:
    # What a test can check: the header lines the runner passed, in order.
    with open(__file__ + ".headers", "w") as out:
        json.dump(args.header, out)
peak_file = __file__ + ".peak"
peak = int(open(peak_file).read()) if os.path.exists(peak_file) else 6
# Requests go round the paths in turn, as racelab-load sends them.
per_path = {}
for index in range(args.requests):
    path = args.path[index % len(args.path)]
    per_path[path] = per_path.get(path, 0) + 1
print(json.dumps({
    "paths": {path: {"status": {"200": n}} for path, n in per_path.items()},
    "requests": args.requests,
    "status": {"200": args.requests},
    "transport_errors": 0,
    "disconnects": args.disconnects,
    "latency_ms": {"p50": 0.4, "p90": 0.9, "p99": 2.5, "max": 7.0},
    "peak_threads": peak if args.pid is not None else None,
    "elapsed_ms": 12.5,
}))
