#!/usr/bin/env python3
"""Fake wrk: checks the flags bench-http passes (-tN -cN -dNs --latency URL), appends them
as one JSON line to `<its path>.calls`, and prints the report in `<its path>.<port>` (the
URL's port), or exits 1 as wrk does when it cannot connect when there is none. With
`<its path>.realtime` present it first lets its -d duration pass, as wrk does, for tests
that sample a server during the run."""
import json
import os
import re
import sys
import threading

me = os.path.realpath(sys.argv[0])
args = sys.argv[1:]
threads, connections, duration, latency, url = args
assert re.fullmatch(r"-t\d+", threads) and re.fullmatch(r"-c\d+", connections), args
assert re.fullmatch(r"-d\d+s", duration) and latency == "--latency", args
found = re.fullmatch(r"http://127\.0\.0\.1:(\d+)(/\S*)", url)
assert found, url
with open(me + ".calls", "a") as calls:
    calls.write(json.dumps(args) + "\n")
report = f"{me}.{found.group(1)}"
if not os.path.exists(report):
    print(f"unable to connect to 127.0.0.1:{found.group(1)} Connection refused", file=sys.stderr)
    sys.exit(1)
if os.path.exists(me + ".realtime"):
    threading.Event().wait(int(duration[2:-1]))  # a run lasts its duration
print(open(report).read(), end="")
