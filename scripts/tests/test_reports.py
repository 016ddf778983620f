"""The writers: results.json, summary.md, junit.xml, index.html (results.sarif has its own
file, test_sarif.py). Fed by in-memory results built from a TSan report whose frames
point into this repository's counter scenario."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import REPO, assert_schema
from racelab_cli import parse, reports
from racelab_cli.model import (Finding, GateRun, LoadResult, LogRead, Problem, ProblemKind,
                               Results, RunOutcome, ScenarioResult, Suppression,
                               SuppressionCheck, Variant, VariantOutcome, Verdict)
from racelab_cli.reports import html_page, junit_xml, summary_md

COUNTER = REPO / "scenarios" / "counter" / "counter.cc"

# The shape clang 14's TSan prints for the counter scenario (see scenarios/counter/README.md),
# with the repository's own path, so the writers can find the sources.
COUNTER_REPORT = f"""\
==================
WARNING: ThreadSanitizer: data race (pid=4242)
  Write of size 8 at 0x55d9d21f26a8 by thread T3:
    #0 racelab::(anonymous namespace)::HandleHit(racelab::http::Request const&, racelab::http::RequestContext&) {COUNTER}:13:3 (counter_bad+0xd467f)
    #1 racelab::http::Router::Dispatch(racelab::http::Request const&) {REPO}/harness/src/router.cc:40:10 (counter_bad+0xd45f6)
    #2 <null> <null> (libstdc++.so.6+0xd44a2)

  Previous read of size 8 at 0x55d9d21f26a8 by thread T2:
    #0 racelab::(anonymous namespace)::HandleStats(racelab::http::Request const&, racelab::http::RequestContext&) {COUNTER}:18:29 (counter_bad+0xd464f)
    #1 racelab::http::Router::Dispatch(racelab::http::Request const&) {REPO}/harness/src/router.cc:40:10 (counter_bad+0xd45f6)

  Location is global 'racelab::(anonymous namespace)::hits' of size 8 at 0x55d9d21f26a8 (counter_bad+0x14fb6a8)

SUMMARY: ThreadSanitizer: data race {COUNTER}:13:3 in racelab::(anonymous namespace)::HandleHit(racelab::http::Request const&, racelab::http::RequestContext&)
==================
"""


def counter_report():
    [report] = parse.parse_text(COUNTER_REPORT, "logs/counter/bad/run1/tsan.4242").reports
    return report


def run_results(fixed_findings: int = 0) -> Results:
    report = counter_report()
    load = LoadResult(requests=10, status={"200": 9, "503": 1}, transport_errors=0,
                      disconnects=0, latency_ms={"p50": 1.0}, peak_threads=7, elapsed_ms=3.0)
    bad_run = RunOutcome(1, Path("/tmp"), exit_status=66, load=load,
                         logs=[LogRead(report.source, [report], instrumented=True)],
                         elapsed_s=1.25)
    fixed_run = RunOutcome(1, Path("/tmp"), signal="SIGABRT", load=load,
                           problems=[Problem(ProblemKind.CRASH,
                                             "counter_fixed crashed (signal SIGABRT)")],
                           elapsed_s=0.5)
    bad = VariantOutcome(Variant.BAD, [bad_run], [Finding(report, 1, "counter", Variant.BAD)])
    fixed = VariantOutcome(Variant.FIXED, [fixed_run],
                           [Finding(report, 2, "counter", Variant.FIXED)] * fixed_findings)
    scenario = ScenarioResult("counter", Verdict.ERROR,
                              ["fixed: counter_fixed crashed (signal SIGABRT)"], bad, fixed)
    return Results(scenarios=[scenario], findings=scenario.findings())


def gate_results() -> Results:
    report = counter_report()
    log = LogRead("logs/gate/tsan.4242", [report], instrumented=True)
    clean = LogRead("logs/gate/tsan.4243", instrumented=True)
    results = Results(gate=GateRun(command=["ctest", "--test-dir", "build"], exit_status=8),
                      logs=[log, clean], findings=[Finding(report, 1)])
    results.suppressions = SuppressionCheck("ci/tsan.supp",
                                            [Suppression("race", "ref_count_down", 4)])
    return results


def context() -> reports.ReportContext:
    return reports.ReportContext(source_root=REPO, scenario_root=REPO)


# --- results.json --------------------------------------------------------------------------

def test_results_json_has_the_results_schema_and_sorted_keys(tmp_path: Path) -> None:
    path = reports.results_json.write(tmp_path, run_results())
    text = path.read_text()
    data = json.loads(text)
    assert text == json.dumps(data, indent=2, sort_keys=True) + "\n"
    assert data["schema"] == "racelab.results/1"
    assert data["verdict"] == "error"
    assert set(data) == {"schema", "verdict", "findings", "instrumented", "problems", "notes",
                         "scenarios"}
    assert data["instrumented"] == 1
    assert set(data["scenarios"][0]) == {"name", "verdict", "reasons", "bad", "fixed"}
    assert data["scenarios"][0]["fixed"]["signal"] == "SIGABRT"
    [finding] = data["findings"]
    assert (finding["count"], finding["status"], finding["scenario"], finding["variant"]) \
        == (1, "new", "counter", "bad")


def test_results_json_of_a_gate_has_no_scenarios_and_a_suppressions_section(
        tmp_path: Path) -> None:
    data = json.loads(reports.results_json.write(tmp_path, gate_results()).read_text())
    assert "scenarios" not in data
    assert data["verdict"] == "fail"
    assert data["suppressions"]["stale"] == [
        {"type": "race", "pattern": "ref_count_down", "line": 4}]
    assert data["gate"]["command"] == ["ctest", "--test-dir", "build"]


# --- summary.md ----------------------------------------------------------------------------

def test_summary_md_puts_the_verdict_first_then_table_findings_and_stacks() -> None:
    results = run_results()
    lines = summary_md.render(results, context()).splitlines()
    assert lines[0] == "# racelab: ERROR"
    assert lines[2] == ("1 scenario: 0 passed, 0 failed, 1 error; 1 finding: 1 expected; "
                        "1 instrumented process.")
    assert "| counter | error | bad | 66 | 10 | 9 | 1 (data-race) | 7 | 1.2s |" in lines
    assert "| counter | error | fixed | SIGABRT | 10 | 9 | 0 + error | 7 | 0.5s |" in lines
    assert "- **counter** (error): fixed: counter\\_fixed crashed (signal SIGABRT)" in lines
    fingerprint = results.findings[0].report.fingerprint
    assert (f"- **data-race** · expected · ×1 · `scenarios/counter/counter.cc:13` in "
            f"`racelab::HandleHit` (counter / bad) · fingerprint `{fingerprint}`") in lines
    assert "  <details><summary>data race — stacks</summary>" in lines
    assert "  Write of size 8 at 0x55d9d21f26a8 by thread T3:" in lines
    assert "    #0 racelab::HandleHit scenarios/counter/counter.cc:13:3" in lines
    assert "    #1 racelab::http::Router::Dispatch harness/src/router.cc:40:10" in lines
    assert not any("libstdc++" in line for line in lines)


def test_summary_md_of_a_gate_lists_status_and_warnings() -> None:
    text = summary_md.render(gate_results(), context())
    lines = text.splitlines()
    assert lines[0] == "# racelab: FAIL"
    assert lines[2] == ("racelab gate of `ctest --test-dir build`: 1 finding: 1 new; "
                        "2 instrumented processes.")
    assert any(line.startswith("- **data-race** · new · ×1 · "
                               "`scenarios/counter/counter.cc:13`") for line in lines)
    assert "## Warnings" in lines
    assert ("- ctest exited with status 8; the gate judged the TSan reports, not the status"
            not in lines)  # notes come from the gate itself, not the writer
    assert "- suppressions ci/tsan.supp:4: race:ref\\_count\\_down matched nothing (stale)" \
        in lines


def test_markdown_escaping_keeps_tables_code_and_text_intact() -> None:
    assert summary_md.md_cell("a|b\nc") == "a\\|b c"
    assert summary_md.md_code("x`y") == "``x`y``"
    assert summary_md.md_code("`") == "`` ` ``"
    assert summary_md.md_text("<script>*x*_[a](b)") == "&lt;script&gt;\\*x\\*\\_\\[a\\](b)"
    assert summary_md.md_fence("``` inside") == "````"


# --- junit.xml -----------------------------------------------------------------------------

def parse_junit(path: Path) -> ET.Element:
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    for suite in [root, *root.findall("testsuite")]:
        for attribute in ("tests", "failures", "errors", "time"):
            assert attribute in suite.attrib, (suite.tag, attribute)
    for suite in root.findall("testsuite"):
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases)
        assert int(suite.get("failures")) == sum(c.find("failure") is not None for c in cases)
        assert int(suite.get("errors")) == sum(c.find("error") is not None for c in cases)
        for name in ("name", "timestamp", "hostname", "id", "package"):
            assert suite.get(name) is not None, name
        assert suite.find("properties") is not None
        assert suite.find("system-out") is not None and suite.find("system-err") is not None
        for case in cases:
            assert case.get("classname") and case.get("name") and case.get("time")
            assert len(case.findall("failure")) + len(case.findall("error")) <= 1
    assert int(root.get("tests")) == sum(int(s.get("tests")) for s in root)
    return root


def test_junit_of_a_run_has_one_testcase_per_scenario_variant(tmp_path: Path) -> None:
    results = run_results(fixed_findings=1)
    results.scenarios[0].fixed.runs[0].problems = []
    results.scenarios[0].fixed.failures = ["fixed variant is not clean: 1 finding(s) "
                                           "(data-race)"]
    root = parse_junit(junit_xml.write(tmp_path, results, context()))
    [suite] = root.findall("testsuite")
    assert suite.get("name") == "counter"
    bad, fixed = suite.findall("testcase")
    assert (bad.get("classname"), bad.get("name")) == ("racelab.counter", "bad")
    assert list(bad) == []  # its race is expected: a pass
    [failure] = fixed.findall("failure")
    assert failure.get("message") == "fixed variant is not clean: 1 finding(s) (data-race)"
    assert failure.get("type") == "data-race"
    assert "WARNING: ThreadSanitizer: data race" in failure.text
    assert "HandleHit" in failure.text
    assert "expected findings of the bad variant" in suite.find("system-out").text


def test_junit_of_a_run_reports_an_unjudged_variant_as_an_error(tmp_path: Path) -> None:
    root = parse_junit(junit_xml.write(tmp_path, run_results(), context()))
    fixed = root.find("testsuite").findall("testcase")[1]
    [error] = fixed.findall("error")
    assert error.get("message") == "counter_fixed crashed (signal SIGABRT)"
    assert root.get("errors") == "1" and root.get("failures") == "0"


def test_junit_of_a_gate_has_one_testcase_per_log_file(tmp_path: Path) -> None:
    results = gate_results()
    results.logs[0].reports[0].summary = "data race \x1b[1mbold\x1b[0m & <b>"
    root = parse_junit(junit_xml.write(tmp_path, results, context()))
    [suite] = root.findall("testsuite")
    command, log, clean = suite.findall("testcase")
    assert command.get("name") == "ctest --test-dir build" and list(command) == []
    assert log.get("name") == "logs/gate/tsan.4242"
    [failure] = log.findall("failure")
    assert failure.get("message").startswith("1 new finding: data-race at "
                                             "scenarios/counter/counter.cc:13")
    assert "& <b>" in failure.text and "\x1b" not in failure.text
    assert clean.get("name") == "logs/gate/tsan.4243" and list(clean) == []
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "0")


# --- index.html ----------------------------------------------------------------------------

class PageParser(HTMLParser):
    """Collects external references and the text of every element by class."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.external: list[str] = []
        self.tags: set[str] = set()
        self.stack: list[set[str]] = []
        self.text_by_class: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        for name, value in attrs:
            if name in ("src", "href", "action", "data", "poster") and value and (
                    "://" in value or value.startswith("//")):
                self.external.append(value)
        classes = set((dict(attrs).get("class") or "").split())
        self.stack.append(classes)
        for css in classes:
            self.text_by_class.setdefault(css, []).append("")

    def handle_endtag(self, tag: str) -> None:
        if self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        for classes in self.stack:
            for css in classes:
                self.text_by_class[css][-1] += data


def parse_page(text: str) -> PageParser:
    page = PageParser()
    page.feed(text)
    page.close()
    return page


def test_index_html_is_self_contained_and_marks_the_racing_line(tmp_path: Path) -> None:
    path = html_page.write(tmp_path, run_results(), context())
    text = path.read_text(encoding="utf-8")
    page = parse_page(text)
    assert page.external == []
    assert "script" not in page.tags and "link" not in page.tags
    assert "http://" not in text and "https://" not in text
    hits = page.text_by_class["hit"]
    assert any("++hits;  // RACE: read-modify-write" in hit for hit in hits), hits
    assert any("const std::uint64_t seen = hits;  // RACE:" in hit for hit in hits)
    # The scenario pair: bad and fixed side by side, RACE and FIX lines marked.
    races = page.text_by_class["race"]
    fixes = page.text_by_class["fix"]
    assert any("++hits;" in line for line in races)
    assert any("hits.fetch_add(1, std::memory_order_relaxed);" in line for line in fixes)
    assert "scenarios/counter/counter.cc" in text and "fixes/counter/counter.cc" in text


def test_index_html_escapes_what_comes_from_logs(tmp_path: Path) -> None:
    results = gate_results()
    report = results.findings[0].report
    report.stacks[0].title = "<img src=https://evil.example/x.png> & co"
    text = html_page.render(results, context())
    page = parse_page(text)
    assert page.external == []
    assert "img" not in page.tags
    assert "&lt;img src=https://evil.example/x.png&gt; &amp; co" in text


def test_results_json_of_a_run_and_of_a_gate_validate_against_the_schema(
        tmp_path: Path) -> None:
    for results in (run_results(fixed_findings=1), gate_results()):
        data = json.loads(results_json_text(results, tmp_path))
        assert_schema(data)
        assert data["verdict"] == str(results.verdict)


def results_json_text(results, tmp_path: Path) -> str:
    return reports.results_json.write(tmp_path, results).read_text(encoding="utf-8")


def test_the_results_schema_refuses_what_the_contract_forbids() -> None:
    data = json.loads(json.dumps(gate_results().to_json()))
    data["findings"][0]["status"] = "ignored"
    with pytest.raises(AssertionError, match="status"):
        assert_schema(data)
    data = json.loads(json.dumps(gate_results().to_json()))
    data["scenarios"] = []
    with pytest.raises(AssertionError):
        assert_schema(data)  # a run and a gate at once


def test_index_html_links_each_pair_to_its_sources_report_and_verdict() -> None:
    text = html_page.render(run_results(), context())
    assert '<a href="#scenario-counter">counter</a>' in text
    assert '<h3 id="scenario-counter">counter</h3>' in text
    assert '<a href="#finding-1">its report</a>' in text and 'id="finding-1"' in text
    assert 'class="badge error">error</span>' in text
