"""results.sarif: SARIF 2.1.0 for GitHub code scanning (and any SARIF viewer).

One run; tool.driver "racelab" with one rule per finding kind (id = the kind slug); one
result per finding:
- level "error" for a new finding (baselineState "new"); "note" for a known one
  (baselineState "unchanged"), a suppressed one (a SARIF `suppressions` entry, kind
  "external", with the TSan suppression as justification) and a run's expected finding
  of a bad variant;
- the location is the top frame, its URI relative to the repository root (uriBaseId
  SRCROOT) with startLine/startColumn; when the top frame is outside the repository, the
  first frame inside it;
- every stack is a threadFlow of one codeFlow (its non-runtime frames inside the
  repository);
- partialFingerprints carries racelab's fingerprint, so code scanning tracks a finding
  across commits the same way racelab does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..model import Finding, Frame, Results, Status, Verdict
from .common import ReportContext, app_frames, kind_description, short_function

FILE_NAME = "results.sarif"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TSAN_DOCS = "https://clang.llvm.org/docs/ThreadSanitizer.html"
RACELAB_VERSION = "0.1.0"
FINGERPRINT_KEY = "racelabFingerprint/v1"
SRCROOT = "SRCROOT"


def write(out: Path, results: Results, context: ReportContext) -> Path:
    path = out / FILE_NAME
    path.write_text(json.dumps(render(results, context), indent=2, sort_keys=True) + "\n",
                    encoding="utf-8")
    return path


def render(results: Results, context: ReportContext) -> dict[str, Any]:
    findings = results.findings
    kinds: list[str] = []
    headlines: dict[str, str] = {}
    for finding in findings:
        if finding.report.kind not in kinds:
            kinds.append(finding.report.kind)
            headlines[finding.report.kind] = finding.report.headline
    kinds.sort()
    rules = [_rule(kind, headlines[kind]) for kind in kinds]
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "racelab", "version": RACELAB_VERSION,
                            "informationUri": TSAN_DOCS, "rules": rules}},
        "originalUriBaseIds": {SRCROOT: {"uri": Path(context.source_root).resolve()
                                         .as_uri().rstrip("/") + "/"}},
        "invocations": [_invocation(results)],
        "results": [_result(f, kinds.index(f.report.kind), context) for f in findings],
        "properties": {"verdict": str(results.verdict), "mode": results.mode},
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _rule(kind: str, headline: str) -> dict[str, Any]:
    words = [w for w in kind.split("-") if w]
    description = kind_description(kind, headline)
    return {
        "id": kind,
        "name": "".join(w.capitalize() for w in words) or "Finding",
        "shortDescription": {"text": headline.split("(", 1)[0].strip() or kind},
        "fullDescription": {"text": description},
        "help": {"text": f"{description} See the stacks of each result; {TSAN_DOCS}",
                 "markdown": f"{description} See the stacks of each result and "
                             f"[ThreadSanitizer]({TSAN_DOCS})."},
        "helpUri": TSAN_DOCS,
        "defaultConfiguration": {"level": "error"},
        "properties": {"tags": ["concurrency", "thread-sanitizer"], "precision": "high",
                       "problem.severity": "error"},
    }


def _invocation(results: Results) -> dict[str, Any]:
    errors = [p.one_line() for p in results.problems] + [
        f"{s.name}: {r}" for s in results.scenarios or [] if s.verdict == Verdict.ERROR
        for r in s.reasons]
    notifications = [{"level": "error", "message": {"text": e}} for e in errors]
    notifications += [{"level": "warning", "message": {"text": w}} for w in results.warnings()]
    invocation: dict[str, Any] = {"executionSuccessful": results.verdict != Verdict.ERROR}
    gate = results.gate
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    if gate is not None:
        if gate.exit_status is not None:
            invocation["exitCode"] = gate.exit_status
        if gate.signal is not None:
            invocation["exitSignalName"] = gate.signal
    return invocation


def _result(finding: Finding, rule_index: int, context: ReportContext) -> dict[str, Any]:
    report = finding.report
    out: dict[str, Any] = {
        "ruleId": report.kind,
        "ruleIndex": rule_index,
        "kind": "fail",
        "level": "error" if finding.blocking else "note",
        "message": {"text": _message(finding, context)},
        "partialFingerprints": {FINGERPRINT_KEY: report.fingerprint},
        "baselineState": "unchanged" if finding.status == Status.KNOWN else "new",
        "properties": {"count": finding.count, "status": str(finding.status),
                       "runsSeen": finding.runs_seen, "runs": finding.runs,
                       "tests": list(finding.tests),
                       "framesUnreliable": finding.frames_unreliable,
                       "scenario": finding.scenario,
                       "variant": str(finding.variant) if finding.variant else None,
                       "tool": report.tool, "source": report.source},
    }
    location = _primary_location(finding, context)
    if location is not None:
        out["locations"] = [location]
    flows = _thread_flows(finding, context)
    if flows:
        out["codeFlows"] = [{"message": {"text": report.headline}, "threadFlows": flows}]
    if finding.status == Status.SUPPRESSED:
        out["suppressions"] = [{"kind": "external", "status": "accepted",
                                "justification": f"suppression "
                                                 f"{finding.suppressed_by or '?'}"}]
    return out


def _message(finding: Finding, context: ReportContext) -> str:
    report = finding.report
    parts = []
    for stack in report.stacks:
        frames = app_frames(stack)
        if frames:
            parts.append(f"{stack.title} in {short_function(frames[0])} "
                         f"({context.location(frames[0])})")
    status = "expected (bad variant)" if finding.expected else str(finding.status)
    text = f"{_tool_name(report.tool)}: {report.headline}"
    if parts:
        text += ": " + "; ".join(parts[:3])
    text += f". Seen {finding.count} time{'s' if finding.count != 1 else ''}; {status}"
    if finding.scenario:
        text += f" (scenario {finding.scenario}, {finding.variant})"
    return text + "."


def _physical(frame: Frame, context: ReportContext) -> dict[str, Any] | None:
    """A physicalLocation for a frame inside the repository, or None."""
    relative = context.relative(frame.file)
    if relative is None or frame.line is None or frame.line < 1:
        return None
    region: dict[str, Any] = {"startLine": frame.line}
    if frame.column is not None and frame.column >= 1:
        region["startColumn"] = frame.column
    return {"artifactLocation": {"uri": relative, "uriBaseId": SRCROOT}, "region": region}


def _primary_location(finding: Finding, context: ReportContext) -> dict[str, Any] | None:
    report = finding.report
    candidates = ([report.top_frame] if report.top_frame else []) + [
        f for s in report.stacks for f in app_frames(s)]
    for frame in candidates:
        physical = _physical(frame, context)
        if physical is not None:
            return {"physicalLocation": physical,
                    "message": {"text": short_function(frame)}}
    top = report.top_frame
    if top is not None and top.file and Path(top.file).is_absolute():
        outside: dict[str, Any] = {"artifactLocation": {"uri": Path(top.file).as_uri()}}
        if top.line and top.line >= 1:
            outside["region"] = {"startLine": top.line}
        return {"physicalLocation": outside, "message": {"text": short_function(top)}}
    return None


def _thread_flows(finding: Finding, context: ReportContext) -> list[dict[str, Any]]:
    flows = []
    for stack in finding.report.stacks:
        locations = []
        # A threadFlow runs from the outermost call to the access: reverse the stack.
        for frame in reversed(app_frames(stack)):
            physical = _physical(frame, context)
            if physical is not None:
                locations.append({"location": {"physicalLocation": physical,
                                               "message": {"text": short_function(frame)}}})
        if locations:
            flows.append({"message": {"text": stack.title}, "locations": locations})
    return flows


def _tool_name(tool: str) -> str:
    return {"racelab": "racelab", "go-race": "Go race detector",
            "clang-asan": "AddressSanitizer"}.get(tool, "ThreadSanitizer")
