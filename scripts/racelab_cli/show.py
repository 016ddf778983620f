"""`racelab show NAME`: one pair on one terminal screen, for the people who study it.

    the reason (the README's Reason paragraph), the diff of the two variants (the lesson),
    and the findings of the last run of that pair: kind, status, count, top frame.

The findings come from OUT/results.json when it holds the pair; otherwise the caller runs
the pair first (cli.cmd_show).
"""

from __future__ import annotations

import difflib
import json
import textwrap
from pathlib import Path

from . import frames
from .model import RESULTS_SCHEMA, Finding

SOURCE_SUFFIXES = (".cc", ".h")
WIDTH = 100


def reason(root: Path, name: str) -> str:
    """The README's "**Reason.**" paragraph, wrapped to the terminal."""
    readme = root / "scenarios" / name / "README.md"
    try:
        text = readme.read_text(encoding="utf-8")
    except OSError:
        return f"(no {readme})"
    paragraphs = text.split("\n\n")
    for paragraph in paragraphs:
        if paragraph.lstrip().startswith("**Reason.**"):
            body = " ".join(paragraph.replace("**Reason.**", "").split())
            return textwrap.fill(body, WIDTH, initial_indent="Reason: ",
                                 subsequent_indent="  ")
    return "(the README has no Reason paragraph)"


def pair_diff(root: Path, name: str) -> list[str]:
    """`diff -u` of every source file of the pair, one line of context."""
    bad_dir, fixed_dir = root / "scenarios" / name, root / "fixes" / name
    lines: list[str] = []
    for bad in sorted(p for p in bad_dir.iterdir() if p.suffix in SOURCE_SUFFIXES):
        fixed = fixed_dir / bad.name
        old = bad.read_text(encoding="utf-8").splitlines()
        new = fixed.read_text(encoding="utf-8").splitlines() if fixed.is_file() else []
        lines += difflib.unified_diff(old, new, f"scenarios/{name}/{bad.name}",
                                      f"fixes/{name}/{bad.name}", n=1, lineterm="")
    return lines


def last_findings(results_path: Path, name: str) -> list[Finding] | None:
    """The pair's findings in a results.json, or None when it does not hold the pair."""
    try:
        data = json.loads(results_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("schema") != RESULTS_SCHEMA:
        return None
    if not any(s.get("name") == name for s in data.get("scenarios") or []
               if isinstance(s, dict)):
        return None
    return [Finding.from_json(f) for f in data.get("findings") or []
            if isinstance(f, dict) and f.get("scenario") == name]


def render(root: Path, name: str, title: str, findings: list[Finding],
           results_path: Path) -> str:
    out = [f"{name}: {title}", "", reason(root, name), ""]
    out += pair_diff(root, name)
    out += ["", f"Findings of the last run ({results_path}):"]
    if not findings:
        out.append("  none")
    for finding in findings:
        top = finding.report.top_frame
        where = (f"{frames.short_function(top)} {_relative(top.file, root)}:{top.line}"
                 if top else finding.report.summary or "no frame")
        out.append(f"  {finding.variant}: {finding.report.kind} ({finding.label}) "
                   f"x{finding.count} at {where}")
    return "\n".join(out) + "\n"


def _relative(file: str | None, root: Path) -> str:
    if not file:
        return "?"
    try:
        return str(Path(file).resolve().relative_to(root.resolve()))
    except ValueError:
        return file
