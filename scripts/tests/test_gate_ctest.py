"""`racelab gate -- ctest ...`: one test at a time, so a finding names the test whose
processes raced and junit.xml fails that test case only; `--shard K/N` slices the list.
A fake ctest (fakes/fake_ctest.py) runs fake instrumented processes (fakes/tsan_process.py)."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import DATA, install_fake_ctest, read_results, run_racelab

RACE = str(DATA / "tsan_data_race.txt")
TESTS = {"Math.Adds": [], "Counter.Races": ["--log", RACE], "Math.Subtracts": []}


@pytest.fixture
def ctest(tmp_path: Path):
    """A `ctest` on PATH that runs the given tests; returns (env, ran-file)."""
    def make(tests: dict[str, list[str]]) -> tuple[dict[str, str], Path]:
        env = {**os.environ, **install_fake_ctest(tmp_path, tests)}
        return env, Path(env["FAKE_CTEST_SPEC"] + ".ran")
    return make


def gate(out: Path, env: dict[str, str], *args: str):
    return run_racelab("gate", "--out", str(out), *args, "--", "ctest", "--test-dir", "b",
                       env=env)


def test_gate_attributes_each_finding_to_the_test_that_raced(tmp_path: Path, ctest) -> None:
    env, ran = ctest(TESTS)
    out = tmp_path / "out"
    done = gate(out, env)
    assert done.returncode == 1, done.stdout + done.stderr
    data = read_results(out)
    [finding] = data["findings"]
    assert (finding["kind"], finding["tests"]) == ("data-race", ["Counter.Races"])
    assert [t["name"] for t in data["gate"]["tests"]] == list(TESTS)
    assert ran.read_text().split() == list(TESTS)  # each test on its own
    assert "67% tests passed, 0 tests failed out of 3" not in done.stdout
    assert "100% tests passed, 0 tests failed out of 3" in done.stdout.splitlines()
    cases = {c.get("name"): c for c in ET.parse(out / "junit.xml").getroot().iter("testcase")}
    assert cases["Counter.Races"].find("failure") is not None
    assert cases["Math.Adds"].find("failure") is None
    assert cases["Math.Subtracts"].find("failure") is None


def test_gate_names_the_test_that_failed_without_a_race(tmp_path: Path, ctest) -> None:
    env, _ran = ctest({"Math.Adds": [], "Math.Breaks": ["--exit", "1"]})
    out = tmp_path / "out"
    done = gate(out, env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "test Math.Breaks exited with status 8 and no new finding explains it" \
        in done.stderr
    cases = {c.get("name"): c for c in ET.parse(out / "junit.xml").getroot().iter("testcase")}
    assert cases["Math.Breaks"].find("error") is not None
    assert cases["Math.Adds"].find("error") is None


def test_gate_shards_run_every_test_exactly_once(tmp_path: Path, ctest) -> None:
    tests = {f"Suite.T{i}": [] for i in range(7)}
    env, ran = ctest(tests)
    shards = []
    for k in (1, 2, 3):
        out = tmp_path / f"shard{k}"
        done = gate(out, env, "--shard", f"{k}/3")
        assert done.returncode == 0, done.stdout + done.stderr
        data = read_results(out)
        assert data["gate"]["shard"] == f"{k}/3"
        shards.append([t["name"] for t in data["gate"]["tests"]])
    assert shards == [["Suite.T0", "Suite.T3", "Suite.T6"], ["Suite.T1", "Suite.T4"],
                      ["Suite.T2", "Suite.T5"]]
    assert sorted(ran.read_text().split()) == sorted(tests)


def test_gate_shard_is_refused_for_a_command_that_is_not_ctest(tmp_path: Path) -> None:
    done = run_racelab("gate", "--out", str(tmp_path), "--shard", "1/2", "--", "true")
    assert done.returncode == 2
    assert "--shard slices a ctest test list" in done.stderr


@pytest.mark.parametrize("text", ["0/2", "3/2", "a/b", "1"])
def test_gate_refuses_a_malformed_shard(tmp_path: Path, text: str) -> None:
    done = run_racelab("gate", "--out", str(tmp_path), "--shard", text, "--", "ctest")
    assert done.returncode == 2
    assert "--shard" in done.stderr


def test_gate_passes_a_baselined_race_under_ctest(tmp_path: Path, ctest) -> None:
    # TSan's exitcode would make ctest call the test failed; racelab leaves a test's status
    # to the test (exitcode=0) and judges the race from the logs, so a known race passes.
    env, _ran = ctest({"Counter.Races": ["--log", RACE, "--exit-from-tsan-options"]})
    first = gate(tmp_path / "first", env)
    assert first.returncode == 1, first.stdout + first.stderr
    baseline = tmp_path / "baseline.json"
    update = run_racelab("baseline", "update", str(tmp_path / "first" / "results.json"),
                         "--baseline", str(baseline), "--reason", "known, tracked")
    assert update.returncode == 0, update.stderr
    done = gate(tmp_path / "second", env, "--baseline", str(baseline))
    assert done.returncode == 0, done.stdout + done.stderr
    assert [f["status"] for f in read_results(tmp_path / "second")["findings"]] == ["known"]
