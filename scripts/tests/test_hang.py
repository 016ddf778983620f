"""The hang watchdog: a command that outlives its deadline gets every thread's stack
captured, a `hang` finding, and is stopped; an unexpected hang is exit 2."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import DATA, read_results, run_racelab
from racelab_cli import stacks

COMPILE_DEADLINE_S = 300

GDB_OUTPUT = """\
[New LWP 11]
Thread 3 (Thread 0x7f10 (LWP 12) "rl-dead-b"):
#0  futex_wait (private=0, expected=2, futex_word=0x55) at ../sysdeps/nptl/futex-internal.h:146
#1  0x00007f3a in __GI___lll_lock_wait (futex=0x55, private=0) at ./nptl/lowlevellock.c:49
#2  0x000055aa in (anonymous namespace)::TakeSecondThenFirst () at /src/deadlock.cc:26
#3  0x000055ab in std::thread::_State_impl<...>::_M_run (this=0x1) at /usr/include/std_thread.h:210
#4  0x00007f3c in ?? () from /lib/x86_64-linux-gnu/libstdc++.so.6
Thread 1 (Thread 0x7f00 (LWP 10) "deadlock"):
#0  __futex_abstimed_wait_common64 (private=128) at ./nptl/futex-internal.c:57
#1  0x000055ac in main () at /src/deadlock.cc:38
"""


def test_stacks_parse_gdb_backtraces_per_thread() -> None:
    parsed = stacks.parse_backtraces(GDB_OUTPUT)
    assert [s.title for s in parsed] == ["Thread 3 'rl-dead-b' (tid=12)",
                                         "Thread 1 'deadlock' (tid=10)"]
    frame = parsed[0].frames[2]
    assert (frame.function, frame.file, frame.line) == (
        "(anonymous namespace)::TakeSecondThenFirst", "/src/deadlock.cc", 26)
    assert parsed[0].frames[4].module == "/lib/x86_64-linux-gnu/libstdc++.so.6"


@pytest.fixture(scope="module")
def deadlock(tmp_path_factory) -> Path:
    binary = tmp_path_factory.mktemp("deadlock") / "deadlock"
    subprocess.run(["clang++-14", "-fsanitize=thread", "-g", "-O1", "-std=c++20",
                    str(DATA / "src" / "deadlock.cc"), "-o", str(binary), "-pthread"],
                   check=True, timeout=COMPILE_DEADLINE_S)
    return binary


def test_gate_captures_both_deadlocked_threads_and_exits_2(
        deadlock: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = run_racelab("gate", "--out", str(out), "--timeout", "5", "--", str(deadlock))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "hang: " in done.stderr and "did not finish within 5s" in done.stderr
    data = read_results(out)
    [hang] = [f for f in data["findings"] if f["kind"] == "hang"]
    titles = [s["title"] for s in hang["stacks"]]
    assert any("'rl-dead-a'" in t for t in titles) and any("'rl-dead-b'" in t for t in titles)
    assert "TakeFirstThenSecond" in hang["summary"] and "TakeSecondThenFirst" in hang["summary"]
    blocked = {s["title"].split("'")[1]: [f["function"] for f in s["frames"]]
               for s in hang["stacks"] if "'" in s["title"]}
    assert any("TakeFirstThenSecond" in fn for fn in blocked["rl-dead-a"])
    assert any("TakeSecondThenFirst" in fn for fn in blocked["rl-dead-b"])
    for name in ("summary.md", "junit.xml", "results.sarif", "index.html"):
        assert "TakeSecondThenFirst" in (out / name).read_text(encoding="utf-8"), name
