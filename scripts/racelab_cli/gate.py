"""`racelab gate`: gate any project's TSan run on the reports it leaves.

    racelab gate [--baseline F] [--suppressions F] [--out DIR] -- COMMAND...
    racelab gate --logs DIR

With a COMMAND: run it with TSAN_OPTIONS pointing every instrumented process at
OUT/logs/gate/tsan.<pid> (tsan_env.py), stream its output through (a copy goes to
OUT/logs/gate/output.txt), then parse every log file. With --logs: parse every file under
DIR (TSan log_path files, or any text log with reports in it).

The decision is made on the parsed logs, never on the exit status alone: a process killed
by a signal never runs TSan's exit hook, so its status says nothing, while its reports are
already in its log. Verdict: "error" when the run cannot be judged (the command was not
found, hung, was killed by a signal and left no report, exited 66 without a log, left a
truncated report, or failed without any report to explain it); otherwise "fail" when a
finding is new (neither suppressed nor excused by the baseline), else "pass".
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from . import baseline as baseline_file
from . import parse, procs, suppressions
from .model import (Baseline, Finding, GatedLog, GateResults, Report, SuppressionFile,
                    merge_reports)
from .tsan_env import TSAN_EXIT_CODE, tsan_options

BINARY_PROBE_BYTES = 8192  # a --logs file with a NUL byte this early is skipped as binary
# What racelab writes into OUT: never read back as logs when OUT lies inside --logs DIR
# (junit.xml quotes whole reports).
OUTPUT_NAMES = ("results.json", "summary.md", "junit.xml", "results.sarif", "index.html")


@dataclass
class GateConfig:
    out: Path
    command: list[str] | None = None        # run this ...
    logs_dir: Path | None = None            # ... or read these logs
    suppressions: SuppressionFile | None = None
    baseline: Baseline | None = None
    timeout_s: float | None = None          # None: wait as long as the command runs
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    today: date = field(default_factory=date.today)
    echo: Callable[[bytes], None] = lambda chunk: None  # where the command's output goes


def run_gate(config: GateConfig) -> GateResults:
    if config.command is not None:
        results = GateResults(command=list(config.command))
        _run_command(config, results)
    else:
        assert config.logs_dir is not None
        results = GateResults(command=None, logs_dir=str(config.logs_dir))
        _read_logs(config, results)
    _judge(config, results)
    return results


# --- Running the command -------------------------------------------------------------------

def log_folder(out: Path) -> Path:
    return out / "logs" / "gate"


def _run_command(config: GateConfig, results: GateResults) -> None:
    command = config.command or []
    folder = log_folder(config.out)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(config.env)
    env["TSAN_OPTIONS"] = tsan_options(
        folder / "tsan", config.env.get("TSAN_OPTIONS"),
        suppressions=config.suppressions.path if config.suppressions else None)
    started = time.monotonic()
    copy_path = folder / "output.txt"
    try:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True)
    except FileNotFoundError:
        results.errors.append(f"command not found: {command[0]}")
        return
    except PermissionError:
        results.errors.append(f"cannot execute {command[0]}: permission denied")
        return
    except OSError as err:
        results.errors.append(f"cannot start {command[0]}: {err.strerror or err}")
        return
    timed_out = threading.Event()

    def on_deadline() -> None:
        timed_out.set()
        procs.kill_group(proc)

    timer = None
    if config.timeout_s is not None:
        timer = threading.Timer(config.timeout_s, on_deadline)
        timer.daemon = True
        timer.start()
    try:
        assert proc.stdout is not None
        with open(copy_path, "wb") as copy:
            while True:
                chunk = proc.stdout.read1(65536)
                if not chunk:
                    break
                copy.write(chunk)
                config.echo(chunk)
        status = proc.wait()
    except BaseException:
        procs.kill_group(proc)
        raise
    finally:
        if timer is not None:
            timer.cancel()
        if proc.stdout is not None:
            proc.stdout.close()
    results.elapsed_s = time.monotonic() - started
    if status < 0:
        results.signal = _signal_name(-status)
    else:
        results.exit_status = status
    if timed_out.is_set():
        results.errors.append(f"hang: {command[0]} did not finish within "
                              f"{config.timeout_s:g}s (killed)")
    for path in sorted(folder.glob("tsan.*"), key=_pid_order):
        results.logs.append(_read_log(path, _relative(path, config.out)))
    output = _read_log(copy_path, _relative(copy_path, config.out), output=True)
    if output.reports or output.errors:
        results.logs.append(output)


# --- Reading logs --------------------------------------------------------------------------

def _read_logs(config: GateConfig, results: GateResults) -> None:
    folder = config.logs_dir
    assert folder is not None
    if not folder.is_dir():
        results.errors.append(f"{folder}: not a directory")
        return
    ours = {(config.out / name).resolve() for name in OUTPUT_NAMES}
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.resolve() not in ours)
    if not files:
        results.errors.append(f"{folder} holds no files: nothing to judge")
        return
    for path in files:
        source = str(folder / path.relative_to(folder))
        try:
            with open(path, "rb") as handle:
                head = handle.read(BINARY_PROBE_BYTES)
        except OSError as err:
            results.errors.append(f"{source}: cannot read: {err.strerror or err}")
            continue
        if b"\x00" in head:
            results.notes.append(f"skipped {source}: binary data, not a log")
            continue
        results.logs.append(_read_log(path, source))


def _read_log(path: Path, source: str, output: bool = False) -> GatedLog:
    """Parse one file. The command's own output may hold binary noise: NUL bytes are
    dropped from it before parsing, so only real report problems become errors."""
    log = GatedLog(source)
    if output:
        try:
            text = path.read_bytes().decode("utf-8", errors="replace").replace("\x00", "")
        except OSError:
            return log
        result = parse.parse_text(text, source)
    else:
        result, _readable = parse.parse_file(path, source=source)
    log.reports = list(result.reports)
    for error in result.errors:
        what = "truncated TSan report" if "truncated" in error.message else "bad TSan log"
        log.errors.append(f"{what}: {error.one_line()}")
    log.matched = suppressions.matched_in_file(path, source)
    return log


# --- Deciding ------------------------------------------------------------------------------

def merge(reports: Sequence[Report]) -> list[Finding]:
    """One finding per fingerprint, count = occurrences, in order of first appearance."""
    return merge_reports(reports)


def _judge(config: GateConfig, results: GateResults) -> None:
    reports = [r for log in results.logs for r in log.reports]
    matched = [m for log in results.logs for m in log.matched]
    results.findings_ = merge(reports)
    for log in results.logs:
        results.errors.extend(log.errors)
    if config.suppressions is not None:
        if config.command is None:
            # Logs of a run without the file: apply its patterns ourselves.
            suppressions.tie(config.suppressions, results.findings_)
        results.suppressions = suppressions.check(config.suppressions, matched,
                                                  results.findings_)
    if config.baseline is not None:
        results.baseline = baseline_file.apply(config.baseline, results.findings_,
                                               config.today)
    if config.command is not None and results.command:
        _judge_exit(results, bool(reports))


def _judge_exit(results: GateResults, reported: bool) -> None:
    """What the exit status says, given what the logs hold."""
    if any(e.startswith(("command not found", "cannot execute", "cannot start", "hang:"))
           for e in results.errors):
        return
    name = results.command[0] if results.command else "the command"
    logs = [log for log in results.logs if not log.source.endswith("output.txt")]
    if results.signal is not None:
        if reported:
            results.notes.append(f"{name} was killed by {results.signal}; the gate judged "
                                 "the reports its processes had already written")
        else:
            results.errors.append(f"{name} was killed by {results.signal} and left no TSan "
                                  "report: what it would have reported is unknown")
        return
    status = results.exit_status
    if status == TSAN_EXIT_CODE and not logs:
        results.errors.append(f"{name} exited with status {TSAN_EXIT_CODE} (TSan's exitcode) "
                              "but left no TSan log file")
    elif status == TSAN_EXIT_CODE and not reported:
        results.errors.append(f"exit status {TSAN_EXIT_CODE} says TSan reported, but no "
                              "report was found in the log files")
    elif status not in (0, TSAN_EXIT_CODE) and not reported:
        results.errors.append(f"{name} exited with status {status} and left no TSan report "
                              "to explain it: the run cannot be judged (fix the failure, or "
                              "gate a command that succeeds)")
    elif status not in (0, TSAN_EXIT_CODE):
        results.notes.append(f"{name} exited with status {status}; the gate judged the TSan "
                             "reports, not the status")


# --- Helpers -------------------------------------------------------------------------------

def _pid_order(path: Path) -> tuple[int, str]:
    suffix = path.name.rpartition(".")[2]
    return (int(suffix) if suffix.isdigit() else 1 << 62, path.name)


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
