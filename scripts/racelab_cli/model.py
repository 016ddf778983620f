"""The data racelab passes between its parts: parsed reports, manifests, run outcomes.

Plain dataclasses; each one that appears in a JSON contract has a `to_json()` that returns
exactly the fields DESIGN.md lists, so the writers never reach into attributes by hand.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

REPORTS_SCHEMA = "racelab.reports/1"
RESULTS_SCHEMA = "racelab.results/1"

VARIANTS = ("bad", "fixed")


# --- Parsed sanitizer output ---------------------------------------------------------------

@dataclass(frozen=True)
class Frame:
    """One line of a stack: "#0 f() /src/x.cc:4:11 (server+0x1a)". `offset` is set for an
    unsymbolized frame ("<null> <null> (server+0x1a)") only, where it names the frame in
    fingerprints; it is neither in the JSON nor in equality."""

    function: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    module: str | None = None
    offset: int | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"function": self.function, "file": self.file, "line": self.line,
                "column": self.column, "module": self.module}


@dataclass
class Stack:
    """A titled stack inside a report ("Write of size 4 at 0x... by thread T2")."""

    title: str
    frames: list[Frame] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "frames": [f.to_json() for f in self.frames]}


@dataclass
class Report:
    """One report of a sanitizer (or of the harness), as `racelab parse --json` shows it."""

    kind: str
    headline: str
    tool: str
    summary: str | None
    stacks: list[Stack]
    top_frame: Frame | None
    fingerprint: str
    source: str
    line: int = 0            # 1-based line of the headline in `source`; not in the JSON
    truncated: bool = False  # the closing line never came; flagged in errors, not the JSON
    pid: int | None = None   # the reporting process, when the log says; not in the JSON

    def functions(self) -> list[str]:
        """Every frame's function, in order, over all stacks."""
        return [f.function for s in self.stacks for f in s.frames]

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "headline": self.headline,
            "tool": self.tool,
            "summary": self.summary,
            "stacks": [s.to_json() for s in self.stacks],
            "top_frame": self.top_frame.to_json() if self.top_frame else None,
            "fingerprint": self.fingerprint,
            "source": self.source,
        }


@dataclass(frozen=True)
class ParseError:
    """Something in an input that the parser could not read as a whole report."""

    source: str
    line: int | None
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "line": self.line, "message": self.message}

    def one_line(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.message}"


@dataclass
class ParseResult:
    reports: list[Report] = field(default_factory=list)
    errors: list[ParseError] = field(default_factory=list)

    def extend(self, other: "ParseResult") -> None:
        self.reports.extend(other.reports)
        self.errors.extend(other.errors)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": REPORTS_SCHEMA,
            "reports": [r.to_json() for r in self.reports],
            "errors": [e.to_json() for e in self.errors],
        }


# --- Scenario manifests --------------------------------------------------------------------

@dataclass(frozen=True)
class LoadProfile:
    paths: tuple[str, ...]
    connections: int
    requests: int
    disconnects: int = 0
    threads: int = 4


@dataclass(frozen=True)
class Expectation:
    """A finding the bad variant must produce: its kind, and a regex on a frame's function."""

    kind: str
    function: str

    def describe(self) -> str:
        return f"{self.kind} with a frame matching /{self.function}/"


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    bug: str
    guide_rule: str
    fix: str
    load: LoadProfile
    bad_expect: tuple[Expectation, ...]
    fixed_clean: bool
    min_ok: int
    max_peak_threads: int | None
    manifest: Path


# --- Running scenarios ---------------------------------------------------------------------

@dataclass
class LoadResult:
    """What racelab-load printed (one JSON object)."""

    requests: int
    status: dict[str, int]
    transport_errors: int
    disconnects: int
    latency_ms: dict[str, float]
    peak_threads: int | None
    elapsed_ms: float

    def ok_count(self) -> int:
        """Responses with a 2xx status."""
        return sum(n for code, n in self.status.items() if code.startswith("2"))


@dataclass
class RunOutcome:
    """One start-load-stop cycle of one variant."""

    index: int                      # 1-based run number (for --repeat)
    log_dir: Path
    exit_status: int | None = None  # None when killed by a signal or never reaped
    signal: str | None = None       # "SIGSEGV" when killed by a signal
    load: LoadResult | None = None
    reports: list[Report] = field(default_factory=list)
    log_files: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    matched: list["MatchedSuppression"] = field(default_factory=list)  # not in the JSON

    def to_json(self) -> dict[str, Any]:
        load = self.load
        return {
            "run": self.index,
            "exit_status": self.exit_status,
            "signal": self.signal,
            "requests": load.requests if load else None,
            "status": dict(load.status) if load else {},
            "ok": load.ok_count() if load else 0,
            "transport_errors": load.transport_errors if load else None,
            "disconnects": load.disconnects if load else None,
            "latency_ms": dict(load.latency_ms) if load else None,
            "peak_threads": load.peak_threads if load else None,
            "elapsed_s": round(self.elapsed_s, 3),
            "log_files": list(self.log_files),
            "findings": len(self.reports),
            "errors": list(self.errors),
        }


@dataclass
class Finding:
    """A distinct report (by fingerprint) of one variant (or of one gate), with how often
    it occurred. `status` is "new", "known" (excused by a baseline entry) or "suppressed"
    (matched by a suppression); `suppressed_by` ("race:pattern") is not in the JSON."""

    report: Report
    count: int
    scenario: str | None
    variant: str | None
    status: str = "new"
    suppressed_by: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = self.report.to_json()
        out.update(count=self.count, status=self.status, scenario=self.scenario,
                   variant=self.variant)
        return out


def merge_reports(reports: Iterable[Report], scenario: str | None = None,
                  variant: str | None = None) -> list[Finding]:
    """One finding per fingerprint, count = occurrences, in order of first appearance."""
    by_print: dict[str, Finding] = {}
    for report in reports:
        found = by_print.get(report.fingerprint)
        if found is None:
            by_print[report.fingerprint] = Finding(report, 1, scenario, variant)
        else:
            found.count += 1
    return list(by_print.values())


@dataclass
class VariantOutcome:
    """All runs of one variant of one scenario, and the union of their findings."""

    variant: str
    runs: list[RunOutcome] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # why judge() failed it; not in JSON

    def errors(self) -> list[str]:
        many = len(self.runs) > 1
        return [f"run {r.index}: {e}" if many else e for r in self.runs for e in r.errors]

    def to_json(self) -> dict[str, Any]:
        """The last run's numbers at top level (the only run unless --repeat), all runs
        under "runs", and the number of distinct findings."""
        last = self.runs[-1].to_json() if self.runs else RunOutcome(0, Path()).to_json()
        last.pop("run")
        last.pop("findings")
        last.pop("errors")
        return {**last,
                "findings": len(self.findings),
                "occurrences": sum(f.count for f in self.findings),
                "errors": self.errors(),
                "runs": [r.to_json() for r in self.runs]}


@dataclass
class ScenarioResult:
    name: str
    verdict: str = "pass"            # pass | fail | error
    reasons: list[str] = field(default_factory=list)
    bad: VariantOutcome | None = None
    fixed: VariantOutcome | None = None

    def variants(self) -> list[VariantOutcome]:
        return [v for v in (self.bad, self.fixed) if v is not None]

    def findings(self) -> list[Finding]:
        return [f for v in self.variants() for f in v.findings]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "bad": self.bad.to_json() if self.bad else None,
            "fixed": self.fixed.to_json() if self.fixed else None,
        }


@dataclass
class RunResults:
    """What `racelab run` found; `baseline` and `suppressions` only when they were given
    (and only then in the JSON)."""

    scenarios: list[ScenarioResult]
    baseline: "BaselineCheck | None" = None
    suppressions: "SuppressionCheck | None" = None

    @property
    def verdict(self) -> str:
        verdicts = {s.verdict for s in self.scenarios}
        if not self.scenarios or "error" in verdicts:
            return "error"
        return "fail" if "fail" in verdicts else "pass"

    def findings(self) -> list[Finding]:
        return [f for s in self.scenarios for f in s.findings()]

    def warnings(self) -> list[str]:
        """Baseline and suppression warnings (they never change the verdict by themselves)."""
        return _checks_warnings(self.baseline, self.suppressions)

    def to_json(self) -> dict[str, Any]:
        out = {
            "schema": RESULTS_SCHEMA,
            "verdict": self.verdict,
            "findings": [f.to_json() for f in self.findings()],
            "scenarios": [s.to_json() for s in self.scenarios],
        }
        _add_checks(out, self.baseline, self.suppressions)
        return out


# --- Baseline and suppressions -------------------------------------------------------------

@dataclass
class BaselineEntry:
    """One accepted finding in a committed baseline (`racelab.baseline/1`)."""

    fingerprint: str
    kind: str
    top_frame: str | None  # for people reading the file: "HandleHit scenarios/x.cc:18"
    reason: str            # why it is accepted; required
    expires: date | None = None

    def expired(self, today: date) -> bool:
        """An entry is good through its expiry day."""
        return self.expires is not None and today > self.expires

    def describe(self) -> str:
        return f"{self.kind} {self.fingerprint}" + (f" at {self.top_frame}"
                                                     if self.top_frame else "")

    def to_json(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "kind": self.kind,
                "top_frame": self.top_frame, "reason": self.reason,
                "expires": self.expires.isoformat() if self.expires else None}


@dataclass
class Baseline:
    path: Path
    entries: list[BaselineEntry] = field(default_factory=list)
    comment: str | None = None  # optional free text for people ("comment" in the file)

    def get(self, fingerprint: str) -> BaselineEntry | None:
        for entry in self.entries:
            if entry.fingerprint == fingerprint:
                return entry
        return None


@dataclass
class BaselineCheck:
    """How findings met a baseline: which entries excused one (known), which expired (their
    findings count as new) and which matched nothing (stale)."""

    file: str
    known: list[BaselineEntry] = field(default_factory=list)
    expired: list[BaselineEntry] = field(default_factory=list)
    stale: list[BaselineEntry] = field(default_factory=list)
    expired_seen: set[str] = field(default_factory=set)  # expired entries whose finding came

    def warnings(self) -> list[str]:
        out = []
        for entry in self.expired:
            if entry.fingerprint in self.expired_seen:
                out.append(f"baseline {self.file}: entry {entry.describe()} expired on "
                           f"{entry.expires.isoformat()}: it no longer excuses its finding, "
                           "which counts as new")
            else:
                out.append(f"baseline {self.file}: entry {entry.describe()} expired on "
                           f"{entry.expires.isoformat()} (and its finding was not seen)")
        for entry in self.stale:
            if entry in self.expired:
                continue
            out.append(f"baseline {self.file}: entry {entry.describe()} is stale: its "
                       "finding was not seen (remove it with racelab baseline update --prune)")
        return out

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file,
                "known": [e.fingerprint for e in self.known],
                "expired": [e.fingerprint for e in self.expired],
                "stale": [e.fingerprint for e in self.stale]}


@dataclass(frozen=True)
class Suppression:
    """One line of a TSan suppressions file: "race:HandleHit" (line is 1-based)."""

    type: str
    pattern: str
    line: int

    @property
    def text(self) -> str:
        return f"{self.type}:{self.pattern}"


@dataclass
class SuppressionFile:
    """A validated TSan suppressions file."""

    path: Path
    suppressions: list[Suppression] = field(default_factory=list)


@dataclass(frozen=True)
class MatchedSuppression:
    """A line of TSan's "Matched N suppressions" block: "<count> <type>:<pattern>"."""

    type: str
    pattern: str
    count: int
    source: str  # the log file it came from

    @property
    def text(self) -> str:
        return f"{self.type}:{self.pattern}"


@dataclass
class SuppressionCheck:
    """Which suppressions of a file matched (with counts: TSan's own, plus reports racelab
    tied to them) and which matched nothing (stale). `other` holds matches of patterns
    that are not in the file (the runtime's built-in suppressions, or another file)."""

    file: str
    suppressions: list[Suppression]
    counts: dict[str, int] = field(default_factory=dict)  # "type:pattern" -> hits
    other: dict[str, int] = field(default_factory=dict)

    def matched(self) -> list[tuple[Suppression, int]]:
        return [(s, self.counts[s.text]) for s in self.suppressions
                if self.counts.get(s.text, 0) > 0]

    def stale(self) -> list[Suppression]:
        return [s for s in self.suppressions if self.counts.get(s.text, 0) == 0]

    def warnings(self) -> list[str]:
        return [f"suppressions {self.file}:{s.line}: {s.text} matched nothing (stale)"
                for s in self.stale()]

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file,
                "matched": [{"type": s.type, "pattern": s.pattern, "line": s.line,
                             "count": n} for s, n in self.matched()],
                "stale": [{"type": s.type, "pattern": s.pattern, "line": s.line}
                          for s in self.stale()],
                "other": [{"suppression": text, "count": n}
                          for text, n in sorted(self.other.items())]}


def _checks_warnings(baseline: BaselineCheck | None,
                     suppressions: SuppressionCheck | None) -> list[str]:
    return ((baseline.warnings() if baseline else [])
            + (suppressions.warnings() if suppressions else []))


def _add_checks(out: dict[str, Any], baseline: BaselineCheck | None,
                suppressions: SuppressionCheck | None) -> None:
    if baseline is not None:
        out["baseline"] = baseline.to_json()
    if suppressions is not None:
        out["suppressions"] = suppressions.to_json()


# --- Gating another project's run ----------------------------------------------------------

@dataclass
class GatedLog:
    """One log the gate read: a TSan log_path file (one per process) or a text log."""

    source: str                      # as shown in reports (relative to OUT when inside it)
    reports: list[Report] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    matched: list[MatchedSuppression] = field(default_factory=list)


@dataclass
class GateResults:
    """What `racelab gate` decided. `command` is None for `--logs DIR`."""

    command: list[str] | None
    logs_dir: str | None = None
    exit_status: int | None = None
    signal: str | None = None
    elapsed_s: float = 0.0
    logs: list[GatedLog] = field(default_factory=list)
    findings_: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # anything that makes it undecidable
    notes: list[str] = field(default_factory=list)   # what a reader should know
    baseline: BaselineCheck | None = None
    suppressions: SuppressionCheck | None = None

    @property
    def verdict(self) -> str:
        if self.errors:
            return "error"
        return "fail" if any(f.status == "new" for f in self.findings_) else "pass"

    def findings(self) -> list[Finding]:
        return list(self.findings_)

    def warnings(self) -> list[str]:
        return self.notes + _checks_warnings(self.baseline, self.suppressions)

    def describe(self) -> str:
        """"ctest --test-dir build" or "logs in DIR"."""
        if self.command is not None:
            return shlex.join(self.command)
        return f"logs in {self.logs_dir}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema": RESULTS_SCHEMA,
            "verdict": self.verdict,
            "findings": [f.to_json() for f in self.findings_],
            "gate": {"command": list(self.command) if self.command is not None else None,
                     "logs_dir": self.logs_dir,
                     "exit_status": self.exit_status,
                     "signal": self.signal,
                     "elapsed_s": round(self.elapsed_s, 3),
                     "log_files": [log.source for log in self.logs],
                     "errors": list(self.errors),
                     "notes": list(self.notes)},
        }
        _add_checks(out, self.baseline, self.suppressions)
        return out


EXIT_PASS = 0
EXIT_REFUSE = 1
EXIT_UNDECIDED = 2

EXIT_FOR_VERDICT = {"pass": EXIT_PASS, "fail": EXIT_REFUSE, "error": EXIT_UNDECIDED}
