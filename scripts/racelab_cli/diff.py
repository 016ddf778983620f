"""`racelab diff BEFORE AFTER`: which findings were fixed, remain, or were introduced.

Inputs are results.json (`racelab.results/1`) or `racelab parse --json` output
(`racelab.reports/1`), in any combination. Findings match by fingerprint (stable across
rebuilds, addresses, pids and line shifts). A fingerprint seen in several variants or
processes counts once, with its occurrences added up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import textfile
from .model import REPORTS_SCHEMA, RESULTS_SCHEMA

DIFF_SCHEMA = "racelab.diff/1"


class InputError(Exception):
    """An input file that is not results or reports JSON; str() names file and problem."""


@dataclass
class DiffResult:
    fixed: list[dict[str, Any]] = field(default_factory=list)
    remaining: list[dict[str, Any]] = field(default_factory=list)
    introduced: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"schema": DIFF_SCHEMA, "fixed": self.fixed, "remaining": self.remaining,
                "introduced": self.introduced}


# --- Reading -------------------------------------------------------------------------------

def load_findings(path: Path) -> list[dict[str, Any]]:
    """The findings of a results or reports file, one per fingerprint (first occurrence's
    fields, "count" = occurrences). Raises InputError."""
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
    merged: dict[str, dict[str, Any]] = {}
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
            merged[fingerprint]["count"] += count
        else:
            merged[fingerprint] = {**item, "count": count}
    return list(merged.values())


# --- Comparing -----------------------------------------------------------------------------

def diff(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> DiffResult:
    old = {f["fingerprint"]: f for f in before}
    new = {f["fingerprint"]: f for f in after}
    result = DiffResult(
        fixed=[_item(old[fp], old[fp]["count"], None) for fp in old if fp not in new],
        remaining=[_item(new[fp], old[fp]["count"], new[fp]["count"])
                   for fp in new if fp in old],
        introduced=[_item(new[fp], None, new[fp]["count"]) for fp in new if fp not in old])
    for items in (result.fixed, result.remaining, result.introduced):
        items.sort(key=lambda f: (f["kind"], f["fingerprint"]))
    return result


def _item(finding: dict[str, Any], before: int | None, after: int | None) -> dict[str, Any]:
    """A finding of the diff: its fields (from AFTER when it is there), with the counts
    on each side."""
    out = {k: v for k, v in finding.items() if k != "count"}
    out["count_before"] = before
    out["count_after"] = after
    return out


# --- Showing -------------------------------------------------------------------------------

def text_listing(result: DiffResult, frame_text) -> str:
    """Three sections, one line per finding: kind, top frame, fingerprint."""
    lines: list[str] = []
    for title, items in (("fixed", result.fixed), ("remaining", result.remaining),
                         ("introduced", result.introduced)):
        lines.append(f"{title} ({len(items)}):")
        for item in items:
            lines.append(f"  {item['kind']} at {frame_text(item.get('top_frame'))} "
                         f"[{item['fingerprint']}]")
    lines.append(f"racelab: diff: {len(result.fixed)} fixed, {len(result.remaining)} "
                 f"remaining, {len(result.introduced)} introduced")
    return "\n".join(lines) + "\n"
