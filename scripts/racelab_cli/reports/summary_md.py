"""summary.md: fits a GitHub step summary ($GITHUB_STEP_SUMMARY) or a PR comment.

Verdict first; for a run, the scenario x variant table; the errors or reasons; one line per
finding (kind, status, count, top frame as a repo-relative `path:line`) with its stacks
folded in <details> (non-runtime frames only, the first few of each); then the baseline and
suppression warnings. Everything that comes from a log is escaped for Markdown (text,
table cells, code spans and fences are each escaped their own way).
"""

from __future__ import annotations

import html
from pathlib import Path

from .. import patterns as P
from ..model import Finding, Results, Status, VariantOutcome
from .common import (MAX_FRAMES_SHOWN, ReportContext, app_frames, short_function,
                     verdict_line)

FILE_NAME = "summary.md"
MAX_FINDING_LINES = 200   # GitHub caps a step summary at 1 MiB
MAX_FINDING_DETAILS = 50


def write(out: Path, results: Results, context: ReportContext) -> Path:
    path = out / FILE_NAME
    path.write_text(render(results, context), encoding="utf-8")
    return path


def render(results: Results, context: ReportContext) -> str:
    lines = [f"# racelab: {results.verdict.upper()}", ""]
    if results.gate is not None:
        lines += [f"racelab gate of {md_code(results.gate.describe())}: "
                  f"{md_text(verdict_line(results))}.", ""]
    else:
        lines += [md_text(verdict_line(results)) + ".", ""]
    if results.scenarios is not None:
        lines += _scenario_table(results)
        troubled = [s for s in results.scenarios if s.reasons]
        if troubled:
            lines += ["## Reasons", ""]
            for scenario in troubled:
                for reason in scenario.reasons:
                    lines.append(f"- **{md_text(scenario.name)}** ({scenario.verdict}): "
                                 f"{md_text(reason)}")
            lines.append("")
    if results.problems:
        lines += ["## Why racelab could not decide", ""]
        lines += [f"- {md_text(problem.one_line())}" for problem in results.problems]
        lines.append("")
    findings = results.findings
    lines += ["## Findings", ""]
    if not findings:
        lines += ["None.", ""]
    for index, finding in enumerate(findings[:MAX_FINDING_LINES]):
        lines.append(_finding_line(finding, context))
        if index < MAX_FINDING_DETAILS:
            lines += _details(finding, context)
    if len(findings) > MAX_FINDING_LINES:
        lines += [f"- ... and {len(findings) - MAX_FINDING_LINES} more (see results.json)",
                  ""]
    lines.append("")
    warnings = results.warnings()
    if warnings:
        lines += ["## Warnings", ""]
        lines += [f"- {md_text(w)}" for w in warnings]
        lines.append("")
    if results.suppressions is not None:
        lines += _suppression_table(results)
    return "\n".join(lines).rstrip("\n") + "\n"


def _finding_line(finding: Finding, context: ReportContext) -> str:
    report = finding.report
    top = report.top_frame
    where = (f"{md_code(context.location(top))} in {md_code(short_function(top))}"
             if top is not None else "no non-runtime frame")
    origin = ""
    if finding.scenario is not None:
        origin = f" ({md_text(finding.scenario)} / {md_text(finding.variant or '-')})"
    suppressed = (f" by {md_code(finding.suppressed_by)}"
                  if finding.status == Status.SUPPRESSED and finding.suppressed_by else "")
    seen = (f" · seen in {finding.runs_seen}/{finding.runs} runs" if finding.runs > 1 else "")
    if finding.frames_unreliable:
        seen += f" · frames unreliable ({md_text(finding.frames_unreliable)})"
    if finding.tests:
        seen += f" · in {md_text(', '.join(finding.tests))}"
    return (f"- **{md_text(report.kind)}** · {finding.label}{suppressed} · "
            f"×{finding.count}{seen} · {where}{origin} · "
            f"fingerprint {md_code(report.fingerprint)}")


def _details(finding: Finding, context: ReportContext) -> list[str]:
    report = finding.report
    body: list[str] = []
    if report.summary:
        body.append(f"SUMMARY: {report.summary}")
    for stack in report.stacks:
        frames = app_frames(stack)
        body.append(f"{stack.title}:")
        for index, frame in enumerate(frames[:MAX_FRAMES_SHOWN]):
            location = context.location(frame) if frame.file else "?"
            column = f":{frame.column}" if frame.file and frame.column is not None else ""
            body.append(f"  #{index} {short_function(frame)} {location}{column}")
        hidden = len(stack.frames) - min(len(frames), MAX_FRAMES_SHOWN)
        if hidden > 0:
            body.append(f"  ({hidden} runtime or deeper frames not shown)")
    fence = md_fence("\n".join(body))
    return (["", f"  <details><summary>{html.escape(report.headline)} — stacks</summary>", "",
             f"  {fence}text"]
            + [f"  {line}" for line in body]
            + [f"  {fence}", "", "  </details>", ""])


def _scenario_table(results: Results) -> list[str]:
    lines = ["| scenario | verdict | variant | exit | requests | 2xx | findings "
             "| peak threads | time |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for scenario in results.scenarios or []:
        for outcome in scenario.variants():
            lines.append(_table_row(scenario.name, scenario.verdict, outcome))
    return lines + [""]


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
    return "| " + " | ".join(md_cell(c) for c in cells) + " |"


def _suppression_table(results: Results) -> list[str]:
    check = results.suppressions
    assert check is not None
    lines = [f"## Suppressions ({md_text(check.file)})", "",
             "| suppression | line | hits |", "| --- | --- | --- |"]
    counts = check.counts
    for suppression in check.suppressions:
        hits = counts.get(suppression.text, 0)
        lines.append(f"| {md_cell(md_code(suppression.text))} | {suppression.line} | "
                     f"{hits if hits else '0 (stale)'} |")
    for text, hits in sorted(check.other.items()):
        lines.append(f"| {md_cell(md_code(text))} | not in the file | {hits} |")
    return lines + [""]


# --- Markdown escaping ---------------------------------------------------------------------

def md_text(text: str) -> str:
    """Plain text inside a Markdown line: no emphasis, links, HTML or line breaks."""
    text = " ".join(str(text).split())
    text = html.escape(text, quote=False)
    return P.MD_SPECIAL.sub(r"\\\1", text)


def md_code(text: str) -> str:
    """An inline code span that holds `text` verbatim, whatever backticks it contains."""
    text = " ".join(str(text).split())
    longest = max((len(m) for m in P.BACKTICK_RUN.findall(text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def md_cell(text: str) -> str:
    """A table cell: a pipe would end the cell, a newline the row."""
    return " ".join(str(text).split()).replace("|", "\\|")


def md_fence(body: str) -> str:
    """A code fence longer than any run of backticks in `body`."""
    longest = max((len(m) for m in P.BACKTICK_RUN.findall(body)), default=0)
    return "`" * max(3, longest + 1)
