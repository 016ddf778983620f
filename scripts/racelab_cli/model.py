"""The data racelab passes between its parts: parsed reports, manifests, run outcomes.

Plain dataclasses; each one that appears in a JSON contract has a `to_json()` that returns
exactly the fields DESIGN.md lists, so the writers never reach into attributes by hand.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPORTS_SCHEMA = "racelab.reports/1"
RESULTS_SCHEMA = "racelab.results/1"

VARIANTS = ("bad", "fixed")


# --- Parsed sanitizer output ---------------------------------------------------------------

@dataclass(frozen=True)
class Frame:
    """One line of a stack: "#0 f() /src/x.cc:4:11 (server+0x1a)"."""

    function: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    module: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


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
    """A distinct report (by fingerprint) of one variant, with how often it occurred."""

    report: Report
    count: int
    scenario: str | None
    variant: str | None
    status: str = "new"

    def to_json(self) -> dict[str, Any]:
        out = self.report.to_json()
        out.update(count=self.count, status=self.status, scenario=self.scenario,
                   variant=self.variant)
        return out


@dataclass
class VariantOutcome:
    """All runs of one variant of one scenario, and the union of their findings."""

    variant: str
    runs: list[RunOutcome] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

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
    scenarios: list[ScenarioResult]

    @property
    def verdict(self) -> str:
        verdicts = {s.verdict for s in self.scenarios}
        if not self.scenarios or "error" in verdicts:
            return "error"
        return "fail" if "fail" in verdicts else "pass"

    def findings(self) -> list[Finding]:
        return [f for s in self.scenarios for f in s.findings()]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": RESULTS_SCHEMA,
            "verdict": self.verdict,
            "findings": [f.to_json() for f in self.findings()],
            "scenarios": [s.to_json() for s in self.scenarios],
        }


EXIT_PASS = 0
EXIT_REFUSE = 1
EXIT_UNDECIDED = 2

EXIT_FOR_VERDICT = {"pass": EXIT_PASS, "fail": EXIT_REFUSE, "error": EXIT_UNDECIDED}
