"""Run scenario servers under load, stop them, and judge what their TSan logs say.

For each scenario, bad then fixed, `--repeat` times:
  1. a fresh log folder OUT/logs/<name>/<variant>/run<k>/ and TSAN_OPTIONS pointing there;
  2. start `<bin>/<name>_<variant> --port 0 --threads T`, wait (with a deadline) for
     "racelab: listening on HOST:PORT";
  3. run racelab-load with the scenario's profile (with a deadline), read its JSON;
  4. SIGTERM, wait (with a deadline), SIGKILL a server that hangs;
  5. parse every tsan.* file (and the server's stderr) into reports.
Every step that cannot be trusted (no listening line, hang, crash, bad load output,
truncated or missing log) becomes an error, and any error makes the scenario's verdict
"error": racelab never passes what it could not check.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

from . import baseline as baseline_file
from . import parse, suppressions
from . import patterns as P
from . import procs
from .model import (Baseline, Finding, LoadResult, RunOutcome, RunResults, Scenario,
                    ScenarioResult, SuppressionFile, VariantOutcome, merge_reports)
from .progress import Progress
from .tsan_env import SYMBOLIZERS, TSAN_EXIT_CODE, tsan_options  # noqa: F401 (re-exported)

LOAD_DRIVER = "racelab-load"


@dataclass
class RunConfig:
    root: Path                       # holds scenarios/ (manifests)
    bin_dir: Path                    # holds <name>_bad, <name>_fixed, racelab-load
    out: Path                        # results.json, summary.md, logs/
    variants: tuple[str, ...] = ("bad", "fixed")
    repeat: int = 1
    jobs: int = 1
    listen_timeout_s: float = 30.0
    load_timeout_s: float = 300.0
    stop_timeout_s: float = 20.0
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    suppressions: SuppressionFile | None = None  # passed to TSan, counted afterwards
    baseline: Baseline | None = None  # known findings: status "known", not "new"
    today: date = field(default_factory=date.today)


# --- Running everything --------------------------------------------------------------------

def run_scenarios(scenarios: Sequence[Scenario], config: RunConfig,
                  progress: Progress) -> RunResults:
    """Run every scenario (config.jobs at a time) and judge each; results keep the order
    of `scenarios`."""
    total = len(scenarios)

    def one(item: tuple[int, Scenario]) -> ScenarioResult:
        index, scenario = item
        return run_scenario(scenario, index, total, config, progress)

    items = list(enumerate(scenarios, start=1))
    if config.jobs <= 1 or total <= 1:
        results = RunResults([one(item) for item in items])
    else:
        with concurrent.futures.ThreadPoolExecutor(max_workers=config.jobs) as pool:
            results = RunResults(list(pool.map(one, items)))
    findings = results.findings()
    if config.baseline is not None:
        results.baseline = baseline_file.apply(config.baseline, findings, config.today)
    if config.suppressions is not None:
        matched = [m for s in results.scenarios for v in s.variants() for r in v.runs
                   for m in r.matched]
        results.suppressions = suppressions.check(config.suppressions, matched, findings)
    return results


def run_scenario(scenario: Scenario, index: int, total: int, config: RunConfig,
                 progress: Progress) -> ScenarioResult:
    result = ScenarioResult(name=scenario.name)
    for variant in config.variants:
        outcome = VariantOutcome(variant=variant)
        for k in range(1, config.repeat + 1):
            label = f"[{index}/{total}] {scenario.name} {variant}"
            if config.repeat > 1:
                label += f" run {k}/{config.repeat}"
            key = f"{scenario.name}/{variant}/{k}"
            status = f"scenario {index}/{total} {scenario.name} {variant}"
            if config.repeat > 1:
                status += f" run {k}/{config.repeat}"
            progress.begin(key, status)
            run = run_once(scenario, variant, k, config)
            progress.end(key)
            outcome.runs.append(run)
            progress.line(f"{label}: {_describe_run(run)}")
        outcome.findings = merge_findings(outcome.runs, scenario.name, variant)
        if config.baseline is not None:
            baseline_file.apply(config.baseline, outcome.findings, config.today)
        setattr(result, variant, outcome)
    judge(scenario, result)
    if result.verdict == "pass":
        progress.line(f"{scenario.name}: pass")
    for reason in result.reasons:
        progress.line(f"{scenario.name}: {result.verdict}: {reason}")
    return result


def merge_findings(runs: Sequence[RunOutcome], scenario: str | None,
                   variant: str | None) -> list[Finding]:
    """The union of the runs' reports by fingerprint; count = occurrences."""
    return merge_reports((r for run in runs for r in run.reports), scenario, variant)


def judge(scenario: Scenario, result: ScenarioResult) -> None:
    """Set result.verdict and result.reasons (and each variant's failures) from the
    scenario's expectations. A variant with errors is not judged further: its errors are
    the reasons. A fixed variant's finding that a baseline excuses ("known") or that a
    suppression matched does not make it unclean; the bad variant's expectations are met
    by any finding, whatever its status."""
    errors = [f"{v.variant}: {e}" for v in result.variants() for e in v.errors()]
    bad, fixed = result.bad, result.fixed
    if bad is not None and bad.errors():
        bad = None
    if fixed is not None and fixed.errors():
        fixed = None
    if bad is not None:
        bad.failures = []
        for expect in scenario.bad_expect:
            pattern = re.compile(expect.function)
            if not any(f.report.kind == expect.kind
                       and any(pattern.search(fn) for fn in f.report.functions())
                       for f in bad.findings):
                bad.failures.append(f"bad variant lost its bug: no {expect.describe()}")
    if fixed is not None:
        fixed.failures = []
        unclean = [f for f in fixed.findings if f.status == "new"]
        if scenario.fixed_clean and unclean:
            kinds = ", ".join(sorted({f.report.kind for f in unclean}))
            fixed.failures.append(f"fixed variant is not clean: {len(unclean)} "
                                  f"finding(s) ({kinds})")
        for run in fixed.runs:
            if run.load is None:
                errors.append("fixed: no load result")  # unreachable without an error
                continue
            ok = run.load.ok_count()
            if ok < scenario.min_ok:
                fixed.failures.append(f"fixed variant served {ok} 2xx responses, fewer "
                                      f"than min_ok {scenario.min_ok}")
            bound = scenario.max_peak_threads
            if bound is not None:
                peak = run.load.peak_threads
                if peak is None:
                    errors.append("fixed: cannot check max_peak_threads: the load driver "
                                  "reported no peak_threads")
                elif peak > bound:
                    fixed.failures.append(f"fixed variant peaked at {peak} threads, more "
                                          f"than max_peak_threads {bound}")
    failures = [f for v in (bad, fixed) if v is not None for f in v.failures]
    if errors:
        result.verdict, result.reasons = "error", errors + failures
    elif failures:
        result.verdict, result.reasons = "fail", failures
    else:
        result.verdict, result.reasons = "pass", []


def _describe_run(run: RunOutcome) -> str:
    took = f"in {run.elapsed_s:.1f}s"
    if run.errors:
        return f"error: {run.errors[0]} {took}"
    n = len(run.reports)
    if n == 0:
        parts = ["clean"]
        if run.load is not None:
            parts.append(f"{run.load.ok_count()}/{run.load.requests} ok")
            if run.load.peak_threads is not None:
                parts.append(f"peak {run.load.peak_threads} threads")
        return f"{', '.join(parts)} {took}"
    kinds = ", ".join(sorted({r.kind for r in run.reports}))
    return f"{n} finding{'s' if n != 1 else ''} ({kinds}) {took}"


# --- One start / load / stop cycle ---------------------------------------------------------

def run_once(scenario: Scenario, variant: str, k: int, config: RunConfig) -> RunOutcome:
    started = time.monotonic()
    log_dir = config.out / "logs" / scenario.name / variant / f"run{k}"
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    run = RunOutcome(index=k, log_dir=log_dir)
    try:
        _serve_and_load(scenario, variant, config, run)
    finally:
        _collect_logs(run, config.out)
        run.elapsed_s = time.monotonic() - started
    return run


def _serve_and_load(scenario: Scenario, variant: str, config: RunConfig,
                    run: RunOutcome) -> None:
    server = config.bin_dir / f"{scenario.name}_{variant}"
    load_driver = config.bin_dir / LOAD_DRIVER
    for binary in (server, load_driver):
        if not os.access(binary, os.X_OK):
            run.errors.append(f"missing executable {binary} (build it, or check --build-dir)")
            return
    env = dict(config.env)
    env["TSAN_OPTIONS"] = tsan_options(run.log_dir / "tsan", config.env.get("TSAN_OPTIONS"),
                                       suppressions=(config.suppressions.path
                                                     if config.suppressions else None))
    name = server.name
    with open(run.log_dir / "server.stderr", "wb") as stderr:
        try:
            proc = subprocess.Popen(
                [str(server), "--port", "0", "--threads", str(scenario.load.threads)],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr, env=env,
                start_new_session=True)
        except OSError as err:
            run.errors.append(f"{name} could not start: {err}")
            return
    assert proc.stdout is not None
    reader = _LineReader(proc.stdout, run.log_dir / "server.stdout")
    try:
        endpoint = reader.wait_for(P.LISTENING_LINE, config.listen_timeout_s)
        if endpoint is None:
            if reader.saw_eof:
                # Its stdout closed: it is exiting; let it finish so its status is known.
                try:
                    proc.wait(timeout=config.stop_timeout_s)
                except subprocess.TimeoutExpired:
                    pass
            if proc.poll() is None:
                procs.kill_group(proc)
                run.errors.append(f"{name} never printed its listening line "
                                  f"(none within {config.listen_timeout_s:g}s)")
            else:
                run.exit_status, run.signal = _status_of(proc.returncode)
                run.errors.append(f"{name} never printed its listening line "
                                  f"(exited with {_exit_text(proc.returncode)})")
            return
        host = endpoint["host"].strip("[]")
        port = int(endpoint["port"])
        run.load = _drive_load(load_driver, host, port, proc.pid, scenario, config, run)
        _stop(proc, name, config.stop_timeout_s, run)
    finally:
        if proc.poll() is None:  # only after an unexpected exception above
            procs.kill_group(proc)
        reader.join(timeout=5.0)


def _drive_load(load_driver: Path, host: str, port: int, pid: int, scenario: Scenario,
                config: RunConfig, run: RunOutcome) -> LoadResult | None:
    profile = scenario.load
    cmd = [str(load_driver), "--host", host, "--port", str(port),
           "--connections", str(profile.connections), "--requests", str(profile.requests)]
    for path in profile.paths:
        cmd += ["--path", path]
    cmd += ["--disconnects", str(profile.disconnects), "--pid", str(pid)]
    try:
        done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=config.load_timeout_s, env=dict(config.env))
    except subprocess.TimeoutExpired:
        run.errors.append(f"load driver did not finish within {config.load_timeout_s:g}s")
        return None
    except OSError as err:
        run.errors.append(f"load driver could not start: {err}")
        return None
    (run.log_dir / "load.stdout").write_bytes(done.stdout)
    (run.log_dir / "load.stderr").write_bytes(done.stderr)
    if done.returncode != 0:
        last = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        run.errors.append(f"load driver failed ({_exit_text(done.returncode)})"
                          + (f": {last[0]}" if last[0] else ""))
        return None
    try:
        return parse_load_output(done.stdout.decode("utf-8", "replace"))
    except ValueError as err:
        run.errors.append(f"load driver output unusable: {err}")
        return None


def parse_load_output(text: str) -> LoadResult:
    """The one JSON object racelab-load prints. Raises ValueError on anything else."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"not one JSON object ({err.msg} at char {err.pos})") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")

    def count(key: str, value: Any = None) -> int:
        value = data.get(key) if value is None else value
        if type(value) is not int or value < 0:
            raise ValueError(f"field {key!r} must be a non-negative integer, got {value!r}")
        return value

    status = data.get("status")
    if not isinstance(status, dict):
        raise ValueError("field 'status' must be an object of status code -> count")
    latency = data.get("latency_ms")
    if not isinstance(latency, dict) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in latency.values()):
        raise ValueError("field 'latency_ms' must be an object of numbers")
    peak = data.get("peak_threads")
    if peak is not None:
        peak = count("peak_threads")
    elapsed = data.get("elapsed_ms")
    if not isinstance(elapsed, (int, float)) or isinstance(elapsed, bool):
        raise ValueError(f"field 'elapsed_ms' must be a number, got {elapsed!r}")
    return LoadResult(
        requests=count("requests"),
        status={str(k): count(f"status.{k}", v) for k, v in status.items()},
        transport_errors=count("transport_errors"),
        disconnects=count("disconnects"),
        latency_ms={str(k): float(v) for k, v in latency.items()},
        peak_threads=peak,
        elapsed_ms=float(elapsed),
    )


def _stop(proc: subprocess.Popen, name: str, timeout_s: float, run: RunOutcome) -> None:
    """SIGTERM, wait, classify the exit; SIGKILL (and an error) when it hangs."""
    exited_early = proc.poll() is not None
    if not exited_early:
        try:
            proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            procs.kill_group(proc)
            run.errors.append(f"hang: {name} did not exit within {timeout_s:g}s of SIGTERM")
            return
    status = proc.returncode
    run.exit_status, run.signal = _status_of(status)
    if status < 0:
        run.errors.append(f"{name} crashed (signal {run.signal})")
    elif status not in (0, TSAN_EXIT_CODE):
        run.errors.append(f"{name} crashed (status {status})")
    elif exited_early:
        run.errors.append(f"{name} exited on its own (status {status}) before SIGTERM")


def _status_of(returncode: int) -> tuple[int | None, str | None]:
    if returncode < 0:
        return None, _signal_name(-returncode)
    return returncode, None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _exit_text(returncode: int) -> str:
    if returncode < 0:
        return f"signal {_signal_name(-returncode)}"
    return f"status {returncode}"


def _collect_logs(run: RunOutcome, out: Path) -> None:
    """Parse tsan.* (and the server's stderr, where reports land if log_path failed)."""
    files = sorted(run.log_dir.glob("tsan.*"))
    stderr = run.log_dir / "server.stderr"
    for path in files + ([stderr] if stderr.is_file() else []):
        source = _relative(path, out)
        result, readable = parse.parse_file(path, source=source)
        run.matched.extend(suppressions.matched_in_file(path, source))
        if path != stderr:
            run.log_files.append(source)
        elif not result.reports and not result.errors:
            continue
        run.reports.extend(result.reports)
        for error in result.errors:
            what = "truncated TSan log" if "truncated" in error.message else "bad TSan log"
            run.errors.append(f"{what}: {error.one_line()}")
    if run.exit_status == TSAN_EXIT_CODE and not run.reports:
        run.errors.append(f"exit status {TSAN_EXIT_CODE} says TSan reported, but no report "
                          f"was found in {_relative(run.log_dir, out)}")


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)


class _LineReader:
    """Drains a child's stdout on a thread: every line goes to a file and a queue, so the
    child never blocks on a full pipe and the caller can wait for one line with a deadline."""

    _EOF = object()

    def __init__(self, pipe: IO[bytes], copy_to: Path) -> None:
        self._pipe = pipe
        self._copy_to = copy_to
        self._lines: queue.Queue[Any] = queue.Queue()
        self.saw_eof = False  # wait_for reached the end of the output
        self._thread = threading.Thread(target=self._pump, name="racelab-stdout", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        with open(self._copy_to, "wb") as copy:
            try:
                for raw in self._pipe:
                    copy.write(raw)
                    copy.flush()
                    self._lines.put(raw.decode("utf-8", "replace").rstrip("\r\n"))
            except (OSError, ValueError):
                pass
            finally:
                self._lines.put(self._EOF)

    def wait_for(self, pattern: re.Pattern[str], timeout_s: float) -> re.Match[str] | None:
        """The match of the first line that matches, or None at EOF or after timeout_s."""
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                return None
            if line is self._EOF:
                self.saw_eof = True
                self._lines.put(self._EOF)  # later waits see the end too
                return None
            match = pattern.match(line)
            if match:
                return match

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self._pipe.close()
