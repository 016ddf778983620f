"""`racelab diff BEFORE AFTER`: fixed / remaining / introduced by fingerprint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import assert_schema, run_racelab
from racelab_cli import parse
from racelab_cli.model import merge_findings

SUPP = Path(__file__).resolve().parent / "data_suppressions"


def write_results(path: Path, *logs: str, counts: int = 1) -> Path:
    reports = [r for name in logs
               for r in parse.parse_text((SUPP / name).read_text(), name).reports]
    findings = merge_findings([reports * counts])
    path.write_text(json.dumps({"schema": "racelab.results/1", "verdict": "fail",
                                "findings": [f.to_json() for f in findings]}))
    return path


def write_reports(path: Path, *logs: str) -> Path:
    reports = [r for name in logs
               for r in parse.parse_text((SUPP / name).read_text(), name).reports]
    path.write_text(json.dumps({"schema": "racelab.reports/1", "errors": [],
                                "reports": [r.to_json() for r in reports]}))
    return path


def test_diff_finds_fixed_remaining_and_introduced(tmp_path: Path) -> None:
    before = write_results(tmp_path / "before.json", "tsan_unsuppressed.txt")  # both races
    after = write_results(tmp_path / "after.json", "tsan_partly_suppressed.txt")  # Misses only
    done = run_racelab("diff", "--json", str(before), str(after))
    assert done.returncode == 0, done.stderr
    data = assert_schema(json.loads(done.stdout))
    assert set(data) == {"schema", "fixed", "remaining", "introduced"}
    assert data["schema"] == "racelab.diff/1"
    assert [f["top_frame"]["function"] for f in data["fixed"]] == [
        "(anonymous namespace)::BumpHits()"]
    assert [f["top_frame"]["function"] for f in data["remaining"]] == [
        "(anonymous namespace)::BumpMisses()"]
    assert data["introduced"] == []
    assert (data["remaining"][0]["count_before"], data["remaining"][0]["count_after"]) == (1, 1)


def test_diff_exits_1_when_something_was_introduced(tmp_path: Path) -> None:
    before = write_results(tmp_path / "before.json", "tsan_partly_suppressed.txt")
    after = write_results(tmp_path / "after.json", "tsan_unsuppressed.txt")
    done = run_racelab("diff", str(before), str(after), cwd=tmp_path)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0] == "fixed (0):"
    assert lines[1] == "remaining (1):"
    assert lines[2].startswith("  data-race at BumpMisses ")
    assert lines[2].endswith("two_races.cc:13 [" + json.loads(after.read_text())[
        "findings"][1]["fingerprint"] + "]")
    assert lines[3] == "introduced (1):"
    assert lines[4].startswith("  data-race at BumpHits ")
    assert lines[-1] == "racelab: diff: 0 fixed, 1 remaining, 1 introduced"


def test_diff_accepts_parse_json_output_and_adds_up_occurrences(tmp_path: Path) -> None:
    before = write_reports(tmp_path / "before.json", "tsan_unsuppressed.txt",
                           "tsan_unsuppressed.txt")
    after = write_results(tmp_path / "after.json", "tsan_unsuppressed.txt", counts=3)
    done = run_racelab("diff", "--json", str(before), str(after))
    assert done.returncode == 0, done.stderr
    data = assert_schema(json.loads(done.stdout))
    assert [(f["count_before"], f["count_after"]) for f in data["remaining"]] == [(2, 3),
                                                                                  (2, 3)]


def test_diff_of_identical_results_is_all_remaining(tmp_path: Path) -> None:
    path = write_results(tmp_path / "r.json", "tsan_unsuppressed.txt")
    done = run_racelab("diff", str(path), str(path))
    assert done.returncode == 0
    assert done.stdout.splitlines()[-1] == "racelab: diff: 0 fixed, 2 remaining, 0 introduced"


@pytest.mark.parametrize("content, problem", [
    (None, "no such file"),
    ("not json", "not valid JSON: Expecting value at line 1 column 1"),
    ('{"schema": "racelab.diff/1"}', "schema 'racelab.diff/1' is neither"),
    ('{"schema": "racelab.results/1", "findings": {}}', "findings: missing or not a list"),
    ('{"schema": "racelab.results/1", "findings": [{"kind": "data-race"}]}',
     "findings[0]: 'fingerprint' missing or not a string"),
    ('{"schema": "racelab.reports/1", "reports": [{"fingerprint": "a", "kind": "x", '
     '"count": 0}]}', "reports[0]: 'count' must be a positive integer, got 0"),
])
def test_diff_exits_2_with_one_line_on_bad_input(tmp_path: Path, content: str | None,
                                                 problem: str) -> None:
    good = write_results(tmp_path / "good.json", "tsan_unsuppressed.txt")
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)
    for args in ((str(bad), str(good)), (str(good), str(bad))):
        done = run_racelab("diff", *args)
        assert done.returncode == 2
        assert done.stdout == ""
        [line] = done.stderr.splitlines()
        assert line.startswith(f"racelab: error: {bad}: {problem}")
