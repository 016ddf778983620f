"""The one model racelab decides with: parsed reports, findings, problems, results.

Every verdict and status is an enum, and every decision is made here (or in judge.py for a
scenario's expectations): what is expected, what blocks, what makes a result "error". The
report writers only print what the model says; nothing branches on the text of a message.

Each dataclass that appears in a JSON contract has a `to_json()` returning exactly the
fields docs/reference.md lists (schemas in docs/schemas/), so no writer reaches into
attributes by hand.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

REPORTS_SCHEMA = "racelab.reports/1"
RESULTS_SCHEMA = "racelab.results/1"


class Verdict(StrEnum):
    """What racelab decided; ordered from best to worst."""

    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"

    @property
    def exit_code(self) -> int:
        """0 pass; 1 the gate refuses; 2 could not decide."""
        return _EXIT_CODES[self]

    @staticmethod
    def worst(verdicts: Iterable["Verdict"]) -> "Verdict":
        order = list(Verdict)
        return max(verdicts, key=order.index, default=Verdict.PASS)


_EXIT_CODES = {Verdict.PASS: 0, Verdict.FAIL: 1, Verdict.ERROR: 2}
EXIT_PASS, EXIT_REFUSE, EXIT_UNDECIDED = 0, 1, 2


class Status(StrEnum):
    """How a finding stands against the team's decisions."""

    NEW = "new"                # neither in the baseline nor suppressed: it blocks
    KNOWN = "known"            # an unexpired baseline entry excuses it
    SUPPRESSED = "suppressed"  # a suppression matched it; still listed, with the line


class Variant(StrEnum):
    BAD = "bad"
    FIXED = "fixed"


class ProblemKind(StrEnum):
    """Why something could not be judged. Every problem makes the verdict "error"."""

    # In a log.
    TRUNCATED_REPORT = "truncated-report"      # a report cut before its SUMMARY
    RUNAWAY_REPORT = "runaway-report"          # a report cut at the frame / stack cap
    LOST_REPORTS = "lost-reports"              # fewer reports than the process announced
    RUNTIME_FAILURE = "runtime-failure"        # the sanitizer runtime itself failed
    ASLR_INCOMPATIBLE = "aslr-incompatible"    # the runtime cannot map its shadow memory
    BINARY_INPUT = "binary-input"              # NUL bytes where text was expected
    UNREADABLE = "unreadable"                  # missing file, a directory, a read error
    NO_LOGS = "no-logs"                        # nothing to judge
    NOT_INSTRUMENTED = "not-instrumented"      # no process left the runtime's start mark
    # Of a process.
    CANNOT_START = "cannot-start"              # not found, not executable
    NO_LISTENING_LINE = "no-listening-line"    # a server that never said where it listens
    HANG = "hang"                              # outlived its deadline and was killed
    CRASH = "crash"                            # died of a signal or an unexpected status
    EARLY_EXIT = "early-exit"                  # a server that quit before it was stopped
    KILLED_WITHOUT_REPORT = "killed-without-report"
    TSAN_EXIT_WITHOUT_REPORT = "tsan-exit-without-report"  # exit 66 and no report found
    FAILED_WITHOUT_FINDING = "failed-without-finding"      # non-zero exit nothing explains
    LOAD_FAILED = "load-failed"                # the load driver failed or printed garbage
    INVARIANT_UNCHECKABLE = "invariant-uncheckable"  # the invariant could not be read


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

    @staticmethod
    def from_json(data: dict[str, Any]) -> "Frame":
        return Frame(function=data.get("function") or "?", file=data.get("file"),
                     line=data.get("line"), column=data.get("column"),
                     module=data.get("module"))


@dataclass
class Stack:
    """A titled stack inside a report ("Write of size 4 at 0x... by thread T2")."""

    title: str
    frames: list[Frame] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "frames": [f.to_json() for f in self.frames]}

    @staticmethod
    def from_json(data: dict[str, Any]) -> "Stack":
        return Stack(title=str(data.get("title", "")),
                     frames=[Frame.from_json(f) for f in data.get("frames") or []
                             if isinstance(f, dict)])


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
    truncated: bool = False  # cut before its SUMMARY; flagged in problems, not in the JSON
    pid: int | None = None   # the reporting process, when the log says; not in the JSON
    test: str | None = None  # the test whose process reported it, when known (a gated
    #                          ctest run; the running Go test in go test -json); not in JSON
    unreliable: str | None = None  # why its frames cannot be trusted (collect.py); or None

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

    @staticmethod
    def from_json(data: dict[str, Any]) -> "Report":
        """A report (or a finding's report fields) read back from racelab's own JSON;
        the caller has checked kind and fingerprint."""
        top = data.get("top_frame")
        return Report(kind=data["kind"], headline=str(data.get("headline") or data["kind"]),
                      tool=str(data.get("tool") or "?"), summary=data.get("summary"),
                      stacks=[Stack.from_json(s) for s in data.get("stacks") or []
                              if isinstance(s, dict)],
                      top_frame=Frame.from_json(top) if isinstance(top, dict) else None,
                      fingerprint=data["fingerprint"], source=str(data.get("source") or ""))


@dataclass(frozen=True)
class Problem:
    """Something that keeps racelab from deciding: a cut report, a crash, a hang. Its kind
    says what it is; the message says it to a person."""

    kind: ProblemKind
    message: str
    source: str | None = None  # the file it was found in, when it is about a file
    line: int | None = None
    test: str | None = None    # the test it is about, in a gated ctest run; not in JSON

    def to_json(self) -> dict[str, Any]:
        return {"kind": str(self.kind), "source": self.source, "line": self.line,
                "message": self.message}

    def one_line(self) -> str:
        if self.source is None:
            return self.message
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.message}"


@dataclass
class ParseResult:
    reports: list[Report] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)

    def extend(self, other: "ParseResult") -> None:
        self.reports.extend(other.reports)
        self.errors.extend(other.errors)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": REPORTS_SCHEMA,
            "reports": [r.to_json() for r in self.reports],
            "errors": [e.to_json() for e in self.errors],
        }


@dataclass
class LogRead:
    """One log file read by the collection pipeline: a sanitizer log_path file (one per
    process), a server's stderr, or a command's captured output."""

    source: str                      # as shown in reports (relative to OUT when inside it)
    reports: list[Report] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    matched: list["MatchedSuppression"] = field(default_factory=list)
    instrumented: bool = False  # the runtime's start-up mark is in it


# --- Findings ------------------------------------------------------------------------------

@dataclass
class Finding:
    """A distinct report (by fingerprint) of one variant or one gate, with how often it
    occurred and in how many of the runs. `suppressed_by` is the suppression line that
    matched ("race:HandleHit"), shown wherever the finding is."""

    report: Report
    count: int = 1
    scenario: str | None = None
    variant: Variant | None = None
    status: Status = Status.NEW
    suppressed_by: str | None = None
    runs_seen: int = 1
    runs: int = 1
    tests: list[str] = field(default_factory=list)  # the tests whose processes reported it

    @property
    def frames_unreliable(self) -> str | None:
        """Why this finding's frames (and so its fingerprint) cannot be trusted, or None."""
        return self.report.unreliable

    @property
    def expected(self) -> bool:
        """The bug a bad variant exists to show: it is the lesson, not a defect."""
        return self.variant == Variant.BAD

    @property
    def blocking(self) -> bool:
        """Does this finding count against the verdict?"""
        return self.status == Status.NEW and not self.expected

    @property
    def label(self) -> str:
        """"expected" for a bad variant's new finding, else the status."""
        return "expected" if self.status == Status.NEW and self.expected else str(self.status)

    def to_json(self) -> dict[str, Any]:
        out = self.report.to_json()
        out.update(count=self.count, status=str(self.status), scenario=self.scenario,
                   variant=str(self.variant) if self.variant else None,
                   suppressed_by=self.suppressed_by, runs_seen=self.runs_seen,
                   runs=self.runs, tests=list(self.tests),
                   frames_unreliable=self.frames_unreliable)
        return out

    @staticmethod
    def from_json(data: dict[str, Any]) -> "Finding":
        variant = data.get("variant")
        status = data.get("status")
        report = Report.from_json(data)
        report.unreliable = data.get("frames_unreliable")
        return Finding(report=report, count=data.get("count", 1),
                       scenario=data.get("scenario"),
                       variant=Variant(variant) if variant in set(Variant) else None,
                       status=Status(status) if status in set(Status) else Status.NEW,
                       suppressed_by=data.get("suppressed_by"),
                       runs_seen=data.get("runs_seen", 1), runs=data.get("runs", 1),
                       tests=[str(t) for t in data.get("tests") or []])


def merge_findings(runs: Sequence[Sequence[Report]], scenario: str | None = None,
                   variant: Variant | None = None) -> list[Finding]:
    """The one merge: a finding per fingerprint over all runs, in order of first
    appearance; `count` is the occurrences, `runs_seen` the runs it appeared in."""
    by_print: dict[str, Finding] = {}
    seen_in: dict[str, set[int]] = {}
    for index, reports in enumerate(runs):
        for report in reports:
            found = by_print.get(report.fingerprint)
            if found is None:
                by_print[report.fingerprint] = Finding(report, 0, scenario, variant,
                                                       runs=len(runs))
                found = by_print[report.fingerprint]
            found.count += 1
            seen_in.setdefault(report.fingerprint, set()).add(index)
            if report.test is not None and report.test not in found.tests:
                found.tests.append(report.test)
    for fingerprint, finding in by_print.items():
        finding.runs_seen = len(seen_in[fingerprint])
    return list(by_print.values())


# --- Scenario manifests --------------------------------------------------------------------

@dataclass(frozen=True)
class ServerConfig:
    """How the scenario server is started."""

    io_threads: int = 4


@dataclass(frozen=True)
class LoadProfile:
    paths: tuple[str, ...]
    connections: int
    requests: int
    disconnects: int = 0
    headers: tuple[str, ...] = ()  # "Name: value", sent with every request, in order


@dataclass(frozen=True)
class Expectation:
    """A finding the bad variant must produce: its kind, and (for a report with stacks) a
    regex that must match the whole name of the top user frame of one of its access
    stacks; None for racelab's own findings, which have no stacks."""

    kind: str
    function: str | None = None

    def describe(self) -> str:
        if self.function is None:
            return self.kind
        return f"{self.kind} with a top frame matching /{self.function}/"


@dataclass(frozen=True)
class Invariant:
    """A fact a variant must keep, read over HTTP after the load: the integer in the body
    of GET `path` compared (`op`: equals, at_most, at_least) with `value`, which is a
    number or a count of the load: "ok:/hit" (2xx answers to /hit), "requests:/hit"."""

    description: str
    path: str
    op: str
    value: str

    def describe(self) -> str:
        return f"{self.description} (GET {self.path} {self.op.replace('_', ' ')} {self.value})"


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    bug: str
    guide_rule: str
    fix: str
    bug_class: str
    caught_by: tuple[str, ...]
    server: ServerConfig
    load: LoadProfile
    bad_expect: tuple[Expectation, ...]
    fixed_clean: bool
    min_ok: int
    max_peak_threads: int | None
    invariants: tuple[Invariant, ...]
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
    paths: dict[str, dict[str, int]] = field(default_factory=dict)  # path -> status -> n

    def ok_count(self, path: str | None = None) -> int:
        """Responses with a 2xx status (to `path` only, when given)."""
        status = self.status if path is None else self.paths.get(path, {})
        return sum(n for code, n in status.items() if code.startswith("2"))

    def request_count(self, path: str) -> int:
        return sum(self.paths.get(path, {}).values())


@dataclass
class InvariantCheck:
    """An invariant as checked after one run: what was expected and what was seen."""

    invariant: Invariant
    expected: int | None
    observed: int | None
    held: bool

    def to_json(self) -> dict[str, Any]:
        return {"description": self.invariant.description, "path": self.invariant.path,
                "op": self.invariant.op, "expected": self.expected,
                "observed": self.observed, "held": self.held}


@dataclass
class RunOutcome:
    """One start-load-stop cycle of one variant."""

    index: int                      # 1-based run number (for --repeat)
    log_dir: Path
    exit_status: int | None = None  # None when killed by a signal or never reaped
    signal: str | None = None       # "SIGSEGV" when killed by a signal
    load: LoadResult | None = None
    logs: list[LogRead] = field(default_factory=list)
    harness_reports: list[Report] = field(default_factory=list)  # racelab's own findings
    invariants: list[InvariantCheck] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def reports(self) -> list[Report]:
        return [r for log in self.logs for r in log.reports] + self.harness_reports

    @property
    def instrumented(self) -> int:
        return sum(1 for log in self.logs if log.instrumented)

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
            "log_files": [log.source for log in self.logs],
            "instrumented": self.instrumented,
            "invariants": [c.to_json() for c in self.invariants],
            "findings": len(self.reports),
            "errors": [p.one_line() for p in self.problems],
            "problems": [p.to_json() for p in self.problems],
        }


@dataclass
class VariantOutcome:
    """All runs of one variant of one scenario, and the union of their findings."""

    variant: Variant
    runs: list[RunOutcome] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # why judge() failed it
    runs_passed: int = 0  # runs that met the variant's bar on their own (judge.py)

    def problems(self) -> list[Problem]:
        return [p for r in self.runs for p in r.problems]

    def errors(self) -> list[str]:
        many = len(self.runs) > 1
        return [f"run {r.index}: {p.one_line()}" if many else p.one_line()
                for r in self.runs for p in r.problems]

    def to_json(self) -> dict[str, Any]:
        """The last run's numbers at top level (the only run unless --repeat), all runs
        under "runs", and the number of distinct findings."""
        last = self.runs[-1].to_json() if self.runs else RunOutcome(0, Path()).to_json()
        for key in ("run", "findings", "errors", "problems"):
            last.pop(key)
        return {**last,
                "findings": len(self.findings),
                "occurrences": sum(f.count for f in self.findings),
                "errors": self.errors(),
                "failures": list(self.failures),
                "runs_passed": self.runs_passed,
                "runs": [r.to_json() for r in self.runs]}


@dataclass
class ScenarioResult:
    name: str
    verdict: Verdict = Verdict.PASS
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
            "verdict": str(self.verdict),
            "reasons": list(self.reasons),
            "bad": self.bad.to_json() if self.bad else None,
            "fixed": self.fixed.to_json() if self.fixed else None,
        }


# --- Gating a command ----------------------------------------------------------------------

@dataclass
class TestRun:
    """One test of a gated ctest run, run on its own so its findings name it."""

    name: str
    exit_status: int | None = None
    signal: str | None = None
    elapsed_s: float = 0.0
    logs: list[LogRead] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "exit_status": self.exit_status, "signal": self.signal,
                "elapsed_s": round(self.elapsed_s, 3),
                "log_files": [log.source for log in self.logs]}


@dataclass
class GateRun:
    """What the gated command did (`command` None for `gate --logs DIR`); `tests` when it
    was ctest, run one test at a time; `shard` ("2/4") when it ran a slice."""

    command: list[str] | None
    logs_dir: str | None = None
    exit_status: int | None = None
    signal: str | None = None
    elapsed_s: float = 0.0
    tests: list[TestRun] | None = None
    shard: str | None = None

    def describe(self) -> str:
        """"ctest --test-dir build" or "logs in DIR"."""
        if self.command is not None:
            return shlex.join(self.command)
        return f"logs in {self.logs_dir}"


# --- Results: one shape for run and gate ---------------------------------------------------

@dataclass
class Results:
    """What `racelab run` or `racelab gate` decided. A run has `scenarios`; a gate has
    `gate` and the logs it read. Both have findings, problems, notes and the optional
    baseline and suppression checks, and one verdict rule."""

    findings: list[Finding] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    logs: list[LogRead] = field(default_factory=list)
    scenarios: list[ScenarioResult] | None = None
    gate: GateRun | None = None
    baseline: "BaselineCheck | None" = None
    suppressions: "SuppressionCheck | None" = None

    @property
    def mode(self) -> str:
        return "run" if self.scenarios is not None else "gate"

    @property
    def verdict(self) -> Verdict:
        """error: something could not be judged (a problem, a scenario in error, a run of
        no scenario); fail: a finding blocks, or a scenario failed its expectations;
        else pass."""
        scenario_verdicts = [s.verdict for s in self.scenarios or []]
        if self.problems or (self.scenarios is not None and not self.scenarios):
            return Verdict.ERROR
        worst = Verdict.worst(scenario_verdicts)
        if worst == Verdict.ERROR:
            return worst
        if worst == Verdict.FAIL or any(f.blocking for f in self.findings):
            return Verdict.FAIL
        return Verdict.PASS

    @property
    def instrumented(self) -> int:
        """How many processes left the sanitizer runtime's start-up mark."""
        if self.scenarios is not None:
            return sum(r.instrumented for s in self.scenarios for v in s.variants()
                       for r in v.runs)
        return sum(1 for log in self.logs if log.instrumented)

    def warnings(self) -> list[str]:
        """Notes, unreliable frames, then baseline and suppression warnings (never verdicts
        by themselves)."""
        shaky = [f for f in self.findings if f.frames_unreliable]
        reasons = sorted({f.frames_unreliable or "" for f in shaky})
        frames_warning = ([f"{len(shaky)} finding(s) have frames that cannot be trusted "
                           f"({'; '.join(reasons)}): their functions and fingerprints may "
                           "be wrong or change between runs"] if shaky else [])
        return (list(self.notes) + frames_warning
                + (self.baseline.warnings() if self.baseline else [])
                + (self.suppressions.warnings() if self.suppressions else []))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema": RESULTS_SCHEMA,
            "verdict": str(self.verdict),
            "findings": [f.to_json() for f in self.findings],
            "instrumented": self.instrumented,
            "problems": [p.to_json() for p in self.problems],
            "notes": list(self.notes),
        }
        if self.scenarios is not None:
            out["scenarios"] = [s.to_json() for s in self.scenarios]
        if self.gate is not None:
            gate = self.gate
            out["gate"] = {"command": list(gate.command) if gate.command is not None else None,
                           "logs_dir": gate.logs_dir,
                           "exit_status": gate.exit_status,
                           "signal": gate.signal,
                           "elapsed_s": round(gate.elapsed_s, 3),
                           "log_files": [log.source for log in self.logs],
                           "errors": [p.one_line() for p in self.problems],
                           "notes": list(self.notes),
                           "tests": ([t.to_json() for t in gate.tests]
                                     if gate.tests is not None else None),
                           "shard": gate.shard}
        if self.baseline is not None:
            out["baseline"] = self.baseline.to_json()
        if self.suppressions is not None:
            out["suppressions"] = self.suppressions.to_json()
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
        where = f" at {self.top_frame}" if self.top_frame else ""
        return f"{self.kind} {self.fingerprint}{where}"

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
            assert entry.expires is not None
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
    """A line of TSan's "Matched N suppressions" block: "<count> <type>:<pattern>" (from a
    suppressions file the user gave the runtime directly)."""

    type: str
    pattern: str
    count: int
    source: str  # the log file it came from

    @property
    def text(self) -> str:
        return f"{self.type}:{self.pattern}"


@dataclass
class SuppressionCheck:
    """Which suppressions of a file matched (with the occurrences of the findings racelab
    tied to them) and which matched nothing (stale). `other` holds matches that the runtime
    made with patterns that are not in the file (its built-in ones, or the user's own
    runtime suppressions)."""

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
