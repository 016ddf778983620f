"""junit.xml: the JUnit XML that GitHub (test reporters), GitLab and Jenkins read.

    <testsuites name tests failures errors time>
      <testsuite name tests failures errors skipped time timestamp hostname id package>
        <properties/>
        <testcase classname name time> [<failure message type>text</failure>
                                        | <error message type>text</error>] </testcase>
        <system-out/> <system-err/>

Shaped to the strict common schema (the Ant/"windyroad" JUnit.xsd): at most one failure or
error per testcase, the details in its text. A run has one testsuite per scenario and one
testcase per variant: a bad variant fails when it lost its bug (its findings are expected),
a fixed variant fails on a finding; a variant that could not be judged is an error. A gate
has one testcase per log file (one per instrumented process) that fails on its new
findings, plus one for the command itself, an error when the run could not be judged.
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

from .. import patterns as P
from ..model import Finding, LogRead, Report, Results, ScenarioResult, TestRun, Variant
from .common import ReportContext, report_text, short_function

FILE_NAME = "junit.xml"

def write(out: Path, results: Results, context: ReportContext) -> Path:
    path = out / FILE_NAME
    tree = ET.ElementTree(render(results, context))
    ET.indent(tree)
    with open(path, "wb") as handle:
        tree.write(handle, encoding="utf-8", xml_declaration=True)
    return path


def render(results: Results, context: ReportContext) -> ET.Element:
    suites = (_run_suites(results, context) if results.scenarios is not None
              else [_gate_suite(results, context)])
    root = ET.Element("testsuites", name="racelab")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    time_s = 0.0
    for suite in suites:
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
        time_s += float(suite.get("time", "0"))
        root.append(suite)
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{time_s:.3f}")
    return root


# --- run -----------------------------------------------------------------------------------

def _run_suites(results: Results, context: ReportContext) -> list[ET.Element]:
    suites = []
    for index, scenario in enumerate(results.scenarios or []):
        suite = _suite(scenario.name, index, "racelab.scenarios")
        for outcome in scenario.variants():
            case = _case(suite, f"racelab.{scenario.name}", outcome.variant,
                         sum(r.elapsed_s for r in outcome.runs))
            errors = outcome.errors()
            failures = _variant_failures(scenario, outcome.variant)
            blocking = [f for f in outcome.findings if f.blocking]
            if errors:
                _outcome(case, "error", "; ".join(errors), "racelab.error",
                         "\n".join(errors + failures))
            elif failures:
                detail = "\n\n".join(report_text(f.report) for f in blocking)
                _outcome(case, "failure", "; ".join(failures),
                         blocking[0].report.kind if blocking else "racelab.expectation",
                         "\n".join(failures) + ("\n\n" + detail if detail else ""))
        _close_suite(suite, _expected_note(scenario, context))
        suites.append(suite)
    return suites


def _variant_failures(scenario: ScenarioResult, variant: Variant) -> list[str]:
    outcome = scenario.bad if variant == Variant.BAD else scenario.fixed
    return list(outcome.failures) if outcome is not None else []


def _expected_note(scenario: ScenarioResult, context: ReportContext) -> str:
    if scenario.bad is None or not scenario.bad.findings:
        return ""
    lines = ["expected findings of the bad variant:"]
    lines += [f"  {f.report.kind} x{f.count} at {context.location(f.report.top_frame)} "
              f"in {short_function(f.report.top_frame)}" for f in scenario.bad.findings]
    return "\n".join(lines) + "\n"


# --- gate ----------------------------------------------------------------------------------

def _gate_suite(results: Results, context: ReportContext) -> ET.Element:
    gate = results.gate
    assert gate is not None
    suite = _suite("racelab gate", 0, "racelab.gate")
    log_problems = {p for log in results.logs for p in log.problems}
    command_errors = [p.one_line() for p in results.problems
                      if p not in log_problems and p.test is None]
    case = _case(suite, "racelab.gate", gate.describe(), gate.elapsed_s)
    if command_errors:
        _outcome(case, "error", "; ".join(command_errors), "racelab.error",
                 "\n".join(command_errors))
    status = {f.report.fingerprint: f for f in results.findings}
    if gate.tests is not None:
        for test in gate.tests:
            _test_case(suite, test, results)
    else:
        for log in results.logs:
            _log_case(suite, log, status, context)
    notes = "\n".join(results.warnings())
    _close_suite(suite, notes + ("\n" if notes else ""))
    return suite


def _test_case(suite: ET.Element, test: TestRun, results: Results) -> None:
    """One testcase per ctest test: an error when it could not be judged, a failure when
    its processes reported a new finding, else a pass."""
    case = _case(suite, "racelab.gate.test", test.name, test.elapsed_s)
    problems = [p for p in results.problems if p.test == test.name]
    problems += [p for log in test.logs for p in log.problems]
    new = [f.report for f in results.findings if test.name in f.tests and f.blocking]
    if problems:
        messages = [p.one_line() for p in problems]
        _outcome(case, "error", "; ".join(messages), f"racelab.{problems[0].kind}",
                 "\n".join(messages) + "".join("\n\n" + report_text(r) for r in new))
    elif new:
        _outcome(case, "failure", f"{len(new)} new finding{'s' if len(new) != 1 else ''}: "
                 + ", ".join(r.kind for r in new), new[0].kind,
                 "\n\n".join(report_text(r) for r in new))


def _log_case(suite: ET.Element, log: LogRead, status: dict[str, Finding],
              context: ReportContext) -> None:
    case = _case(suite, "racelab.gate.log", log.source, 0.0)
    new: list[Report] = [r for r in log.reports
                         if r.fingerprint in status and status[r.fingerprint].blocking]
    if log.problems:
        messages = [p.one_line() for p in log.problems]
        _outcome(case, "error", "; ".join(messages), f"racelab.{log.problems[0].kind}",
                 "\n".join(messages) + "".join("\n\n" + report_text(r) for r in new))
    elif new:
        listing = ", ".join(f"{r.kind} at {context.location(r.top_frame)}" for r in new)
        _outcome(case, "failure",
                 f"{len(new)} new finding{'s' if len(new) != 1 else ''}: {listing}",
                 new[0].kind, "\n\n".join(report_text(r) for r in new))


# --- elements ------------------------------------------------------------------------------

def _suite(name: str, index: int, package: str) -> ET.Element:
    suite = ET.Element("testsuite", name=_clean(name), id=str(index), package=package,
                       timestamp=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
                       hostname=_clean(socket.gethostname() or "localhost"))
    ET.SubElement(suite, "properties")
    return suite


def _case(suite: ET.Element, classname: str, name: str, time_s: float) -> ET.Element:
    return ET.SubElement(suite, "testcase", classname=_clean(classname), name=_clean(name),
                         time=f"{time_s:.3f}")


def _outcome(case: ET.Element, tag: str, message: str, kind: str, text: str) -> None:
    element = ET.SubElement(case, tag, message=_clean(message), type=_clean(kind))
    element.text = _clean(text)


def _close_suite(suite: ET.Element, out_text: str) -> None:
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
    suite.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
    suite.set("skipped", "0")
    suite.set("time", f"{sum(float(c.get('time', '0')) for c in cases):.3f}")
    ET.SubElement(suite, "system-out").text = _clean(out_text)
    ET.SubElement(suite, "system-err").text = ""


def _clean(text: str) -> str:
    return P.NOT_XML.sub("\ufffd", str(text))
