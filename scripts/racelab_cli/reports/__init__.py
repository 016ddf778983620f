"""Writers for racelab's output formats, one module per format, all fed the same
model.Results (of a `racelab run` or a `racelab gate`); they print what the model decided:

- results_json: results.json (`racelab.results/1`, docs/reference.md), keys sorted;
- summary_md:   summary.md, verdict first (a CI step summary or a PR comment);
- junit_xml:    junit.xml (testsuites/testsuite/testcase, as GitHub, GitLab, Jenkins read);
- sarif:        results.sarif (SARIF 2.1.0, for GitHub code scanning);
- html_page:    index.html (self-contained: stacks with their source lines, bad/fixed pairs).

`write_all` writes every one of them into OUT.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..model import ParseResult
from . import html_page, junit_xml, results_json, sarif, summary_md
from ..model import Results
from .common import ReportContext, counts_line, frame_text, verdict_line

__all__ = ["ReportContext", "counts_line", "dump_json", "frame_text", "parse_listing",
           "verdict_line", "write_all"]


def dump_json(data: Any) -> str:
    """racelab's JSON style: sorted keys, two-space indent, trailing newline."""
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def write_all(out: Path, results: Results, context: ReportContext) -> list[Path]:
    """results.json, summary.md, junit.xml, results.sarif and index.html in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    return [
        results_json.write(out, results),
        summary_md.write(out, results, context),
        junit_xml.write(out, results, context),
        sarif.write(out, results, context),
        html_page.write(out, results, context),
    ]


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
