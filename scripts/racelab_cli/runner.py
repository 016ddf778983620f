"""Run scenario servers under load, stop them, and hand their logs to the pipeline.

For each scenario, bad then fixed, `--repeat` times:
  1. a fresh log folder OUT/logs/<name>/<variant>/run<k>/ and the instrumented environment
     (collect.instrumented_env) pointing there;
  2. start `<bin>/<name>_<variant> --port 0 --threads T` (the manifest's [server]), wait
     (with a deadline) for "racelab: listening on HOST:PORT" (start_server);
  3. run racelab-load with the scenario's [load] profile (with a deadline), read its JSON;
  4. check the scenario's invariants over HTTP;
  5. SIGTERM, wait (with a deadline), SIGKILL a server that hangs (stop_server);
  6. collect.collect_logs: every tsan.* file (and the server's stderr) into reports
     (collect_run_logs).
`racelab bench-http` (bench_http.py) starts, stops and reads its servers with the same
three functions.
Then the findings of each variant are merged (model.merge_findings), classified
(collect.classify) and judged (judge.py). Every step that cannot be trusted (no listening
line, hang, crash, bad load output, truncated or missing log) becomes a Problem, and any
problem makes the scenario's verdict "error": racelab never passes what it could not check.
"""

from __future__ import annotations

import concurrent.futures
import http.client
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

from . import collect, harness, judge, procs, stacks
from . import patterns as P
from .model import (Baseline, Invariant, InvariantCheck, LoadResult, Problem, ProblemKind,
                    Report, Results, RunOutcome, Scenario, ScenarioResult, SuppressionFile,
                    Variant, VariantOutcome, merge_findings)
from .progress import Progress

LOAD_DRIVER = "racelab-load"
HOLD_ENV = "RACELAB_HOLD_AFTER_SHUTDOWN"
INVARIANT_TIMEOUT_S = 10.0


@dataclass
class RunConfig:
    root: Path                       # holds scenarios/ (manifests)
    bin_dir: Path                    # holds <name>_bad, <name>_fixed, racelab-load
    out: Path                        # results.json, summary.md, logs/
    variants: tuple[Variant, ...] = (Variant.BAD, Variant.FIXED)
    repeat: int = 1
    jobs: int = 1
    listen_timeout_s: float = 30.0
    load_timeout_s: float = 300.0
    stop_timeout_s: float = 20.0
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    suppressions: SuppressionFile | None = None  # applied by racelab to the findings
    baseline: Baseline | None = None  # known findings: status "known", not "new"
    today: date = field(default_factory=date.today)
    sanitizer: str = "tsan"           # the build the servers come from: tsan or asan


# --- Running everything --------------------------------------------------------------------

def run_scenarios(scenarios: Sequence[Scenario], config: RunConfig,
                  progress: Progress) -> Results:
    """Run every scenario (config.jobs at a time) and judge each; results keep the order
    of `scenarios`."""
    total = len(scenarios)

    def one(item: tuple[int, Scenario]) -> ScenarioResult:
        index, scenario = item
        return run_scenario(scenario, index, total, config, progress)

    items = list(enumerate(scenarios, start=1))
    if config.jobs <= 1 or total <= 1:
        done = [one(item) for item in items]
    else:
        with concurrent.futures.ThreadPoolExecutor(max_workers=config.jobs) as pool:
            done = list(pool.map(one, items))
    results = Results(scenarios=done, findings=[f for s in done for f in s.findings()])
    results.baseline, results.suppressions = collect.classify(
        results.findings, baseline=config.baseline, suppression_file=config.suppressions,
        matched=[m for s in done for v in s.variants() for r in v.runs for log in r.logs
                 for m in log.matched],
        today=config.today)
    return results


def run_scenario(scenario: Scenario, index: int, total: int, config: RunConfig,
                 progress: Progress) -> ScenarioResult:
    result = ScenarioResult(name=scenario.name)
    for variant in config.variants:
        outcome = VariantOutcome(variant=variant)
        for k in range(1, config.repeat + 1):
            label = f"[{index}/{total}] {scenario.name} {variant}"
            status = f"scenario {index}/{total} {scenario.name} {variant}"
            if config.repeat > 1:
                label += f" run {k}/{config.repeat}"
                status += f" run {k}/{config.repeat}"
            key = f"{scenario.name}/{variant}/{k}"
            progress.begin(key, status)
            run = run_once(scenario, variant, k, config)
            progress.end(key)
            outcome.runs.append(run)
            progress.line(f"{label}: {_describe_run(run)}")
        outcome.findings = merge_findings([run.reports for run in outcome.runs],
                                          scenario.name, variant)
        collect.classify(outcome.findings, baseline=config.baseline,
                         suppression_file=config.suppressions, today=config.today)
        setattr(result, str(variant), outcome)
    judge.judge_scenario(scenario, result)
    if config.repeat > 1:
        for outcome in result.variants():
            what = "reproduced" if outcome.variant == Variant.BAD else "clean"
            progress.line(f"{scenario.name} {outcome.variant}: {what} in "
                          f"{outcome.runs_passed}/{len(outcome.runs)} runs")
    if not result.reasons:
        progress.line(f"{scenario.name}: {result.verdict}")
    for reason in result.reasons:
        progress.line(f"{scenario.name}: {result.verdict}: {reason}")
    return result


def _describe_run(run: RunOutcome) -> str:
    took = f"in {run.elapsed_s:.1f}s"
    if run.problems:
        return f"error: {run.problems[0].one_line()} {took}"
    reports = run.reports
    if not reports:
        parts = ["clean"]
        if run.load is not None:
            parts.append(f"{run.load.ok_count()}/{run.load.requests} ok")
            if run.load.peak_threads is not None:
                parts.append(f"peak {run.load.peak_threads} threads")
        return f"{', '.join(parts)} {took}"
    kinds = ", ".join(sorted({r.kind for r in reports}))
    n = len(reports)
    return f"{n} finding{'s' if n != 1 else ''} ({kinds}) {took}"


# --- One start / load / stop cycle ---------------------------------------------------------

def run_once(scenario: Scenario, variant: Variant, k: int, config: RunConfig) -> RunOutcome:
    started = time.monotonic()
    log_dir = config.out / "logs" / scenario.name / str(variant) / f"run{k}"
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    run = RunOutcome(index=k, log_dir=log_dir)
    try:
        _serve_and_load(scenario, variant, config, run)
    finally:
        collect_run_logs(run, config.out, f"{scenario.name}_{variant}",
                         require_instrumented=run.load is not None)
        run.elapsed_s = time.monotonic() - started
    return run


def collect_run_logs(run: RunOutcome, out: Path, name: str, *,
                     require_instrumented: bool) -> None:
    """After a server of `run` has stopped: its logs (every tsan.* file of run.log_dir and
    the reports in its stderr) into run.logs, their problems into run.problems, and a
    problem when `require_instrumented` and no process left the runtime's start-up mark, or
    when it exited 66 and no report was found."""
    run.logs = collect.collect_logs(run.log_dir, out, captured=[run.log_dir / "server.stderr"])
    run.problems.extend(collect.problems_of(run.logs))
    if require_instrumented and run.instrumented == 0:
        run.problems.append(collect.not_instrumented(name))
    if run.exit_status == collect.TSAN_EXIT_CODE and not collect.reports_of(run.logs):
        run.problems.append(Problem(
            ProblemKind.TSAN_EXIT_WITHOUT_REPORT,
            f"exit status {collect.TSAN_EXIT_CODE} says TSan reported, but no report "
            f"was found in {collect.relative(run.log_dir, out)}"))


def _serve_and_load(scenario: Scenario, variant: Variant, config: RunConfig,
                    run: RunOutcome) -> None:
    server = config.bin_dir / f"{scenario.name}_{variant}"
    load_driver = config.bin_dir / LOAD_DRIVER
    for binary in (server, load_driver):
        if not os.access(binary, os.X_OK):
            run.problems.append(Problem(ProblemKind.CANNOT_START,
                                        f"missing executable {binary} (build it, or check "
                                        "--build-dir)"))
            return
    env = collect.instrumented_env(config.env, run.log_dir, config.sanitizer)
    env[HOLD_ENV] = "1"  # wait on stdin after shutdown, so leaked threads can be read
    served = start_server([str(server), "--port", "0", "--threads",
                           str(scenario.server.io_threads)], env, run,
                          listen_timeout_s=config.listen_timeout_s,
                          stop_timeout_s=config.stop_timeout_s)
    if served is None:
        return
    try:
        host, port, proc = served.host, served.port, served.proc
        expects_hang = variant == Variant.BAD and any(e.kind == "hang"
                                                      for e in scenario.bad_expect)
        run.load = _drive_load(load_driver, host, port, proc.pid, scenario, config, run)
        if run.load is None and any(p.kind == ProblemKind.HANG for p in run.problems):
            _record_hang(proc.pid, f"{served.name} under load outlived the load deadline", run)
        if run.load is not None and proc.poll() is None:
            run.invariants = [_check_invariant(i, host, port, run) for i in scenario.invariants]
            run.harness_reports.extend(harness.invariant_violation(c) for c in run.invariants
                                       if not c.held)
            growth = harness.thread_growth(scenario, run.load)
            if growth is not None:
                run.harness_reports.append(growth)
        stop_server(served, config.stop_timeout_s, run, expects_hang=expects_hang)
    finally:
        served.close()


# --- Starting a server ---------------------------------------------------------------------

@dataclass
class Served:
    """A server `start_server` started and heard from: its process (the leader of its own
    process group), the reader of its stdout, and where it listens."""

    proc: subprocess.Popen
    reader: "_LineReader"
    name: str
    host: str
    port: int

    def close(self) -> None:
        """Kill it if it still runs (only after an unexpected exception: stop_server reaps
        it), and let go of its stdout."""
        if self.proc.poll() is None:
            procs.kill_group(self.proc)
        self.reader.join(timeout=5.0)


def start_server(cmd: Sequence[str], env: Mapping[str, str], run: RunOutcome, *,
                 listen_timeout_s: float, stop_timeout_s: float) -> Served | None:
    """Start `cmd` (a scenario server, or anything that prints the same "racelab: listening
    on HOST:PORT" line) with its stdout copied to run.log_dir/server.stdout and its stderr
    to run.log_dir/server.stderr, and wait, up to listen_timeout_s, for its listening line.
    None, with a problem in run.problems, when it cannot start or never says where it
    listens; it is then reaped (killed when it still runs)."""
    name = Path(cmd[0]).name
    with open(run.log_dir / "server.stderr", "wb") as stderr:
        try:
            proc = subprocess.Popen(
                list(cmd), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                env=dict(env), start_new_session=True)
        except OSError as err:
            run.problems.append(Problem(ProblemKind.CANNOT_START,
                                        f"{name} could not start: {err}"))
            return None
    assert proc.stdout is not None
    reader = _LineReader(proc.stdout, run.log_dir / "server.stdout")
    endpoint: re.Match[str] | None = None
    try:
        endpoint = reader.wait_for(P.LISTENING_LINE, listen_timeout_s)
        if endpoint is None:
            _no_listening_line(proc, reader, name, listen_timeout_s, stop_timeout_s, run)
            return None
        return Served(proc, reader, name, endpoint["host"].strip("[]"), int(endpoint["port"]))
    finally:
        if endpoint is None:
            if proc.poll() is None:  # only after an unexpected exception above
                procs.kill_group(proc)
            reader.join(timeout=5.0)


def _no_listening_line(proc: subprocess.Popen, reader: "_LineReader", name: str,
                       listen_timeout_s: float, stop_timeout_s: float,
                       run: RunOutcome) -> None:
    if reader.saw_eof:
        # Its stdout closed: it is exiting; let it finish so its status is known.
        try:
            proc.wait(timeout=stop_timeout_s)
        except subprocess.TimeoutExpired:
            pass
    if proc.poll() is None:
        procs.kill_group(proc)
        run.problems.append(Problem(ProblemKind.NO_LISTENING_LINE,
                                    f"{name} never printed its listening line "
                                    f"(none within {listen_timeout_s:g}s)"))
    else:
        run.exit_status, run.signal = collect.split_returncode(proc.returncode)
        run.problems.append(Problem(ProblemKind.NO_LISTENING_LINE,
                                    f"{name} never printed its listening line "
                                    f"(exited with {collect.exit_text(proc.returncode)})"))


def _drive_load(load_driver: Path, host: str, port: int, pid: int, scenario: Scenario,
                config: RunConfig, run: RunOutcome) -> LoadResult | None:
    profile = scenario.load
    cmd = [str(load_driver), "--host", host, "--port", str(port),
           "--connections", str(profile.connections), "--requests", str(profile.requests)]
    for path in profile.paths:
        cmd += ["--path", path]
    for header in profile.headers:
        cmd += ["--header", header]
    cmd += ["--disconnects", str(profile.disconnects), "--pid", str(pid)]
    try:
        done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=config.load_timeout_s, env=dict(config.env))
    except subprocess.TimeoutExpired:
        run.problems.append(Problem(ProblemKind.HANG,
                                    f"hang: load driver did not finish within "
                                    f"{config.load_timeout_s:g}s"))
        return None
    except OSError as err:
        run.problems.append(Problem(ProblemKind.CANNOT_START,
                                    f"load driver could not start: {err}"))
        return None
    (run.log_dir / "load.stdout").write_bytes(done.stdout)
    (run.log_dir / "load.stderr").write_bytes(done.stderr)
    if done.returncode != 0:
        last = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        run.problems.append(Problem(ProblemKind.LOAD_FAILED,
                                    f"load driver failed ({collect.exit_text(done.returncode)})"
                                    + (f": {last[0]}" if last[0] else "")))
        return None
    try:
        return parse_load_output(done.stdout.decode("utf-8", "replace"))
    except ValueError as err:
        run.problems.append(Problem(ProblemKind.LOAD_FAILED,
                                    f"load driver output unusable: {err}"))
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
    paths = data.get("paths", {})
    if not isinstance(paths, dict) or not all(
            isinstance(v, dict) and isinstance(v.get("status", {}), dict)
            for v in paths.values()):
        raise ValueError("field 'paths' must be an object of path -> {\"status\": {...}}")
    return LoadResult(
        paths={str(p): {str(k): count(f"paths.{p}.status.{k}", n)
                        for k, n in (v.get("status") or {}).items()}
               for p, v in paths.items()},
        requests=count("requests"),
        status={str(k): count(f"status.{k}", v) for k, v in status.items()},
        transport_errors=count("transport_errors"),
        disconnects=count("disconnects"),
        latency_ms={str(k): float(v) for k, v in latency.items()},
        peak_threads=peak,
        elapsed_ms=float(elapsed),
    )


# --- Invariants ----------------------------------------------------------------------------

def _check_invariant(invariant: Invariant, host: str, port: int,
                     run: RunOutcome) -> InvariantCheck:
    """GET the invariant's path, read the first integer of the body, compare."""
    assert run.load is not None
    expected = expected_value(invariant, run.load)
    if expected is None:
        run.problems.append(Problem(ProblemKind.INVARIANT_UNCHECKABLE,
                                    f"invariant '{invariant.description}': the load driver "
                                    f"reported no count for {invariant.value}"))
        return InvariantCheck(invariant, None, None, True)
    observed = None
    try:
        connection = http.client.HTTPConnection(host, port, timeout=INVARIANT_TIMEOUT_S)
        try:
            connection.request("GET", invariant.path)
            response = connection.getresponse()
            body = response.read(64 * 1024).decode("utf-8", "replace")
        finally:
            connection.close()
        found = P.BODY_INTEGER.search(body) if response.status == 200 else None
        if found is None:
            run.problems.append(Problem(
                ProblemKind.INVARIANT_UNCHECKABLE,
                f"invariant '{invariant.description}': GET {invariant.path} answered "
                f"{response.status} with no number in its body"))
        else:
            observed = int(found["value"])
    except (OSError, http.client.HTTPException) as err:
        run.problems.append(Problem(ProblemKind.INVARIANT_UNCHECKABLE,
                                    f"invariant '{invariant.description}': GET "
                                    f"{invariant.path} failed: {err}"))
    held = observed is None or _holds(invariant.op, observed, expected)
    return InvariantCheck(invariant, expected, observed, held)


def expected_value(invariant: Invariant, load: LoadResult) -> int | None:
    """The number an invariant compares with: a literal, or a count of the load."""
    if invariant.value.lstrip("-").isdigit():
        return int(invariant.value)
    found = P.LOAD_COUNT.match(invariant.value)
    if found is None or found["path"] not in load.paths:
        return None  # the load driver did not count that path
    if found["what"] == "ok":
        return load.ok_count(found["path"])
    return load.request_count(found["path"])


def _holds(op: str, observed: int, expected: int) -> bool:
    if op == "equals":
        return observed == expected
    if op == "at_most":
        return observed <= expected
    return observed >= expected


# --- Stopping ------------------------------------------------------------------------------

def _release(proc: subprocess.Popen) -> None:
    """Close the server's stdin: a server holding after shutdown exits."""
    if proc.stdin is not None:
        try:
            proc.stdin.close()
        except OSError:
            pass


def shutdown_findings(lines: Sequence[str], pid: int, held: bool,
                      run: RunOutcome) -> list[Report]:
    """The server's own findings at shutdown, as racelab findings; a leaked thread gets
    its stack from gdb while the server holds."""
    found = []
    for line in lines:
        match = P.SERVER_FINDING.match(line)
        if match is None:
            continue
        try:
            data = json.loads(match["json"])
        except ValueError:
            run.problems.append(Problem(ProblemKind.LOAD_FAILED,
                                        f"unreadable server finding: {line[:200]}"))
            continue
        if isinstance(data, dict) and isinstance(data.get("kind"), str):
            found.append(data)
    captured = None
    if held and any(d["kind"] == "leaked-thread" for d in found):
        captured = stacks.capture(pid)
        stacks.write(captured, run.log_dir / "stacks.txt")
    return [harness.server_report(d, captured) for d in found]


def _record_hang(pid: int, what: str, run: RunOutcome) -> None:
    """Every thread's stack of a hung server, as a `hang` finding (and stacks.txt)."""
    captured = stacks.capture(pid)
    path = run.log_dir / "stacks.txt"
    stacks.write(captured, path)
    run.harness_reports.append(stacks.hang_report(what, captured, str(path.name)))


def stop_server(served: Served, timeout_s: float, run: RunOutcome, *,
                expects_hang: bool = False) -> None:
    """SIGTERM; read what the server found at shutdown (`racelab: finding {...}` lines)
    and, while it holds after "racelab: shutdown complete", the stacks of the threads it
    left behind; release it (close stdin), wait, classify the exit. When it does not exit:
    its stacks (a `hang` finding), SIGKILL, and a problem unless the scenario expects it."""
    proc, name, reader = served.proc, served.name, served.reader
    exited_early = proc.poll() is not None
    if not exited_early:
        try:
            proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout_s
        held = reader.wait_for(P.SHUTDOWN_COMPLETE, timeout_s)
        run.harness_reports.extend(shutdown_findings(reader.lines_seen(), proc.pid,
                                                     held is not None, run))
        _release(proc)
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            what = f"{name} did not exit within {timeout_s:g}s of SIGTERM"
            _record_hang(proc.pid, what, run)
            procs.kill_group(proc)
            if not expects_hang:
                run.problems.append(Problem(ProblemKind.HANG, f"hang: {what}"))
            return
    run.exit_status, run.signal = collect.split_returncode(proc.returncode)
    outcome = collect.exit_problems(name, run.exit_status, run.signal, [], [], server=True)
    crashed = [p for p in outcome.problems if p.kind != ProblemKind.TSAN_EXIT_WITHOUT_REPORT]
    run.problems.extend(crashed)
    if exited_early and not crashed:  # even with exit 66: a server must wait for SIGTERM
        run.problems.append(Problem(ProblemKind.EARLY_EXIT,
                                    f"{name} exited on its own (status {run.exit_status}) "
                                    "before SIGTERM"))


class _LineReader:
    """Drains a child's stdout on a thread: every line goes to a file and a queue, so the
    child never blocks on a full pipe and the caller can wait for one line with a deadline."""

    _EOF = object()

    def __init__(self, pipe: IO[bytes], copy_to: Path) -> None:
        self._pipe = pipe
        self._copy_to = copy_to
        self._lines: queue.Queue[Any] = queue.Queue()
        self.saw_eof = False  # wait_for reached the end of the output
        self._seen: list[str] = []  # every line wait_for consumed, in order
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
            self._seen.append(line)
            match = pattern.match(line)
            if match:
                return match

    def lines_seen(self) -> list[str]:
        """The lines wait_for has read so far."""
        return list(self._seen)

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self._pipe.close()
