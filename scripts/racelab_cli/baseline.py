"""The baseline: a committed JSON of known findings that the gate lets pass.

    {"schema": "racelab.baseline/1",
     "comment": "optional text for people",
     "entries": [{"fingerprint": "5e0c...", "kind": "data-race",
                  "top_frame": "HandleHit scenarios/counter/counter.cc:18",
                  "reason": "why it is accepted (required)",
                  "expires": "2025-06-30" | null}]}

A finding whose fingerprint has an entry is "known" (it passes); one without is "new" (it
fails the gate). An entry is good through its expiry day; after that it no longer excuses
its finding, which counts as new again, and a warning says so. An entry whose finding was
not seen is stale: a warning, and `racelab baseline update --prune` removes it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from . import patterns as P
from . import textfile
from .model import Baseline, BaselineCheck, BaselineEntry, Finding, Frame, Status

BASELINE_SCHEMA = "racelab.baseline/1"
_TOP_KEYS = {"schema", "comment", "entries"}
_ENTRY_KEYS = {"fingerprint", "kind", "top_frame", "reason", "expires"}


class BaselineError(Exception):
    """A baseline file that cannot be used; str() names the file and the problem."""


# --- Reading and writing -------------------------------------------------------------------

def load(path: Path) -> Baseline:
    """Read and validate a baseline. Raises BaselineError."""
    data = textfile.read_json(path, BaselineError, "baseline file")
    return from_json(data, Path(path))


def from_json(data: Any, path: Path) -> Baseline:
    def fail(where: str, problem: str) -> BaselineError:
        return BaselineError(f"{path}: {where}: {problem}" if where else f"{path}: {problem}")

    if not isinstance(data, dict):
        raise fail("", f"must be a JSON object with schema {BASELINE_SCHEMA!r}")
    if data.get("schema") != BASELINE_SCHEMA:
        raise fail("schema", f"must be {BASELINE_SCHEMA!r}, got {data.get('schema')!r}")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise fail(unknown[0], f"unknown key (expected {', '.join(sorted(_TOP_KEYS))})")
    comment = data.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise fail("comment", "must be a string")
    entries = data.get("entries")
    if not isinstance(entries, list):
        raise fail("entries", "missing" if entries is None else "must be a list")
    baseline = Baseline(path, [], comment)
    seen: dict[str, int] = {}
    for index, item in enumerate(entries):
        where = f"entries[{index}]"
        if not isinstance(item, dict):
            raise fail(where, "must be an object")
        unknown = sorted(set(item) - _ENTRY_KEYS)
        if unknown:
            raise fail(f"{where}.{unknown[0]}",
                       f"unknown key (expected {', '.join(sorted(_ENTRY_KEYS))})")
        fingerprint = item.get("fingerprint")
        if not isinstance(fingerprint, str) or not fingerprint.strip():
            raise fail(f"{where}.fingerprint", "must be a non-empty string")
        if fingerprint in seen:
            raise fail(f"{where}.fingerprint",
                       f"{fingerprint} is already listed at entries[{seen[fingerprint]}]")
        seen[fingerprint] = index
        kind = item.get("kind")
        if not isinstance(kind, str) or not P.KIND_SLUG.match(kind):
            raise fail(f"{where}.kind", f"must be a kind slug such as 'data-race', "
                                        f"got {kind!r}")
        top = item.get("top_frame")
        if top is not None and not isinstance(top, str):
            raise fail(f"{where}.top_frame", "must be a string or null")
        reason = item.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise fail(f"{where}.reason",
                       "required: a non-empty string that says why the finding is accepted")
        expires = item.get("expires")
        if expires is not None:
            expires = _date(expires)
            if expires is None:
                raise fail(f"{where}.expires", f"must be a date YYYY-MM-DD or null, got "
                                               f"{item.get('expires')!r}")
        baseline.entries.append(BaselineEntry(fingerprint, kind, top, reason.strip(),
                                              expires))
    return baseline


def to_json(baseline: Baseline) -> dict[str, Any]:
    out: dict[str, Any] = {"schema": BASELINE_SCHEMA,
                           "entries": [e.to_json() for e in baseline.entries]}
    if baseline.comment is not None:
        out["comment"] = baseline.comment
    return out


def save(baseline: Baseline) -> None:
    """Write the baseline (sorted keys, entries in their order) atomically."""
    path = Path(baseline.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(to_json(baseline), indent=2, sort_keys=True) + "\n",
                         encoding="utf-8")
    temporary.replace(path)


def parse_date(text: str) -> date | None:
    """A YYYY-MM-DD date, or None."""
    return _date(text)


def _date(value: Any) -> date | None:
    if not isinstance(value, str) or len(value) != 10:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


# --- Judging findings ----------------------------------------------------------------------

def apply(baseline: Baseline, findings: Sequence[Finding], today: date) -> BaselineCheck:
    """Set each finding's status ("known" when an unexpired entry excuses it, else "new";
    suppressed findings stay suppressed) and say which entries expired or went stale."""
    check = BaselineCheck(str(baseline.path))
    seen = {f.report.fingerprint for f in findings}
    for finding in findings:
        if finding.status == Status.SUPPRESSED:
            continue
        entry = baseline.get(finding.report.fingerprint)
        excused = entry is not None and not entry.expired(today)
        finding.status = Status.KNOWN if excused else Status.NEW
    for entry in baseline.entries:
        if entry.expired(today):
            check.expired.append(entry)
            if entry.fingerprint in seen:
                check.expired_seen.add(entry.fingerprint)
        elif entry.fingerprint in seen:
            check.known.append(entry)
        if entry.fingerprint not in seen:
            check.stale.append(entry)
    return check


# --- racelab baseline update ---------------------------------------------------------------

class UpdateResult:
    """What `update` did, for the command to print."""

    def __init__(self) -> None:
        self.added: list[BaselineEntry] = []
        self.kept: list[BaselineEntry] = []
        self.stale: list[BaselineEntry] = []
        self.removed: list[BaselineEntry] = []
        self.expired: list[BaselineEntry] = []


def update(baseline: Baseline, findings: Iterable[Finding], *, reason: str | None,
           expires: date | None, prune: bool, today: date,
           describe_frame: Callable[[Frame | None], str | None]) -> UpdateResult:
    """Add an entry for each finding (read back from a results.json) the baseline lacks;
    keep every existing entry as it is (reason, expiry); list entries whose finding is
    absent as stale and remove them only when `prune`. Suppressed findings are skipped.
    Raises BaselineError when entries must be added and `reason` is empty."""
    result = UpdateResult()
    wanted: dict[str, Finding] = {}
    for finding in findings:
        if finding.status == Status.SUPPRESSED:
            continue
        wanted.setdefault(finding.report.fingerprint, finding)
    missing = [f for fp, f in wanted.items() if baseline.get(fp) is None]
    if missing and not (reason and reason.strip()):
        raise BaselineError(
            f"{baseline.path}: {len(missing)} new finding{'s' if len(missing) != 1 else ''} "
            "need a reason: pass --reason TEXT (every baseline entry says why it is accepted)")
    kept: list[BaselineEntry] = []
    for entry in baseline.entries:
        if entry.fingerprint in wanted:
            kept.append(entry)
            result.kept.append(entry)
            if entry.expired(today):
                result.expired.append(entry)
        elif prune:
            result.removed.append(entry)
        else:
            kept.append(entry)
            result.stale.append(entry)
    for finding in missing:
        entry = BaselineEntry(fingerprint=finding.report.fingerprint, kind=finding.report.kind,
                              top_frame=describe_frame(finding.report.top_frame),
                              reason=(reason or "").strip(), expires=expires)
        kept.append(entry)
        result.added.append(entry)
    baseline.entries = kept
    return result
