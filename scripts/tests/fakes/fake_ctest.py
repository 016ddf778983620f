#!/usr/bin/env python3
"""Fake ctest: a test list from the JSON file named by FAKE_CTEST_SPEC,
{"tests": {"Suite.Name": [tsan_process.py arguments...], ...}}.

    fake_ctest.py [ARGS...] --show-only=json-v1    the list, as ctest's json-v1
    fake_ctest.py [ARGS...] -R ^Suite\\.Name$       runs that test (tsan_process.py with its
                                                   arguments), ctest-like lines, exit 0 or 8
    fake_ctest.py [ARGS...]                        runs every test, in order
Each run is appended to `<spec>.ran` so a test can check what ran."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

spec_path = os.environ["FAKE_CTEST_SPEC"]
tests = json.loads(Path(spec_path).read_text())["tests"]
process = Path(__file__).resolve().parent / "tsan_process.py"
args = sys.argv[1:]
if "--show-only=json-v1" in args:
    print(json.dumps({"kind": "ctestInfo", "version": {"major": 1, "minor": 0},
                      "tests": [{"name": name, "command": ["x"]} for name in tests]}))
    sys.exit(0)
wanted = list(tests)
if "-R" in args:
    pattern = args[len(args) - 1 - args[::-1].index("-R") + 1]
    wanted = [name for name in tests if re.search(pattern, name)]
failed = 0
for number, name in enumerate(wanted, start=1):
    with open(spec_path + ".ran", "a") as ran:
        ran.write(name + "\n")
    print(f"    Start {number}: {name}", flush=True)
    done = subprocess.run([sys.executable, str(process), *tests[name]], check=False)
    failed += done.returncode != 0
    print(f"{number}/{len(wanted)} Test #{number}: {name} ... "
          f"{'Passed' if done.returncode == 0 else 'Failed'}", flush=True)
total = len(wanted)
print(f"{(100 * (total - failed)) // total if total else 100}% tests passed, {failed} tests "
      f"failed out of {total}", flush=True)
sys.exit(8 if failed else 0)
