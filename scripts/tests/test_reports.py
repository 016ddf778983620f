"""The writers: results.json and summary.md."""

from __future__ import annotations

from pathlib import Path

from conftest import data_text
from racelab_cli import parse, reports
from racelab_cli.model import (Finding, LoadResult, RunOutcome, RunResults, ScenarioResult,
                               VariantOutcome)


def sample_results() -> RunResults:
    report = parse.parse_text(data_text("tsan_data_race.txt"), "logs/x/bad/run1/tsan.1").reports[0]
    load = LoadResult(requests=10, status={"200": 9, "503": 1}, transport_errors=0,
                      disconnects=0, latency_ms={"p50": 1.0}, peak_threads=7, elapsed_ms=3.0)
    bad_run = RunOutcome(1, Path("/tmp"), exit_status=66, load=load, reports=[report],
                         elapsed_s=1.25)
    fixed_run = RunOutcome(1, Path("/tmp"), signal="SIGABRT", load=load,
                           errors=["counter_fixed crashed (signal SIGABRT)"], elapsed_s=0.5)
    bad = VariantOutcome("bad", [bad_run], [Finding(report, 1, "counter", "bad")])
    fixed = VariantOutcome("fixed", [fixed_run], [])
    scenario = ScenarioResult("counter", "error",
                              ["fixed: counter_fixed crashed (signal SIGABRT)"], bad, fixed)
    return RunResults([scenario])


def test_summary_md_puts_the_verdict_first_then_table_findings_and_stacks() -> None:
    text = reports.summary_markdown(sample_results())
    lines = text.splitlines()
    assert lines[0] == "# racelab: ERROR"
    assert lines[2] == "1 scenario: 0 passed, 0 failed, 1 error."
    assert "| counter | error | bad | 66 | 10 | 9 | 1 (data-race) | 7 | 1.2s |" in lines
    assert "| counter | error | fixed | SIGABRT | 10 | 9 | 0 + error | 7 | 0.5s |" in lines
    assert ("- **counter** (error): fixed: counter_fixed crashed (signal SIGABRT)") in lines
    finding = [line for line in lines if line.startswith("- **counter / bad**")]
    assert finding == ["- **counter / bad**: `data-race` x1 at `(anonymous namespace)::"
                       "WriterBeta() /work/main/scripts/tests/data/src/data_race.cc:17:55` "
                       f"(fingerprint `{sample_results().findings()[0].report.fingerprint}`)"]
    assert "  <details><summary>stacks</summary>" in lines
    assert "  Write of size 4 at 0x556648e616a8 by thread T2:" in lines


def test_results_json_has_the_results_schema(tmp_path: Path) -> None:
    import json
    path = reports.write_results_json(tmp_path, sample_results())
    data = json.loads(path.read_text())
    assert data["schema"] == "racelab.results/1"
    assert data["verdict"] == "error"
    assert set(data) == {"schema", "verdict", "findings", "scenarios"}
    assert set(data["scenarios"][0]) == {"name", "verdict", "reasons", "bad", "fixed"}
    assert data["scenarios"][0]["fixed"]["signal"] == "SIGABRT"
    assert data["findings"][0]["count"] == 1
