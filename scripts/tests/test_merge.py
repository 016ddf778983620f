"""`racelab merge`: the shards of a gate or a run give the verdict, findings and reports of
the unsharded run."""

from __future__ import annotations

import json
import os
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from conftest import DATA, FAKES, FakeTree, read_results, run_racelab

RACE = str(DATA / "tsan_data_race.txt")


def ctest_env(tmp_path: Path, tests: dict[str, list[str]]) -> dict[str, str]:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"tests": tests}))
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    (folder / "ctest").write_text(f"#!/bin/sh\nexec '{sys.executable}' "
                                  f"'{FAKES / 'fake_ctest.py'}' \"$@\"\n")
    (folder / "ctest").chmod(0o755)
    return {**os.environ, "PATH": f"{folder}:{os.environ['PATH']}",
            "FAKE_CTEST_SPEC": str(spec)}


def summary(out: Path) -> dict:
    data = read_results(out)
    cases = sorted((c.get("name"), [e.tag for e in c])
                   for c in ET.parse(out / "junit.xml").getroot().iter("testcase")
                   if c.get("classname") != "racelab.gate")
    return {"verdict": data["verdict"],
            "findings": sorted((f["fingerprint"], f["count"], tuple(f["tests"]), f["status"])
                               for f in data["findings"]),
            "tests": sorted(t["name"] for t in data["gate"]["tests"]),
            "instrumented": data["instrumented"], "cases": cases}


def test_merged_gate_shards_equal_the_unsharded_gate(tmp_path: Path) -> None:
    tests = {f"Suite.T{i}": [] for i in range(6)}
    tests["Suite.T4"] = ["--log", RACE]
    tests["Suite.T5"] = ["--log", RACE]
    env = ctest_env(tmp_path, tests)
    whole = run_racelab("gate", "--out", str(tmp_path / "whole"), "--", "ctest", env=env)
    parts = []
    for k in (1, 2, 3):
        out = tmp_path / f"shard{k}"
        run_racelab("gate", "--out", str(out), "--shard", f"{k}/3", "--", "ctest", env=env)
        parts.append(str(out / "results.json"))
    merged = run_racelab("merge", *parts, "--out", str(tmp_path / "merged"))
    assert merged.returncode == whole.returncode == 1, merged.stdout + merged.stderr
    assert summary(tmp_path / "merged") == summary(tmp_path / "whole")
    [finding] = read_results(tmp_path / "merged")["findings"]
    assert (finding["count"], finding["tests"]) == (2, ["Suite.T4", "Suite.T5"])
    assert "racelab: merged 3 results: verdict fail" in merged.stdout


def test_merged_run_shards_equal_the_unsharded_run(fake_tree: FakeTree,
                                                   tmp_path: Path) -> None:
    for name in ("alpha", "beta", "gamma"):
        fake_tree.add_scenario(name)
    fake_tree.add_scenario("delta", fixed="racy_server.py")  # a broken fix: fail
    whole = fake_tree.run()
    parts = []
    for k in (1, 2):
        out = tmp_path / f"shard{k}"
        done = run_racelab("run", "--no-build", "--build-dir", str(fake_tree.build),
                           "--root", str(fake_tree.root), "--out", str(out),
                           "--shard", f"{k}/2")
        assert done.returncode in (0, 1), done.stdout + done.stderr
        parts.append(str(out / "results.json"))
    merged = run_racelab("merge", *parts, "--out", str(tmp_path / "merged"))
    assert merged.returncode == whole.returncode == 1, merged.stdout + merged.stderr
    want, got = read_results(fake_tree.out), read_results(tmp_path / "merged")
    assert got["verdict"] == want["verdict"] == "fail"
    assert sorted((s["name"], s["verdict"]) for s in got["scenarios"]) == \
        sorted((s["name"], s["verdict"]) for s in want["scenarios"])
    assert sorted((f["fingerprint"], f["scenario"], f["variant"]) for f in got["findings"]) \
        == sorted((f["fingerprint"], f["scenario"], f["variant"]) for f in want["findings"])
    assert got["instrumented"] == want["instrumented"] == 8
    assert (tmp_path / "merged" / "index.html").is_file()


def test_merge_refuses_a_run_and_a_gate_together(fake_tree: FakeTree, tmp_path: Path) -> None:
    fake_tree.add_scenario()
    assert fake_tree.run().returncode == 0
    gate_out = tmp_path / "gate"
    run_racelab("gate", "--out", str(gate_out), "--allow-uninstrumented", "--", "true")
    done = run_racelab("merge", str(fake_tree.out / "results.json"),
                       str(gate_out / "results.json"), "--out", str(tmp_path / "m"))
    assert done.returncode == 2
    assert "cannot merge a run with a gate" in done.stderr


def test_merge_names_a_file_that_is_not_results(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text('{"schema": "racelab.reports/1", "reports": [], "errors": []}')
    done = run_racelab("merge", str(bad), "--out", str(tmp_path / "m"))
    assert done.returncode == 2
    assert f"{bad}: not a racelab.results/1 results.json" in done.stderr


def test_merge_refuses_shards_that_do_not_make_a_whole(tmp_path: Path) -> None:
    env = ctest_env(tmp_path, {f"Suite.T{i}": [] for i in range(4)})
    parts = []
    for k in (1, 3):
        out = tmp_path / f"shard{k}"
        run_racelab("gate", "--out", str(out), "--shard", f"{k}/3", "--", "ctest", env=env)
        parts.append(str(out / "results.json"))
    done = run_racelab("merge", *parts, parts[0], "--out", str(tmp_path / "m"))
    assert done.returncode == 2
    assert "the shards do not make a whole of 3: missing 2/3; repeated 1/3" in done.stderr
