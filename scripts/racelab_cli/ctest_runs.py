"""Gating a ctest run one test at a time, so each finding names the test that raced.

`racelab gate -- ctest ARGS...` asks ctest for its test list (`--show-only=json-v1`, with
the user's own selection arguments), then runs `ctest ARGS... -R ^<name>$` once per test,
each with its own log folder: a report in that folder came from that test's processes.
`--shard K/N` keeps every N-th test starting at the K-th, in ctest's order, so N shards
together run each test exactly once.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from . import patterns as P
from .model import Problem, ProblemKind

LIST_TIMEOUT_S = 120.0
CTEST_REGEX_SPECIAL = set("\\^$.|?*+()[]{}")  # CMake's regex metacharacters


def is_ctest(command: Sequence[str]) -> bool:
    return bool(command) and Path(command[0]).name == "ctest"


def list_tests(command: Sequence[str], *, env: Mapping[str, str],
               cwd: Path | None) -> list[str] | Problem:
    """The names of the tests `command` would run, in ctest's order."""
    try:
        done = subprocess.run([*command, "--show-only=json-v1"], capture_output=True,
                              env=dict(env), cwd=cwd, timeout=LIST_TIMEOUT_S, check=False)
    except FileNotFoundError:
        return Problem(ProblemKind.CANNOT_START, f"command not found: {command[0]}")
    except subprocess.TimeoutExpired:
        return Problem(ProblemKind.HANG, f"hang: listing the tests of {command[0]} took "
                                         f"more than {LIST_TIMEOUT_S:g}s")
    try:
        data = json.loads(done.stdout.decode("utf-8", "replace"))
        names = [str(test["name"]) for test in data["tests"]]
    except (ValueError, KeyError, TypeError):
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        return Problem(ProblemKind.CANNOT_START,
                       f"cannot list the tests of '{' '.join(command)}' (status "
                       f"{done.returncode}){': ' + tail[0] if tail[0] else ''}")
    return names


def test_command(command: Sequence[str], name: str) -> list[str]:
    """`command` narrowed to exactly the test `name`."""
    escaped = "".join("\\" + c if c in CTEST_REGEX_SPECIAL else c for c in name)
    return [*command, "-R", f"^{escaped}$"]


def parse_shard(text: str) -> tuple[int, int]:
    """"2/4" -> (2, 4). Raises ValueError for anything but 1 <= K <= N."""
    found = P.SHARD.match(text)
    if not found:
        raise ValueError(f"{text!r} is not K/N")
    k, n = int(found["k"]), int(found["n"])
    if not 1 <= k <= n:
        raise ValueError(f"shard {k}/{n}: K must be between 1 and N")
    return k, n


def shard(items: Sequence[str], k: int, n: int) -> list[str]:
    """Every N-th item starting at the K-th (1-based): N shards cover each item once."""
    return list(items[k - 1::n])


def closing_line(statuses: Sequence[int | None]) -> str:
    """ctest's own closing line, computed from the per-test runs."""
    total = len(statuses)
    failed = sum(1 for s in statuses if s != 0)
    percent = (100 * (total - failed)) // total if total else 100
    return f"{percent}% tests passed, {failed} tests failed out of {total}"
