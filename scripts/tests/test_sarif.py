"""results.sarif: SARIF 2.1.0 for GitHub code scanning, checked by Microsoft's own validator
(SARIF Multitool, `validate` with its SARIF rules and its GitHub Advanced Security rules).

The validator comes from the npm registry: the `sarif_multitool` fixture installs
@microsoft/sarif-multitool (which ships a Linux binary in @microsoft/sarif-multitool-linux)
into build/npm (git-ignored) the first time, so the suite works on a fresh machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FAKES, NPM_PREFIX, REPO, npm_install, run_racelab

MULTITOOL_PACKAGE = "@microsoft/sarif-multitool@5.7.0"
MULTITOOL = NPM_PREFIX / "node_modules" / "@microsoft" / "sarif-multitool-linux" / \
    "Sarif.Multitool"
VALIDATE_DEADLINE_S = 300
SUPP = Path(__file__).resolve().parent / "data_suppressions"
RECORDED_ROOT = "/work/main/"  # where data_suppressions/src was when its logs were recorded


@pytest.fixture(scope="session")
def sarif_multitool() -> Path:
    """Microsoft's SARIF validator, installed into build/npm when missing."""
    trouble = npm_install(MULTITOOL_PACKAGE, MULTITOOL)
    assert trouble is None, trouble
    # npm may skip the package's postinstall (chmod u+x): do it ourselves.
    if not os.access(MULTITOOL, os.X_OK):
        MULTITOOL.chmod(MULTITOOL.stat().st_mode | 0o111)
    return MULTITOOL


def validate(multitool: Path, sarif: Path, tmp_path: Path) -> list[tuple[str, str, str]]:
    """(ruleId, level, message) of everything the validator found, GitHub rules included."""
    report = tmp_path / "validation.sarif"
    env = {**os.environ, "DOTNET_SYSTEM_GLOBALIZATION_INVARIANT": "1"}
    done = subprocess.run([str(multitool), "validate", str(sarif), "--output", str(report),
                           "--log", "ForceOverwrite", "--rule-kind", "Sarif;Ghas"],
                          capture_output=True, text=True, timeout=VALIDATE_DEADLINE_S,
                          env=env, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(report.read_text(encoding="utf-8-sig"))
    [run] = data["runs"]
    assert run["invocations"][0]["executionSuccessful"] is True
    return [(r["ruleId"], r.get("level", "warning"), r["message"].get("text", ""))
            for r in run.get("results", [])]


def localized_log(name: str, tmp_path: Path) -> Path:
    """A recorded log with its source paths moved to this checkout."""
    text = (SUPP / name).read_text(encoding="utf-8").replace(RECORDED_ROOT, f"{REPO}/")
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def gate_sarif(tmp_path: Path, *args: str) -> tuple[dict, dict]:
    out = tmp_path / "out"
    log = localized_log("tsan_unsuppressed.txt", tmp_path)
    done = run_racelab("gate", "--out", str(out), "--source-root", str(REPO), *args, "--",
                       sys.executable, str(FAKES / "tsan_process.py"), "--log", str(log),
                       "--exit", "66")
    assert done.returncode in (0, 1), done.stdout + done.stderr
    sarif = json.loads((out / "results.sarif").read_text(encoding="utf-8"))
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return sarif, results


def test_sarif_of_a_gate_passes_microsofts_validator_with_github_rules(
        sarif_multitool: Path, tmp_path: Path) -> None:
    gate_sarif(tmp_path)
    problems = validate(sarif_multitool, tmp_path / "out" / "results.sarif", tmp_path)
    assert [p for p in problems if p[1] in ("error", "warning")] == []


def test_sarif_of_a_run_passes_microsofts_validator(sarif_multitool: Path,
                                                    tmp_path: Path) -> None:
    from test_reports import context, run_results  # the counter scenario's report
    from racelab_cli.reports import sarif
    path = sarif.write(tmp_path, run_results(fixed_findings=1), context())
    problems = validate(sarif_multitool, path, tmp_path)
    assert [p for p in problems if p[1] in ("error", "warning")] == []


def test_the_validator_catches_what_github_would_refuse(sarif_multitool: Path,
                                                        tmp_path: Path) -> None:
    """Guards the guard: a result without a location must not pass."""
    sarif, _ = gate_sarif(tmp_path)
    del sarif["runs"][0]["results"][0]["locations"]
    broken = tmp_path / "broken.sarif"
    broken.write_text(json.dumps(sarif))
    problems = validate(sarif_multitool, broken, tmp_path)
    assert any(level == "error" for _, level, _ in problems), problems


def test_sarif_has_one_result_per_finding_with_repo_relative_locations(
        tmp_path: Path) -> None:
    sarif, results = gate_sarif(tmp_path, "--suppressions", str(SUPP / "tsan.supp"))
    assert sarif["version"] == "2.1.0"
    [run] = sarif["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "racelab"
    assert [rule["id"] for rule in driver["rules"]] == ["data-race"]
    assert driver["rules"][0]["shortDescription"]["text"] == "data race"
    assert run["originalUriBaseIds"]["SRCROOT"]["uri"] == REPO.resolve().as_uri() + "/"
    assert len(run["results"]) == len(results["findings"]) == 2
    by_print = {f["fingerprint"]: f for f in results["findings"]}
    for result in run["results"]:
        finding = by_print[result["partialFingerprints"]["racelabFingerprint/v1"]]
        assert result["ruleId"] == finding["kind"]
        [location] = result["locations"]
        artifact = location["physicalLocation"]["artifactLocation"]
        assert artifact == {"uri": "scripts/tests/data_suppressions/src/two_races.cc",
                            "uriBaseId": "SRCROOT"}
        region = location["physicalLocation"]["region"]
        assert region["startLine"] == finding["top_frame"]["line"]
        assert region["startColumn"] == finding["top_frame"]["column"]
        flows = result["codeFlows"][0]["threadFlows"]
        assert [f["message"]["text"] for f in flows][:2] == [
            s["title"] for s in finding["stacks"]][:2]
        for flow in flows:
            for step in flow["locations"]:
                uri = step["location"]["physicalLocation"]["artifactLocation"]["uri"]
                assert not uri.startswith(("/", "file:")), uri
        if finding["status"] == "suppressed":
            assert result["level"] == "note"
            assert result["suppressions"] == [{"kind": "external", "status": "accepted",
                                               "justification": "suppression "
                                                                "race:BumpHits"}]
        else:
            assert finding["status"] == "new"
            assert result["level"] == "error" and result["baselineState"] == "new"
            assert "suppressions" not in result


def test_sarif_marks_known_findings_as_unchanged_notes(tmp_path: Path) -> None:
    sarif, results = gate_sarif(tmp_path)
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps({"schema": "racelab.baseline/1", "entries": [
        {"fingerprint": f["fingerprint"], "kind": f["kind"], "reason": "test"}
        for f in results["findings"]]}))
    sarif, results = gate_sarif(tmp_path, "--baseline", str(baseline))
    levels = {(r["level"], r["baselineState"]) for r in sarif["runs"][0]["results"]}
    assert levels == {("note", "unchanged")}
