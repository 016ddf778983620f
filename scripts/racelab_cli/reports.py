"""Writers for racelab's output formats, one function per format.

- results.json (`racelab.results/1`, DESIGN.md), sorted keys so results diff cleanly;
- summary.md: the verdict first, a scenario x variant table, one line per finding with its
  top frame, and the stacks folded in <details> (fits a CI step summary).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .model import Finding, Frame, ParseResult, RunResults, VariantOutcome


def dump_json(data: Any) -> str:
    """racelab's JSON style: sorted keys, two-space indent, trailing newline."""
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def write_results_json(out: Path, results: RunResults) -> Path:
    path = out / "results.json"
    path.write_text(dump_json(results.to_json()), encoding="utf-8")
    return path


def write_summary_md(out: Path, results: RunResults) -> Path:
    path = out / "summary.md"
    path.write_text(summary_markdown(results), encoding="utf-8")
    return path


def counts_line(results: RunResults) -> str:
    """"2 scenarios: 1 passed, 1 failed, 0 errors"."""
    verdicts = [s.verdict for s in results.scenarios]
    n = len(verdicts)
    return (f"{n} scenario{'s' if n != 1 else ''}: {verdicts.count('pass')} passed, "
            f"{verdicts.count('fail')} failed, {verdicts.count('error')} "
            f"error{'s' if verdicts.count('error') != 1 else ''}")


def summary_markdown(results: RunResults) -> str:
    lines = [f"# racelab: {results.verdict.upper()}", "", counts_line(results) + ".", ""]
    lines += ["| scenario | verdict | variant | exit | requests | 2xx | findings "
              "| peak threads | time |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for scenario in results.scenarios:
        for outcome in scenario.variants():
            lines.append(_table_row(scenario.name, scenario.verdict, outcome))
    lines.append("")
    troubled = [s for s in results.scenarios if s.reasons]
    if troubled:
        lines += ["## Reasons", ""]
        for scenario in troubled:
            for reason in scenario.reasons:
                lines.append(f"- **{scenario.name}** ({scenario.verdict}): {_inline(reason)}")
        lines.append("")
    findings = results.findings()
    lines += ["## Findings", ""]
    if not findings:
        lines += ["None.", ""]
    for finding in findings:
        lines += _finding_block(finding)
    return "\n".join(lines)


def parse_listing(result: ParseResult) -> str:
    """`racelab parse` without --json: one line per report (errors go to stderr)."""
    lines = []
    for report in result.reports:
        where = frame_text(report.top_frame) if report.top_frame else "no non-runtime frame"
        lines.append(f"{report.source}:{report.line}: {report.kind} [{report.tool}] "
                     f"{report.fingerprint} at {where}")
    if not result.reports:
        lines.append("no reports found")
    return "\n".join(lines) + "\n"


def frame_text(frame: Frame) -> str:
    text = frame.function
    if frame.file:
        text += f" {frame.file}"
        if frame.line is not None:
            text += f":{frame.line}"
            if frame.column is not None:
                text += f":{frame.column}"
    return text


def _table_row(name: str, verdict: str, outcome: VariantOutcome) -> str:
    run = outcome.runs[-1] if outcome.runs else None
    load = run.load if run else None
    if run is None:
        exit_text = "-"
    elif run.signal:
        exit_text = run.signal
    else:
        exit_text = "-" if run.exit_status is None else str(run.exit_status)
    kinds = sorted({f.report.kind for f in outcome.findings})
    findings = str(len(outcome.findings)) + (f" ({', '.join(kinds)})" if kinds else "")
    if outcome.errors():
        findings += " + error"
    elapsed = sum(r.elapsed_s for r in outcome.runs)
    cells = [name, verdict, outcome.variant, exit_text,
             str(load.requests) if load else "-", str(load.ok_count()) if load else "-",
             findings,
             str(load.peak_threads) if load and load.peak_threads is not None else "-",
             f"{elapsed:.1f}s"]
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _finding_block(finding: Finding) -> list[str]:
    report = finding.report
    top = frame_text(report.top_frame) if report.top_frame else "no non-runtime frame"
    lines = [f"- **{finding.scenario or '-'} / {finding.variant or '-'}**: `{report.kind}` "
             f"x{finding.count} at `{top}` (fingerprint `{report.fingerprint}`)",
             "",
             "  <details><summary>stacks</summary>",
             "",
             "  ```text"]
    if report.summary:
        lines.append(f"  SUMMARY: {report.summary}")
    for stack in report.stacks:
        lines.append(f"  {stack.title}:")
        for index, frame in enumerate(stack.frames):
            module = f" ({frame.module})" if frame.module else ""
            lines.append(f"    #{index} {frame_text(frame)}{module}")
    lines += ["  ```", "", "  </details>", ""]
    return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _inline(text: str) -> str:
    return text.replace("\n", " ")
