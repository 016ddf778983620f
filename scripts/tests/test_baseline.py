"""The baseline of known findings: validation, statuses (known/new/expired/stale), and
`racelab baseline update`."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from conftest import assert_schema, run_racelab
from racelab_cli import baseline, parse
from racelab_cli.model import merge_findings
from racelab_cli.model import Baseline, BaselineEntry

SUPP = Path(__file__).resolve().parent / "data_suppressions"
TODAY = date(2025, 6, 15)


def findings():
    text = (SUPP / "tsan_unsuppressed.txt").read_text()
    return merge_findings([parse.parse_text(text, "logs/tsan.1").reports])


def entry(fingerprint: str, expires: date | None = None, reason: str = "accepted") -> \
        BaselineEntry:
    return BaselineEntry(fingerprint, "data-race", None, reason, expires)


def write(path: Path, data) -> Path:
    path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    return path


def test_load_reads_every_field(tmp_path: Path) -> None:
    path = write(tmp_path / "b.json", {
        "schema": "racelab.baseline/1", "comment": "for people",
        "entries": [{"fingerprint": "abc", "kind": "data-race", "top_frame": "f x.cc:3",
                     "reason": "legacy code", "expires": "2025-06-30"},
                    {"fingerprint": "def", "kind": "thread-leak", "reason": "r"}]})
    loaded = baseline.load(path)
    assert loaded.comment == "for people"
    assert loaded.entries == [
        BaselineEntry("abc", "data-race", "f x.cc:3", "legacy code", date(2025, 6, 30)),
        BaselineEntry("def", "thread-leak", None, "r", None)]


@pytest.mark.parametrize("data, problem", [
    ("{not json", "not valid JSON: Expecting property name enclosed in double quotes at "
                  "line 1 column 2"),
    ([], "must be a JSON object with schema 'racelab.baseline/1'"),
    ({"schema": "racelab.baseline/2", "entries": []},
     "schema: must be 'racelab.baseline/1', got 'racelab.baseline/2'"),
    ({"schema": "racelab.baseline/1"}, "entries: missing"),
    ({"schema": "racelab.baseline/1", "entries": [], "extra": 1}, "extra: unknown key"),
    ({"schema": "racelab.baseline/1", "entries": [{"fingerprint": "a", "kind": "data-race"}]},
     "entries[0].reason: required: a non-empty string that says why the finding is accepted"),
    ({"schema": "racelab.baseline/1", "entries": [
        {"fingerprint": "a", "kind": "data-race", "reason": "r", "expires": "30.06.2025"}]},
     "entries[0].expires: must be a date YYYY-MM-DD or null, got '30.06.2025'"),
    ({"schema": "racelab.baseline/1", "entries": [
        {"fingerprint": "a", "kind": "Data Race", "reason": "r"}]},
     "entries[0].kind: must be a kind slug such as 'data-race', got 'Data Race'"),
    ({"schema": "racelab.baseline/1", "entries": [
        {"fingerprint": "a", "kind": "data-race", "reason": "r"},
        {"fingerprint": "a", "kind": "data-race", "reason": "r"}]},
     "entries[1].fingerprint: a is already listed at entries[0]"),
])
def test_load_names_the_file_and_the_problem(tmp_path: Path, data, problem: str) -> None:
    path = write(tmp_path / "b.json", data)
    with pytest.raises(baseline.BaselineError) as caught:
        baseline.load(path)
    assert str(caught.value) == f"{path}: {problem}" or str(caught.value).startswith(
        f"{path}: {problem}")


def test_known_findings_pass_and_others_are_new() -> None:
    found = findings()
    known, other = found
    check = baseline.apply(Baseline(Path("b.json"), [entry(known.report.fingerprint)]),
                           found, TODAY)
    assert (known.status, other.status) == ("known", "new")
    assert check.known == [entry(known.report.fingerprint)]
    assert check.warnings() == []


def test_an_expired_entry_no_longer_excuses_its_finding_and_warns() -> None:
    found = findings()
    fp = found[0].report.fingerprint
    check = baseline.apply(Baseline(Path("b.json"), [entry(fp, date(2025, 6, 14))]),
                           found, TODAY)
    assert found[0].status == "new"
    [warning] = check.warnings()
    assert warning == (f"baseline b.json: entry data-race {fp} expired on 2025-06-14: it no "
                       "longer excuses its finding, which counts as new")


def test_an_entry_is_good_through_its_expiry_day() -> None:
    found = findings()
    baseline.apply(Baseline(Path("b.json"), [entry(found[0].report.fingerprint, TODAY)]),
                   found, TODAY)
    assert found[0].status == "known"


def test_an_entry_whose_finding_was_not_seen_is_stale() -> None:
    check = baseline.apply(Baseline(Path("b.json"), [entry("0000")]), findings(), TODAY)
    [warning] = check.warnings()
    assert warning == ("baseline b.json: entry data-race 0000 is stale: its finding was not "
                       "seen (remove it with racelab baseline update --prune)")
    assert check.to_json() == {"file": "b.json", "known": [], "expired": [], "stale": ["0000"]}


def test_suppressed_findings_stay_suppressed() -> None:
    found = findings()
    found[0].status = "suppressed"
    baseline.apply(Baseline(Path("b.json"), []), found, TODAY)
    assert [f.status for f in found] == ["suppressed", "new"]


# --- racelab baseline update ---------------------------------------------------------------

def results_file(tmp_path: Path, statuses=("new", "new")) -> tuple[Path, list[str]]:
    found = findings()
    for finding, status in zip(found, statuses):
        finding.status = status
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"schema": "racelab.results/1", "verdict": "fail",
                                "findings": [f.to_json() for f in found]}))
    return path, [f.report.fingerprint for f in found]


def test_update_adds_new_findings_and_keeps_existing_reasons_and_expiry(tmp_path: Path) -> None:
    results, (first, second) = results_file(tmp_path)
    path = write(tmp_path / "baseline.json", {
        "schema": "racelab.baseline/1",
        "entries": [{"fingerprint": first, "kind": "data-race", "top_frame": "kept as is",
                     "reason": "an old, good reason", "expires": "2999-01-01"}]})
    done = run_racelab("baseline", "update", "--baseline", str(path), "--reason",
                       "new in this test", str(results), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = assert_schema(json.loads(path.read_text()))
    assert path.read_text() == json.dumps(data, indent=2, sort_keys=True) + "\n"
    assert data["entries"][0] == {"fingerprint": first, "kind": "data-race",
                                  "top_frame": "kept as is", "reason": "an old, good reason",
                                  "expires": "2999-01-01"}
    assert data["entries"][1]["fingerprint"] == second
    assert data["entries"][1]["reason"] == "new in this test"
    assert data["entries"][1]["expires"] is None
    assert data["entries"][1]["top_frame"].startswith("BumpMisses ")
    assert done.stdout.splitlines()[-1] == (f"racelab: baseline {path}: 1 added, 1 kept, "
                                            "0 stale, 0 removed; 2 entries")


def test_update_lists_stale_entries_and_removes_them_only_with_prune(tmp_path: Path) -> None:
    results, prints = results_file(tmp_path)
    path = write(tmp_path / "baseline.json", {
        "schema": "racelab.baseline/1",
        "entries": [{"fingerprint": fp, "kind": "data-race", "reason": "r"} for fp in prints]
        + [{"fingerprint": "0000", "kind": "data-race", "reason": "gone since"}]})
    done = run_racelab("baseline", "update", "--baseline", str(path), str(results))
    assert done.returncode == 0, done.stderr
    assert "racelab: stale data-race 0000: its finding is not in" in done.stdout
    assert len(assert_schema(json.loads(path.read_text()))["entries"]) == 3
    done = run_racelab("baseline", "update", "--baseline", str(path), "--prune", str(results))
    assert done.returncode == 0, done.stderr
    assert "racelab: removed stale data-race 0000" in done.stdout
    entries = assert_schema(json.loads(path.read_text()))["entries"]
    assert [e["fingerprint"] for e in entries] == prints


def test_update_needs_a_reason_to_add_entries(tmp_path: Path) -> None:
    results, _ = results_file(tmp_path)
    path = tmp_path / "baseline.json"
    done = run_racelab("baseline", "update", "--baseline", str(path), str(results))
    assert done.returncode == 2
    assert done.stderr.strip() == (f"racelab: error: {path}: 2 new findings need a reason: "
                                   "pass --reason TEXT (every baseline entry says why it is "
                                   "accepted)")
    assert not path.exists()


def test_update_skips_suppressed_findings_and_sets_expiry(tmp_path: Path) -> None:
    results, prints = results_file(tmp_path, statuses=("suppressed", "new"))
    path = tmp_path / "baseline.json"
    done = run_racelab("baseline", "update", "--baseline", str(path), "--reason", "r",
                       "--expires", "2030-01-31", str(results))
    assert done.returncode == 0, done.stderr
    [added] = assert_schema(json.loads(path.read_text()))["entries"]
    assert added["fingerprint"] == prints[1] and added["expires"] == "2030-01-31"


def test_update_exits_2_naming_a_malformed_baseline(tmp_path: Path) -> None:
    results, _ = results_file(tmp_path)
    path = write(tmp_path / "baseline.json", {"schema": "racelab.baseline/1", "entries": {}})
    done = run_racelab("baseline", "update", "--baseline", str(path), "--reason", "r",
                       str(results))
    assert done.returncode == 2
    assert done.stderr.strip() == f"racelab: error: {path}: entries: must be a list"
    assert "Traceback" not in done.stderr


def test_the_example_baseline_in_ci_lists_the_counter_race_as_parsed_today() -> None:
    """ci/baseline.json must excuse the counter scenario's race in both of the shapes TSan
    reports it (data_reports/, see its README). When this fails, the fingerprint rule has
    changed: every committed baseline goes stale, so change it only deliberately, then
    update the example's fingerprints."""
    example = Path(__file__).resolve().parents[2] / "ci" / "baseline.json"
    loaded = baseline.load(example)
    assert all(e.reason for e in loaded.entries)
    data = Path(__file__).resolve().parent / "data_reports"
    parsed = {r.fingerprint for name in ("counter_bad_hit_vs_hit.txt",
                                         "counter_bad_hit_vs_stats.txt")
              for r in parse.parse_text((data / name).read_text(), name).reports}
    assert parsed == {e.fingerprint for e in loaded.entries}
