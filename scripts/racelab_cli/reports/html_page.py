"""index.html: one self-contained page (inline CSS, no scripts, fonts or anything fetched).

- the verdict and what it rests on;
- for a run, the scenario matrix (scenario x bad/fixed); for a gate, the logs it read;
- every finding with its stacks: the non-runtime frames, each with a few source lines
  around its line, the line itself highlighted (class "hit");
- for a run, each scenario's bad and fixed sources side by side, `// RACE:` lines and
  `// FIX:` lines marked;
- baseline and suppression warnings, and the suppressions table.
Every string from a log or a source file is HTML-escaped.
"""

from __future__ import annotations

import html
from datetime import datetime, timezone
from pathlib import Path

from ..model import Finding, Results, ScenarioResult, Stack, Status, VariantOutcome
from .common import MAX_FRAMES_SHOWN, ReportContext, app_frames, short_function, verdict_line

FILE_NAME = "index.html"
CONTEXT_LINES = 3          # source lines shown above and below a frame's line
MAX_SNIPPETS = 3           # frames per stack shown with their source lines
SOURCE_SUFFIXES = (".cc", ".cpp", ".cxx", ".h", ".hpp")
RACE_MARK = "// RACE:"
FIX_MARK = "// FIX:"

CSS = """
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #ffffff; --panel: #f6f8fa;
        --red: #cf222e; --red-bg: #ffebe9; --green: #1a7f37; --green-bg: #dafbe1;
        --amber: #9a6700; --amber-bg: #fff8c5; --blue: #0969da; --blue-bg: #ddf4ff; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 48px; color: var(--fg); background: var(--bg);
       font: 15px/1.5 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 32px 0 12px; padding-bottom: 6px;
     border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 18px 0 8px; }
p.lead { color: var(--muted); margin: 0 0 8px; }
code, pre, .mono { font-family: ui-monospace, "DejaVu Sans Mono", "Liberation Mono",
                   monospace; font-size: 13px; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border: 1px solid var(--line); padding: 6px 10px; text-align: left;
         vertical-align: top; }
th { background: var(--panel); font-weight: 600; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 999px; font-size: 13px;
         font-weight: 600; border: 1px solid transparent; white-space: nowrap; }
.pass, .known, .fixed-ok { color: var(--green); background: var(--green-bg); }
.fail, .new { color: var(--red); background: var(--red-bg); }
.error { color: #fff; background: var(--red); }
.suppressed, .expected { color: var(--amber); background: var(--amber-bg); }
.kind { color: var(--blue); background: var(--blue-bg); }
ul.plain { margin: 4px 0 12px; padding-left: 20px; }
.finding { border: 1px solid var(--line); border-radius: 8px; margin: 14px 0;
           padding: 12px 16px; background: var(--bg); }
.finding > .head { display: flex; flex-wrap: wrap; gap: 8px; align-items: baseline; }
.finding .where { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 13px; }
.meta { color: var(--muted); font-size: 13px; }
.stack { margin: 10px 0 4px; }
.stack-title { font-weight: 600; margin: 10px 0 4px; }
.frame { margin: 6px 0 2px 12px; }
.frame .fn { font-weight: 600; }
pre.src { margin: 2px 0 8px 12px; padding: 6px 0; background: var(--panel);
          border: 1px solid var(--line); border-radius: 6px; overflow-x: auto; }
pre.src span.l { display: flex; padding: 0 12px; border-left: 4px solid transparent; }
pre.src span.n { flex: 0 0 3.2em; color: var(--muted); user-select: none; }
pre.src span.t { flex: 1; white-space: pre-wrap; overflow-wrap: anywhere; }
pre.src span.hit { background: #ffd8d3; border-left-color: var(--red); font-weight: 600; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 14px; }
.pair > div { min-width: 0; }
.pair pre.src { margin-left: 0; }
pre.src span.race { background: var(--red-bg); border-left-color: var(--red); }
pre.src span.fix { background: var(--green-bg); border-left-color: var(--green); }
.hidden-frames { color: var(--muted); font-size: 13px; margin-left: 12px; }
footer { margin-top: 40px; color: var(--muted); font-size: 13px; }
"""


def write(out: Path, results: Results, context: ReportContext) -> Path:
    path = out / FILE_NAME
    path.write_text(render(results, context), encoding="utf-8")
    return path


def render(results: Results, context: ReportContext) -> str:
    what = results.mode
    body: list[str] = [
        f"<h1>racelab {what}: {_badge(results.verdict.upper(), results.verdict)}</h1>",
        f"<p class=\"lead\">{_e(verdict_line(results))}</p>"]
    if results.scenarios is not None:
        body += _matrix(results)
        body += _reasons(results)
    else:
        body += _gate_overview(results)
    if results.problems:
        body.append("<h2>Why racelab could not decide</h2>")
        body.append("<ul class=\"plain\">" + "".join(f"<li>{_e(p.one_line())}</li>"
                                                      for p in results.problems) + "</ul>")
    body += _findings(results, context)
    warnings = results.warnings()
    if warnings:
        body.append("<h2>Warnings</h2>")
        body.append("<ul class=\"plain\">" + "".join(f"<li>{_e(w)}</li>" for w in warnings)
                    + "</ul>")
    if results.suppressions is not None:
        body += _suppressions(results)
    if results.scenarios is not None:
        body += _pairs(results, context)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body.append(f"<footer>Written by racelab on {stamp}. Details for tools: results.json, "
                "results.sarif, junit.xml.</footer>")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>racelab {what}: {_e(results.verdict)}</title>\n"
            f"<style>{CSS}</style>\n</head>\n<body>\n" + "\n".join(body)
            + "\n</body>\n</html>\n")


# --- Overview ------------------------------------------------------------------------------

def _matrix(results: Results) -> list[str]:
    rows = ["<h2>Scenarios</h2>", "<table>",
            "<tr><th>scenario</th><th>verdict</th><th>bad variant</th>"
            "<th>fixed variant</th></tr>"]
    first: dict[tuple[str | None, str | None], int] = {}
    for index, finding in enumerate(results.findings, start=1):
        first.setdefault((finding.scenario, finding.variant), index)
    for scenario in results.scenarios or []:
        cells = "".join(
            f"<td>{_variant_cell(outcome)}{_report_link(first, scenario.name, outcome)}</td>"
            for outcome in (scenario.bad, scenario.fixed))
        rows.append(f"<tr><td><a href=\"#scenario-{_e(scenario.name)}\">{_e(scenario.name)}"
                    f"</a> <span class=\"meta\">(sources side by side)</span></td>"
                    f"<td>{_badge(scenario.verdict, scenario.verdict)}</td>{cells}</tr>")
    rows.append("</table>")
    return rows


def _report_link(first: dict[tuple[str | None, str | None], int], name: str,
                 outcome: VariantOutcome | None) -> str:
    """A link to the variant's first finding in the page, when it has one."""
    if outcome is None:
        return ""
    index = first.get((name, outcome.variant))
    return (f"<div><a href=\"#finding-{index}\">its report</a></div>" if index is not None
            else "")


def _variant_cell(outcome: VariantOutcome | None) -> str:
    if outcome is None:
        return "<span class=\"meta\">not run</span>"
    parts = []
    kinds = sorted({f.report.kind for f in outcome.findings})
    if kinds:
        parts.append(" ".join(_badge(k, "kind") for k in kinds))
    else:
        parts.append("clean")
    run = outcome.runs[-1] if outcome.runs else None
    facts = []
    if run is not None:
        facts.append(f"exit {run.signal or run.exit_status}")
        if run.load is not None:
            facts.append(f"{run.load.ok_count()}/{run.load.requests} ok")
            if run.load.peak_threads is not None:
                facts.append(f"peak {run.load.peak_threads} threads")
    if facts:
        parts.append(f"<div class=\"meta\">{_e(', '.join(facts))}</div>")
    if outcome.errors():
        parts.append("<div>" + _badge("error", "error") + " "
                     + _e("; ".join(outcome.errors())) + "</div>")
    return "".join(parts)


def _reasons(results: Results) -> list[str]:
    troubled = [s for s in results.scenarios or [] if s.reasons]
    if not troubled:
        return []
    items = "".join(f"<li><b>{_e(s.name)}</b> ({_e(s.verdict)}): {_e(r)}</li>"
                    for s in troubled for r in s.reasons)
    return ["<h2>Reasons</h2>", f"<ul class=\"plain\">{items}</ul>"]


def _gate_overview(results: Results) -> list[str]:
    gate = results.gate
    assert gate is not None
    out = ["<h2>What was gated</h2>",
           f"<p class=\"mono\">{_e(gate.describe())}</p>"]
    facts = []
    if gate.command is not None:
        facts.append(f"exit {gate.signal or gate.exit_status}")
        facts.append(f"{gate.elapsed_s:.1f}s")
    facts.append(f"{len(results.logs)} log file{'s' if len(results.logs) != 1 else ''}")
    out.append(f"<p class=\"meta\">{_e(', '.join(facts))}</p>")
    if results.logs:
        status = {f.report.fingerprint: f.status for f in results.findings}
        out += ["<table>", "<tr><th>log file</th><th>reports</th><th>new</th>"
                           "<th>problems</th></tr>"]
        for log in results.logs:
            new = sum(1 for r in log.reports if status.get(r.fingerprint) == Status.NEW)
            problems = "; ".join(p.message for p in log.problems)
            out.append(f"<tr><td class=\"mono\">{_e(log.source)}</td>"
                       f"<td>{len(log.reports)}</td><td>{new}</td>"
                       f"<td>{_e(problems) or '-'}</td></tr>")
        out.append("</table>")
    return out


# --- Findings ------------------------------------------------------------------------------

def _findings(results: Results, context: ReportContext) -> list[str]:
    findings = results.findings
    out = ["<h2>Findings</h2>"]
    if not findings:
        out.append("<p>None.</p>")
    for index, finding in enumerate(findings, start=1):
        out.append(_finding(index, finding, context))
    return out


def _finding(index: int, finding: Finding, context: ReportContext) -> str:
    report = finding.report
    label = finding.label
    top = report.top_frame
    where = (f"{_e(short_function(top))} at {_e(context.location(top))}" if top
             else "no non-runtime frame")
    origin = (f" · scenario {_e(finding.scenario)} / {_e(finding.variant or '-')}"
              if finding.scenario else "")
    suppressed = (f" · suppressed by <code>{_e(finding.suppressed_by)}</code>"
                  if finding.status == Status.SUPPRESSED and finding.suppressed_by else "")
    parts = [f"<section class=\"finding\" id=\"finding-{index}\">",
             "<div class=\"head\">"
             f"{_badge(report.kind, 'kind')} {_badge(label, label)} "
             f"<span class=\"where\">{where}</span></div>",
             f"<div class=\"meta\">{_e(report.headline)}{suppressed} · seen "
             f"{finding.count}×{_runs_seen(finding)}{origin}{_caveats(finding)} · "
             f"fingerprint <code>{_e(report.fingerprint)}</code> · from "
             f"<code>{_e(report.source)}</code></div>"]
    for stack in report.stacks:
        parts.append(_stack(stack, context))
    if report.summary:
        parts.append(f"<div class=\"meta mono\">SUMMARY: {_e(report.summary)}</div>")
    parts.append("</section>")
    return "\n".join(parts)


def _stack(stack: Stack, context: ReportContext) -> str:
    """The stack's non-runtime frames, short names (the full signature on hover); source
    lines for the frames inside the repository (the first few), or for the first frame
    when none is inside it."""
    frames = app_frames(stack)[:MAX_FRAMES_SHOWN]
    with_source = [f for f in frames if context.relative(f.file) is not None]
    with_source = with_source[:MAX_SNIPPETS] or frames[:1]
    parts = [f"<div class=\"stack\"><div class=\"stack-title\">{_e(stack.title)}</div>"]
    for number, frame in enumerate(frames):
        location = context.location(frame) if frame.file else "?"
        column = f":{frame.column}" if frame.file and frame.column is not None else ""
        parts.append(f"<div class=\"frame\">#{number} <span class=\"fn mono\" "
                     f"title=\"{_e(frame.function)}\">{_e(short_function(frame))}</span> "
                     f"<span class=\"meta mono\">{_e(location + column)}</span></div>")
        if any(frame is f for f in with_source):
            snippet = _snippet(context, frame.file, frame.line)
            if snippet:
                parts.append(snippet)
    hidden = len(stack.frames) - len(frames)
    if hidden > 0:
        parts.append(f"<div class=\"hidden-frames\">{hidden} runtime or deeper "
                     f"frame{'s' if hidden != 1 else ''} not shown</div>")
    parts.append("</div>")
    return "\n".join(parts)


def _snippet(context: ReportContext, file: str | None, line: int | None) -> str:
    if not file or line is None:
        return ""
    lines = context.source_lines(file)
    if not lines or not 1 <= line <= len(lines):
        return ""
    first = max(1, line - CONTEXT_LINES)
    last = min(len(lines), line + CONTEXT_LINES)
    rows = []
    for number in range(first, last + 1):
        css = "l hit" if number == line else "l"
        rows.append(f"<span class=\"{css}\"><span class=\"n\">{number}</span>"
                    f"<span class=\"t\">{_e(lines[number - 1])}</span></span>")
    return "<pre class=\"src\">" + "".join(rows) + "</pre>"


# --- Suppressions --------------------------------------------------------------------------

def _suppressions(results: Results) -> list[str]:
    check = results.suppressions
    assert check is not None
    rows = [f"<h2>Suppressions <span class=\"meta mono\">{_e(check.file)}</span></h2>",
            "<table>", "<tr><th>suppression</th><th>line</th><th>hits</th></tr>"]
    for suppression in check.suppressions:
        hits = check.counts.get(suppression.text, 0)
        cell = str(hits) if hits else _badge("stale", "suppressed")
        rows.append(f"<tr><td class=\"mono\">{_e(suppression.text)}</td>"
                    f"<td>{suppression.line}</td><td>{cell}</td></tr>")
    for text, hits in sorted(check.other.items()):
        rows.append(f"<tr><td class=\"mono\">{_e(text)}</td><td>not in the file</td>"
                    f"<td>{hits}</td></tr>")
    rows.append("</table>")
    return rows


# --- Bad and fixed side by side ------------------------------------------------------------

def _caveats(finding: Finding) -> str:
    out = f" · in {_e(', '.join(finding.tests))}" if finding.tests else ""
    if finding.frames_unreliable:
        out += f" · <b>frames unreliable</b> ({_e(finding.frames_unreliable)})"
    return out


def _runs_seen(finding: Finding) -> str:
    return f" in {finding.runs_seen}/{finding.runs} runs" if finding.runs > 1 else ""


def _pairs(results: Results, context: ReportContext) -> list[str]:
    root = context.scenario_root
    if root is None:
        return []
    out = []
    for scenario in results.scenarios or []:
        out += _pair(scenario, root)
    if out:
        out.insert(0, "<h2>Bad and fixed, side by side</h2>")
    return out


def _pair(scenario: ScenarioResult, root: Path) -> list[str]:
    bad_dir = root / "scenarios" / scenario.name
    fixed_dir = root / "fixes" / scenario.name
    if not bad_dir.is_dir():
        return []
    names = sorted(p.name for p in bad_dir.iterdir()
                   if p.is_file() and p.suffix in SOURCE_SUFFIXES)
    out = [f"<h3 id=\"scenario-{_e(scenario.name)}\">{_e(scenario.name)}</h3>"]
    for name in names:
        bad = _read(bad_dir / name)
        fixed = _read(fixed_dir / name)
        out.append("<div class=\"pair\">"
                   f"<div><div class=\"stack-title mono\">scenarios/{_e(scenario.name)}/"
                   f"{_e(name)}</div>{_listing(bad)}</div>"
                   f"<div><div class=\"stack-title mono\">fixes/{_e(scenario.name)}/"
                   f"{_e(name)}</div>{_listing(fixed)}</div></div>")
    return out


def _read(path: Path) -> list[str] | None:
    try:
        return path.read_bytes().decode("utf-8", "replace").splitlines()
    except OSError:
        return None


def _listing(lines: list[str] | None) -> str:
    if lines is None:
        return "<p class=\"meta\">missing</p>"
    rows = []
    for number, text in enumerate(lines, start=1):
        css = "l"
        if RACE_MARK in text:
            css = "l race"
        elif FIX_MARK in text:
            css = "l fix"
        rows.append(f"<span class=\"{css}\"><span class=\"n\">{number}</span>"
                    f"<span class=\"t\">{_e(text)}</span></span>")
    return "<pre class=\"src\">" + "".join(rows) + "</pre>"


# --- Helpers -------------------------------------------------------------------------------

def _badge(text: str, css: str) -> str:
    return f"<span class=\"badge {_e(css)}\">{_e(text)}</span>"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)
