"""ci/example, gated end to end: the CMake project a new user copies.

Built twice under build/example/ (kept between runs, so a second run only checks that
ninja has nothing to do): `tsan` with -fsanitize=thread, `plain` without a sanitizer.
Then `racelab gate -- ctest` on each, as ci/README.md tells a user to:
- racy: exit 1 with exactly one finding, the data race in example::RacyCounter::Add,
  attributed to racy_counter_test (junit.xml fails that case and only it);
- the same run with that finding baselined (`racelab baseline update`): exit 0;
- the build without TSan: exit 2, not-instrumented, never a pass.
"""

from __future__ import annotations

import fcntl
import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import REPO, read_results, run_racelab

EXAMPLE = REPO / "ci" / "example"
BUILDS = REPO / "build" / "example"
COMPILER = "clang++-14"
CONFIGURE_DEADLINE_S = 120
BUILD_DEADLINE_S = 600
GATE_DEADLINE_S = 300
RACY_FUNCTION = "example::RacyCounter::Add()"


def build_example(name: str, sanitizer: str) -> Path:
    """build/example/<name>, configured once and brought up to date on every call."""
    folder = BUILDS / name
    BUILDS.mkdir(parents=True, exist_ok=True)
    with open(BUILDS / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test runs must not build one tree at once
        if not (folder / "CMakeCache.txt").is_file():
            run(["cmake", "-S", str(EXAMPLE), "-B", str(folder), "-G", "Ninja",
                 f"-DCMAKE_CXX_COMPILER={COMPILER}", f"-DEXAMPLE_SANITIZER={sanitizer}"],
                CONFIGURE_DEADLINE_S)
        run(["cmake", "--build", str(folder)], BUILD_DEADLINE_S)
    return folder


def run(cmd: list[str], deadline_s: float) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=deadline_s,
                          stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 0, f"{' '.join(cmd)}:\n{done.stdout}{done.stderr}"


def gate(out: Path, build: Path, *options: str) -> subprocess.CompletedProcess:
    return run_racelab("gate", "--out", str(out), "--source-root", str(REPO), *options,
                       "--", "ctest", "--test-dir", str(build), "--output-on-failure",
                       timeout=GATE_DEADLINE_S)


@pytest.fixture(scope="module")
def racy_gate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """One gate of the TSan build: its OUT and its results.json."""
    build = build_example("tsan", "thread")
    out = tmp_path_factory.mktemp("racy") / "out"
    done = gate(out, build)
    assert done.returncode == 1, done.stdout + done.stderr
    return out, read_results(out)


@pytest.mark.e2e
def test_example_racy_test_fails_the_gate_with_exactly_its_race(
        racy_gate: tuple[Path, dict]) -> None:
    out, results = racy_gate
    assert results["verdict"] == "fail"
    assert results["instrumented"] == 2  # both test processes ran under TSan
    [finding] = results["findings"]
    assert (finding["kind"], finding["status"], finding["tool"]) == \
        ("data-race", "new", "clang-tsan")
    top = finding["top_frame"]
    assert top["function"] == RACY_FUNCTION
    assert Path(top["file"]) == EXAMPLE / "src" / "counters.cc"
    assert top["module"] == "racy_counter_test"
    assert finding["tests"] == ["racy_counter_test"]  # attributed to the test that raced
    # Both accesses are in the racy function, on the two threads the test named.
    titles = [stack["title"] for stack in finding["stacks"]]
    assert [s["frames"][0]["function"] for s in finding["stacks"][:2]] == [RACY_FUNCTION] * 2
    assert any("'racy-adder-1'" in t for t in titles), titles
    assert any("'racy-adder-2'" in t for t in titles), titles
    # junit.xml fails the racy test's case, and only it.
    cases = ET.parse(out / "junit.xml").getroot().iter("testcase")
    failing = [c.get("name") for c in cases if c.find("failure") is not None]
    assert failing == ["racy_counter_test"], failing


@pytest.mark.e2e
def test_example_race_baselined_passes_the_gate(racy_gate: tuple[Path, dict],
                                                tmp_path: Path) -> None:
    out, first = racy_gate
    baseline = tmp_path / "baseline.json"
    done = run_racelab("baseline", "update", "--baseline", str(baseline), "--reason",
                       "the example races on purpose", str(out / "results.json"),
                       cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    entries = json.loads(baseline.read_text(encoding="utf-8"))["entries"]
    assert [e["fingerprint"] for e in entries] == [first["findings"][0]["fingerprint"]]
    again = tmp_path / "out"
    done = gate(again, BUILDS / "tsan", "--baseline", str(baseline))
    assert done.returncode == 0, done.stdout + done.stderr
    results = read_results(again)
    assert results["verdict"] == "pass"
    assert [(f["fingerprint"], f["status"]) for f in results["findings"]] == \
        [(first["findings"][0]["fingerprint"], "known")]


@pytest.mark.e2e
def test_example_built_without_tsan_cannot_pass(tmp_path: Path) -> None:
    build = build_example("plain", "")
    out = tmp_path / "out"
    done = gate(out, build)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "100% tests passed" in done.stdout  # ctest itself was happy
    assert "no instrumented process ran" in done.stderr
    results = read_results(out)
    assert (results["verdict"], results["instrumented"], results["findings"]) == \
        ("error", 0, [])
