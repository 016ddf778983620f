"""`racelab diff BEFORE AFTER`: which findings were fixed, remain, or were introduced.

Inputs are results.json (`racelab.results/1`) or `racelab parse --json` output
(`racelab.reports/1`), in any combination. Findings match by fingerprint (stable across
rebuilds, addresses, pids and line shifts). A fingerprint seen in several variants or
processes counts once, with its occurrences added up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import textfile
from .model import REPORTS_SCHEMA, RESULTS_SCHEMA, Finding, Frame

DIFF_SCHEMA = "racelab.diff/1"


class InputError(Exception):
    """An input file that is not results or reports JSON; str() names file and problem."""


@dataclass(frozen=True)
class DiffItem:
    """A finding of the diff (from AFTER when it is there), with its count on each side."""

    finding: Finding
    count_before: int | None
    count_after: int | None

    def to_json(self) -> dict[str, Any]:
        out = self.finding.to_json()
        del out["count"]
        out.update(count_before=self.count_before, count_after=self.count_after)
        return out


@dataclass
class DiffResult:
    fixed: list[DiffItem] = field(default_factory=list)
    remaining: list[DiffItem] = field(default_factory=list)
    introduced: list[DiffItem] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"schema": DIFF_SCHEMA,
                "fixed": [i.to_json() for i in self.fixed],
                "remaining": [i.to_json() for i in self.remaining],
                "introduced": [i.to_json() for i in self.introduced]}


# --- Reading -------------------------------------------------------------------------------

def load_findings(path: Path) -> list[Finding]:
    """The findings of a results or reports file, one per fingerprint (first occurrence's
    fields, count = occurrences). Raises InputError."""
    data = textfile.read_json(path, InputError, "results file")
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a racelab JSON object")
    schema = data.get("schema")
    if schema == RESULTS_SCHEMA:
        key = "findings"
    elif schema == REPORTS_SCHEMA:
        key = "reports"
    else:
        raise InputError(f"{path}: schema {schema!r} is neither {RESULTS_SCHEMA!r} "
                         f"(results.json) nor {REPORTS_SCHEMA!r} (racelab parse --json)")
    items = data.get(key)
    if not isinstance(items, list):
        raise InputError(f"{path}: {key}: missing or not a list")
    merged: dict[str, Finding] = {}
    for index, item in enumerate(items):
        where = f"{path}: {key}[{index}]"
        if not isinstance(item, dict):
            raise InputError(f"{where}: not an object")
        fingerprint = item.get("fingerprint")
        if not isinstance(fingerprint, str) or not fingerprint:
            raise InputError(f"{where}: 'fingerprint' missing or not a string")
        if not isinstance(item.get("kind"), str) or not item["kind"]:
            raise InputError(f"{where}: 'kind' missing or not a string")
        top = item.get("top_frame")
        if top is not None and not (isinstance(top, dict)
                                    and isinstance(top.get("function"), str)):
            raise InputError(f"{where}: 'top_frame' must be null or a frame object")
        count = item.get("count", 1)
        if type(count) is not int or count < 1:
            raise InputError(f"{where}: 'count' must be a positive integer, got {count!r}")
        if fingerprint in merged:
            merged[fingerprint].count += count
        else:
            merged[fingerprint] = Finding.from_json({**item, "count": count})
    return list(merged.values())


# --- Comparing -----------------------------------------------------------------------------

def diff(before: list[Finding], after: list[Finding]) -> DiffResult:
    old = {f.report.fingerprint: f for f in before}
    new = {f.report.fingerprint: f for f in after}
    result = DiffResult(
        fixed=[DiffItem(old[fp], old[fp].count, None) for fp in old if fp not in new],
        remaining=[DiffItem(new[fp], old[fp].count, new[fp].count) for fp in new if fp in old],
        introduced=[DiffItem(new[fp], None, new[fp].count) for fp in new if fp not in old])
    for items in (result.fixed, result.remaining, result.introduced):
        items.sort(key=lambda i: (i.finding.report.kind, i.finding.report.fingerprint))
    return result


# --- Showing -------------------------------------------------------------------------------

def text_listing(result: DiffResult, frame_text: Callable[[Frame | None], str]) -> str:
    """Three sections, one line per finding: kind, top frame, fingerprint."""
    lines: list[str] = []
    for title, items in (("fixed", result.fixed), ("remaining", result.remaining),
                         ("introduced", result.introduced)):
        lines.append(f"{title} ({len(items)}):")
        for item in items:
            report = item.finding.report
            lines.append(f"  {report.kind} at {frame_text(report.top_frame)} "
                         f"[{report.fingerprint}]")
    lines.append(f"racelab: diff: {len(result.fixed)} fixed, {len(result.remaining)} "
                 f"remaining, {len(result.introduced)} introduced")
    return "\n".join(lines) + "\n"
