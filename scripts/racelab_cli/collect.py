"""The one collection pipeline that `racelab run`, `racelab gate` and `racelab test` share.

    instrumented_env  -> every process writes its sanitizer log to <folder>/tsan.<pid>
    collect_logs      -> parse every tsan.* file (and a captured output, when it holds
                         reports) into LogReads: reports and problems, per file
    merge_findings    -> (model) one finding per fingerprint, count and runs_seen
    classify          -> suppressions, then the baseline: each finding's status
    exit_problems     -> what the process's exit says, given what its logs hold

Only this module and `racelab parse` import the parser. The decision is made on the parsed
logs, never on the exit status alone: a process killed by a signal never runs the
sanitizer's exit hook, so its status says nothing, while its reports are already in its log.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from . import baseline as baseline_file
from . import frames, parse, suppressions
from . import patterns as P
from .model import (Baseline, BaselineCheck, Finding, LogRead, MatchedSuppression,
                    ParseResult, Problem, ProblemKind, Report, SuppressionCheck,
                    SuppressionFile)
from .tsan_env import TSAN_EXIT_CODE, asan_options, gorace_options, tsan_options

LOG_PREFIX = "tsan"  # log_path=<folder>/tsan: the runtime appends ".<pid>"
ASAN_LOG_PREFIX = "asan"  # AddressSanitizer and LeakSanitizer, with --sanitizer asan
LOG_PREFIXES = (LOG_PREFIX, ASAN_LOG_PREFIX)
START_MARK_BYTES = 64 * 1024  # where the runtime's start-up mark must be


def instrumented_env(base: Mapping[str, str], folder: Path, sanitizer: str = "tsan",
                     report_exit_code: int = TSAN_EXIT_CODE) -> dict[str, str]:
    """The environment for a command whose processes log into `folder`: TSAN_OPTIONS for
    C and C++ programs and GORACE for Go programs built with -race (both runtimes write
    `folder/tsan.<pid>`), or ASAN_OPTIONS for the asan build, each merged with the user's
    own (docs/reference.md lists the options). `report_exit_code` 0 leaves a test's status
    to the test itself: ctest only says "failed", so a race that exits 66 would look like a
    real failure, and the race is judged from the logs anyway."""
    env = dict(base)
    if sanitizer == "asan":
        env["ASAN_OPTIONS"] = asan_options(folder / ASAN_LOG_PREFIX, base.get("ASAN_OPTIONS"))
    else:
        env["TSAN_OPTIONS"] = tsan_options(folder / LOG_PREFIX, base.get("TSAN_OPTIONS"),
                                           exit_code=report_exit_code)
        env["GORACE"] = gorace_options(folder / LOG_PREFIX, base.get("GORACE"),
                                       exit_code=report_exit_code)
    return env


# --- Reading logs --------------------------------------------------------------------------

def read_log(path: Path, source: str, *, captured_output: bool = False) -> LogRead:
    """Parse one file into a LogRead. A command's captured output may hold binary noise:
    NUL bytes are dropped from it before parsing, so only report problems remain."""
    log = LogRead(source)
    if captured_output:
        try:
            text = path.read_bytes().decode("utf-8", errors="replace").replace("\x00", "")
        except OSError:
            return log
        result = parse.parse_text(text, source)
    else:
        result, _readable = parse.parse_file(path, source=source)
    log.reports = list(result.reports)
    log.problems = list(result.errors)
    log.matched = suppressions.matched_in_file(path, source)
    log.instrumented = not captured_output and runtime_started(path)
    overflowed = _symbolizer_overflowed(path)
    for report in log.reports:
        report.unreliable = ("symbolizer buffer too small" if overflowed
                             else _unsymbolized(report))
    return log


def _symbolizer_overflowed(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                if P.SYMBOLIZER_BUFFER_TOO_SMALL.search(chunk):
                    return True
    except OSError:
        return False
    return False


def _unsymbolized(report: Report) -> str | None:
    """A report whose own frames came out as bare addresses: no symbolizer ran."""
    own = [f for s in report.stacks for f in s.frames if f.function == "<null>"
           and not frames.is_runtime_frame(f)]
    return "unsymbolized frames: no symbolizer" if own and report.top_frame is not None \
        and report.top_frame.function == "<null>" else None


def runtime_started(path: Path) -> bool:
    """Does the log hold the runtime's start-up mark? It is the first thing the runtime
    writes (TSan's with TSAN_OPTIONS verbosity=1, Go's race runtime with GORACE
    verbosity=1: the same line), so the head of the file is enough."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(START_MARK_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return False
    return P.RUNTIME_STARTED.search(head) is not None


def not_instrumented(name: str) -> Problem:
    return Problem(ProblemKind.NOT_INSTRUMENTED,
                   f"no instrumented process ran: {name} left no sanitizer start-up mark "
                   "('Running under ThreadSanitizer', 'AddressSanitizer Init done') in any "
                   "log, so silence proves nothing (is it built with -fsanitize=thread, or "
                   "for Go run as go test -race, and not a cached go test result?)")


def collect_logs(folder: Path, out: Path, captured: Sequence[Path] = ()) -> list[LogRead]:
    """Every tsan.<pid> file in `folder` (in pid order), then each `captured` file (a
    server's stderr, a command's output) that holds a report or a problem. Sources are
    relative to `out` when inside it."""
    found = [p for prefix in LOG_PREFIXES for p in folder.glob(f"{prefix}.*")]
    logs = [read_log(path, relative(path, out)) for path in sorted(found, key=_pid_order)]
    for path in captured:
        if path.is_file():
            log = read_log(path, relative(path, out), captured_output=True)
            if log.reports or log.problems:
                logs.append(log)
    return logs


def reports_of(logs: Sequence[LogRead]) -> list[Report]:
    return [r for log in logs for r in log.reports]


def problems_of(logs: Sequence[LogRead]) -> list[Problem]:
    return [p for log in logs for p in log.problems]


# --- Deciding ------------------------------------------------------------------------------

def classify(findings: Sequence[Finding], *, baseline: Baseline | None,
             suppression_file: SuppressionFile | None,
             matched: Sequence[MatchedSuppression] = (),
             today: date | None = None) -> tuple[BaselineCheck | None,
                                                 SuppressionCheck | None]:
    """Set every finding's status: suppressed when a line of the file matches it (racelab
    applies the file; the runtime is never told), else known when an unexpired baseline
    entry excuses it, else new. Returns the checks (which entries expired or went stale,
    which suppressions matched nothing)."""
    suppression_check = None
    if suppression_file is not None:
        suppressions.tie(suppression_file, findings)
        suppression_check = suppressions.check(suppression_file, matched, findings)
    baseline_check = None
    if baseline is not None:
        baseline_check = baseline_file.apply(baseline, findings, today or date.today())
    return baseline_check, suppression_check


@dataclass(frozen=True)
class ExitOutcome:
    problems: list[Problem]
    notes: list[str]


def exit_problems(name: str, exit_status: int | None, signal_name: str | None,
                  logs: Sequence[LogRead], findings: Sequence[Finding], *,
                  server: bool) -> ExitOutcome:
    """What a process's exit says, given what its logs hold.

    A server (`server=True`) was stopped by racelab with SIGTERM and must exit 0, or 66
    when it reported: a signal or any other status is a crash. A gated command may die of a
    signal after its processes wrote their reports (a note); without a report, what it
    would have reported is unknown. Exit 66 (TSan's exitcode) with no report found means
    a log went missing. Any other failing status is a problem unless a blocking finding
    explains it: a failing command is never a pass, even when its reports are baselined.
    """
    problems: list[Problem] = []
    notes: list[str] = []
    reported = bool(reports_of(logs))
    if signal_name is not None:
        if server:
            problems.append(Problem(ProblemKind.CRASH, f"{name} crashed (signal {signal_name})"))
        elif reported:
            notes.append(f"{name} was killed by {signal_name}; the gate judged the reports "
                         "its processes had already written")
        else:
            problems.append(Problem(ProblemKind.KILLED_WITHOUT_REPORT,
                                    f"{name} was killed by {signal_name} and left no TSan "
                                    "report: what it would have reported is unknown"))
        return ExitOutcome(problems, notes)
    if exit_status is None:
        return ExitOutcome(problems, notes)
    if exit_status == TSAN_EXIT_CODE and not reported:
        problems.append(Problem(ProblemKind.TSAN_EXIT_WITHOUT_REPORT,
                                f"{name} exited with status {TSAN_EXIT_CODE} (TSan's exitcode) "
                                "but no report was found in its log files"))
    elif exit_status not in (0, TSAN_EXIT_CODE):
        if server:
            problems.append(Problem(ProblemKind.CRASH,
                                    f"{name} crashed (status {exit_status})"))
        elif any(f.blocking for f in findings):
            notes.append(f"{name} exited with status {exit_status}; its new findings explain "
                         "the failure")
        else:
            problems.append(Problem(
                ProblemKind.FAILED_WITHOUT_FINDING,
                f"{name} exited with status {exit_status} and no new finding explains it: "
                "the run cannot be judged a pass (fix the failure, or gate a command that "
                "succeeds)"))
    return ExitOutcome(problems, notes)


# --- Helpers -------------------------------------------------------------------------------

def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def exit_text(returncode: int) -> str:
    """"status 3" or "signal SIGSEGV" for a Popen returncode."""
    if returncode < 0:
        return f"signal {signal_name(-returncode)}"
    return f"status {returncode}"


def split_returncode(returncode: int) -> tuple[int | None, str | None]:
    """(exit status, None) or (None, signal name) for a Popen returncode."""
    if returncode < 0:
        return None, signal_name(-returncode)
    return returncode, None


def relative(path: Path, base: Path) -> str:
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)


def _pid_order(path: Path) -> tuple[int, str]:
    suffix = path.name.rpartition(".")[2]
    return (int(suffix) if suffix.isascii() and suffix.isdigit() else 1 << 62, path.name)


def parse_files(names: Sequence[str]) -> ParseResult:
    """`racelab parse FILE...`: every report and problem of the files, in order."""
    combined = ParseResult()
    for name in names:
        result, _readable = parse.parse_file(name)
        combined.extend(result)
    return combined
