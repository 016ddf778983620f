"""`racelab gate`: gate any project's TSan run on the reports it leaves.

    racelab gate [--baseline F] [--suppressions F] [--out DIR] -- COMMAND...
    racelab gate --logs DIR

With a COMMAND: run it with TSAN_OPTIONS pointing every instrumented process at
OUT/logs/gate/tsan.<pid>, stream its output through (a copy goes to OUT/logs/gate/output.txt),
then hand the folder to the collection pipeline (collect.py). With --logs: parse every file
under DIR (TSan log_path files, or any text log with reports in it).

Verdict (model.Results): "error" when the run cannot be judged (the command was not found,
hung, was killed by a signal and left no report, exited 66 without a report, left a
truncated report, or failed with no new finding to explain it); otherwise "fail" when a
finding is new (neither suppressed nor excused by the baseline), else "pass".
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from . import collect, procs
from .model import (Baseline, GateRun, Problem, ProblemKind, Results,
                    SuppressionFile, merge_findings)

BINARY_PROBE_BYTES = 8192  # a --logs file with a NUL byte this early is skipped as binary
# What racelab writes into OUT: never read back as logs when OUT lies inside --logs DIR
# (junit.xml quotes whole reports).
OUTPUT_NAMES = ("results.json", "summary.md", "junit.xml", "results.sarif", "index.html")
OUTPUT_COPY = "output.txt"


@dataclass
class GateConfig:
    out: Path
    command: list[str] | None = None        # run this ...
    logs_dir: Path | None = None            # ... or read these logs
    suppressions: SuppressionFile | None = None
    baseline: Baseline | None = None
    timeout_s: float | None = None          # None: wait as long as the command runs
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    cwd: Path | None = None
    allow_uninstrumented: bool = False      # for commands that legitimately start none
    today: date = field(default_factory=date.today)
    echo: Callable[[bytes], None] = lambda chunk: None  # where the command's output goes


def run_gate(config: GateConfig) -> Results:
    results = Results(gate=GateRun(command=list(config.command) if config.command else None,
                                   logs_dir=str(config.logs_dir) if config.logs_dir else None))
    if config.command:
        _run_command(config, results)
    else:
        _read_logs(config, results)
    findings = merge_findings([collect.reports_of(results.logs)])
    results.findings = findings
    results.problems.extend(collect.problems_of(results.logs))
    results.baseline, results.suppressions = collect.classify(
        findings, baseline=config.baseline, suppression_file=config.suppressions,
        matched=[m for log in results.logs for m in log.matched], today=config.today)
    gate = results.gate
    assert gate is not None
    if config.command and not any(p.kind in _UNSTARTED for p in results.problems):
        outcome = collect.exit_problems(config.command[0], gate.exit_status, gate.signal,
                                        results.logs, findings, server=False)
        results.problems.extend(outcome.problems)
        results.notes.extend(outcome.notes)
        if results.instrumented == 0:
            if config.allow_uninstrumented:
                results.notes.append(f"{config.command[0]} started no instrumented process "
                                     "(allowed by --allow-uninstrumented)")
            else:
                results.problems.append(collect.not_instrumented(config.command[0]))
    return results


_UNSTARTED = (ProblemKind.CANNOT_START, ProblemKind.HANG)


def log_folder(out: Path) -> Path:
    return out / "logs" / "gate"


# --- Running the command -------------------------------------------------------------------

def _run_command(config: GateConfig, results: Results) -> None:
    command = config.command or []
    gate = results.gate
    assert gate is not None
    folder = log_folder(config.out)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    env = collect.instrumented_env(config.env, folder)
    started = time.monotonic()
    copy_path = folder / OUTPUT_COPY
    try:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, env=env, cwd=config.cwd,
                                start_new_session=True)
    except FileNotFoundError:
        results.problems.append(_cannot_start(f"command not found: {command[0]}"))
        return
    except PermissionError:
        results.problems.append(_cannot_start(f"cannot execute {command[0]}: permission "
                                              "denied"))
        return
    except OSError as err:
        results.problems.append(_cannot_start(f"cannot start {command[0]}: "
                                              f"{err.strerror or err}"))
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
                chunk = proc.stdout.read1(65536)  # type: ignore[attr-defined]
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
    gate.elapsed_s = time.monotonic() - started
    gate.exit_status, gate.signal = collect.split_returncode(status)
    if timed_out.is_set():
        results.problems.append(Problem(ProblemKind.HANG,
                                        f"hang: {command[0]} did not finish within "
                                        f"{config.timeout_s:g}s (killed)"))
    results.logs.extend(collect.collect_logs(folder, config.out, captured=[copy_path]))


def _cannot_start(message: str) -> Problem:
    return Problem(ProblemKind.CANNOT_START, message)


# --- Reading logs --------------------------------------------------------------------------

def _read_logs(config: GateConfig, results: Results) -> None:
    folder = config.logs_dir
    assert folder is not None
    if not folder.is_dir():
        results.problems.append(Problem(ProblemKind.NO_LOGS, f"{folder}: not a directory"))
        return
    ours = {(config.out / name).resolve() for name in OUTPUT_NAMES}
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.resolve() not in ours)
    if not files:
        results.problems.append(Problem(ProblemKind.NO_LOGS,
                                        f"{folder} holds no files: nothing to judge"))
        return
    for path in files:
        source = str(folder / path.relative_to(folder))
        try:
            with open(path, "rb") as handle:
                head = handle.read(BINARY_PROBE_BYTES)
        except OSError as err:
            results.problems.append(Problem(ProblemKind.UNREADABLE,
                                            f"cannot read: {err.strerror or err}", source))
            continue
        if b"\x00" in head:
            results.notes.append(f"skipped {source}: binary data, not a log")
            continue
        results.logs.append(collect.read_log(path, source))


def echo_to_stdout(chunk: bytes) -> None:
    """Pass the gated command's output through as it comes."""
    sys.stdout.buffer.write(chunk)
    sys.stdout.buffer.flush()
