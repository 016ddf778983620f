"""`racelab gate`: gate any project's TSan run on the reports it leaves.

    racelab gate [--baseline F] [--suppressions F] [--out DIR] -- COMMAND...
    racelab gate --logs DIR

With a COMMAND: run it with TSAN_OPTIONS (and GORACE, for Go programs built with -race)
pointing every instrumented process at OUT/logs/gate/tsan.<pid>, stream its output through
(a copy goes to OUT/logs/gate/output.txt),
then hand the folder to the collection pipeline (collect.py). With --logs: parse every file
under DIR (TSan log_path files, or any text log with reports in it).

Verdict (model.Results): "error" when the run cannot be judged (the command was not found,
hung, was killed by a signal and left no report, exited 66 without a report, left a
truncated report, or failed with no new finding to explain it); otherwise "fail" when a
finding is new (neither suppressed nor excused by the baseline), else "pass".
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from . import collect, ctest_runs, procs, stacks
from .model import (Baseline, Finding, GateRun, LogRead, Problem, ProblemKind, Results,
                    SuppressionFile, TestRun, merge_findings)

BINARY_PROBE_BYTES = 8192  # a --logs file with a NUL byte this early is skipped as binary
# What racelab writes into OUT: never read back as logs when OUT lies inside --logs DIR
# (junit.xml quotes whole reports).
OUTPUT_NAMES = ("results.json", "summary.md", "junit.xml", "results.sarif", "index.html")
OUTPUT_COPY = "output.txt"
MAX_HUNG_PROCESSES = 8     # stacks are captured for at most this many processes of a group


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
    shard: tuple[int, int] | None = None    # (K, N): the K-th of N slices of a ctest list
    jobs: int = 1                           # ctest tests run this many at a time
    today: date = field(default_factory=date.today)
    echo: Callable[[bytes], None] = lambda chunk: None  # where the command's output goes


def run_gate(config: GateConfig) -> Results:
    results = Results(gate=GateRun(command=list(config.command) if config.command else None,
                                   logs_dir=str(config.logs_dir) if config.logs_dir else None))
    if config.command and ctest_runs.is_ctest(config.command):
        _run_ctest_tests(config, results)
    elif config.command:
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
        if gate.tests is None:
            _judge_exit(config.command[0], gate.exit_status, gate.signal, results.logs,
                        findings, results)
        for test in gate.tests or []:
            _judge_exit(f"test {test.name}", test.exit_status, test.signal, test.logs,
                        [f for f in findings if test.name in f.tests], results, test.name)
        if results.instrumented == 0 and (gate.tests is None or gate.tests):
            if config.allow_uninstrumented:
                results.notes.append(f"{config.command[0]} started no instrumented process "
                                     "(allowed by --allow-uninstrumented)")
            else:
                results.problems.append(collect.not_instrumented(config.command[0]))
    return results


_UNSTARTED = (ProblemKind.CANNOT_START, ProblemKind.HANG)


def _judge_exit(name: str, exit_status: int | None, signal: str | None,
                logs: Sequence[LogRead], findings: Sequence[Finding], results: Results,
                test: str | None = None) -> None:
    outcome = collect.exit_problems(name, exit_status, signal, logs, findings, server=False)
    results.problems.extend(dataclasses.replace(p, test=test) for p in outcome.problems)
    results.notes.extend(outcome.notes)


def log_folder(out: Path) -> Path:
    return out / "logs" / "gate"


def _fresh_log_folder(out: Path) -> Path:
    """The gate's log folder, emptied of an earlier run's logs."""
    folder = log_folder(out)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# --- Running the command -------------------------------------------------------------------

def _run_command(config: GateConfig, results: Results) -> None:
    command = config.command or []
    gate = results.gate
    assert gate is not None
    folder = _fresh_log_folder(config.out)
    copy_path = folder / OUTPUT_COPY
    hung: list[LogRead] = []
    outcome = spawn(command, env=collect.instrumented_env(config.env, folder), cwd=config.cwd,
                    copy_to=copy_path, echo=config.echo, timeout_s=config.timeout_s,
                    on_timeout=lambda pid: hung.extend(_capture_hang(
                        pid, f"{command[0]} did not finish within {config.timeout_s:g}s",
                        folder, config.out)))
    if isinstance(outcome, Problem):
        results.problems.append(outcome)
        return
    gate.elapsed_s = outcome.elapsed_s
    gate.exit_status, gate.signal = collect.split_returncode(outcome.returncode)
    if outcome.timed_out:
        results.problems.append(_hang(command[0], config.timeout_s))
    results.logs.extend(collect.collect_logs(folder, config.out, captured=[copy_path]))
    results.logs.extend(hung)


def _capture_hang(pid: int, what: str, folder: Path, out: Path) -> list[LogRead]:
    """Before a hung command is killed: the stacks of every process of its group (the
    command and what it started), each as a `hang` finding."""
    logs = []
    for member in procs.group_members(pid)[:MAX_HUNG_PROCESSES]:
        captured = stacks.capture(member)
        path = folder / f"stacks.{member}.txt"
        stacks.write(captured, path)
        source = collect.relative(path, out)
        logs.append(LogRead(source, [stacks.hang_report(f"{what} (pid {member})", captured,
                                                        source)]))
    return logs


@dataclass(frozen=True)
class Spawned:
    returncode: int
    timed_out: bool
    elapsed_s: float


def spawn(command: Sequence[str], *, env: Mapping[str, str], cwd: Path | None,
          copy_to: Path, echo: Callable[[bytes], None], timeout_s: float | None,
          on_timeout: Callable[[int], None] | None = None) -> Spawned | Problem:
    """Run `command` in its own process group, its output (stdout and stderr) copied to
    `copy_to` and passed to `echo` as it comes; at the deadline `on_timeout(pid)` runs
    (to capture stacks) and the group is killed. A command that cannot start is a Problem
    (cannot-start)."""
    try:
        proc = subprocess.Popen(list(command), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dict(env),
                                cwd=cwd, start_new_session=True)
    except FileNotFoundError:
        return _cannot_start(f"command not found: {command[0]}")
    except PermissionError:
        return _cannot_start(f"cannot execute {command[0]}: permission denied")
    except OSError as err:
        return _cannot_start(f"cannot start {command[0]}: {err.strerror or err}")
    started = time.monotonic()
    timed_out = threading.Event()

    def on_deadline() -> None:
        timed_out.set()
        if on_timeout is not None:
            on_timeout(proc.pid)
        procs.kill_group(proc)

    timer = None
    if timeout_s is not None:
        timer = threading.Timer(timeout_s, on_deadline)
        timer.daemon = True
        timer.start()
    try:
        assert proc.stdout is not None
        with open(copy_to, "wb") as copy:
            while True:
                chunk = proc.stdout.read1(65536)  # type: ignore[attr-defined]
                if not chunk:
                    break
                copy.write(chunk)
                echo(chunk)
        status = proc.wait()
    except BaseException:
        procs.kill_group(proc)
        raise
    finally:
        if timer is not None:
            timer.cancel()
        if proc.stdout is not None:
            proc.stdout.close()
    return Spawned(status, timed_out.is_set(), time.monotonic() - started)


def _hang(name: str, timeout_s: float | None) -> Problem:
    return Problem(ProblemKind.HANG, f"hang: {name} did not finish within {timeout_s:g}s "
                                     "(killed)")


def _run_ctest_tests(config: GateConfig, results: Results) -> None:
    """ctest one test at a time (ctest_runs.py), each test's processes logging into a
    folder of its own; outputs are passed through test by test, then ctest's closing line."""
    command = config.command or []
    gate = results.gate
    assert gate is not None
    folder = _fresh_log_folder(config.out)
    names = ctest_runs.list_tests(command, env=config.env, cwd=config.cwd)
    if isinstance(names, Problem):
        results.problems.append(names)
        return
    if config.shard is not None:
        k, n = config.shard
        gate.shard = f"{k}/{n}"
        names = ctest_runs.shard(names, k, n)
    started = time.monotonic()
    echo_lock = threading.Lock()

    def one(item: tuple[int, str]) -> tuple[TestRun, Problem | None]:
        index, name = item
        test_dir = folder / "tests" / f"{index:04d}"
        test_dir.mkdir(parents=True, exist_ok=True)
        copy_path = test_dir / OUTPUT_COPY
        outcome = spawn(ctest_runs.test_command(command, name),
                        env=collect.instrumented_env(config.env, test_dir,
                                                     report_exit_code=0),
                        cwd=config.cwd,
                        copy_to=copy_path, echo=lambda chunk: None, timeout_s=config.timeout_s)
        run = TestRun(name)
        if isinstance(outcome, Problem):
            return run, outcome
        with echo_lock:
            config.echo(copy_path.read_bytes())
        run.exit_status, run.signal = collect.split_returncode(outcome.returncode)
        run.elapsed_s = outcome.elapsed_s
        run.logs = collect.collect_logs(test_dir, config.out, captured=[copy_path])
        for log in run.logs:
            for report in log.reports:
                report.test = name
        if outcome.timed_out:
            return run, dataclasses.replace(_hang(f"test {name}", config.timeout_s), test=name)
        return run, None

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, config.jobs)) as pool:
        done = list(pool.map(one, enumerate(names, start=1)))
    gate.tests = [run for run, _problem in done]
    results.problems.extend(problem for _run, problem in done if problem is not None)
    results.logs.extend(log for run in gate.tests for log in run.logs)
    gate.elapsed_s = time.monotonic() - started
    statuses = [run.exit_status for run in gate.tests]
    gate.exit_status = 0 if all(s == 0 for s in statuses) else 8  # ctest's "tests failed"
    config.echo((ctest_runs.closing_line(statuses) + "\n").encode())
    if not names:
        results.notes.append(f"'{' '.join(command)}' selects no test"
                             + (f" in shard {gate.shard}" if gate.shard else ""))


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
