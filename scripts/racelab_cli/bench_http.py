"""`racelab bench-http`: a fixed scenario server against Go's net/http, measured side by side.

One invocation measures both sides of every comparison, so the ratios it prints hold on a
shared, noisy machine where absolute figures drift between runs:

    release  <name>_fixed of the release preset  vs  go-reference (go build)       wrk, C conns
             the same two at --hc-connections (256)                                 p99 compared
    tsan     <name>_fixed of the tsan preset     vs  go-reference (go build -race)  wrk, C conns
    load     racelab-load                        vs  wrk, against the release server
    soak     the release server, then Go's, under wrk for --soak S; VmRSS every second

Each stage starts its servers on port 0 and reads their listening line (runner.start_server,
the code `racelab run` starts servers with), warms each up, then runs --rounds rounds
alternating between the two sides (ABBA: odd rounds left side first, even rounds right
side first) and takes the median of each figure of each side. Servers are stopped as
`racelab run` stops them (runner.stop_server: SIGTERM, the shutdown lines, a deadline), and
the TSan servers run in the instrumented environment (collect.instrumented_env) and their
logs go through the same pipeline (runner.collect_run_logs): a report there, or a finding a
racelab server makes about itself at shutdown, is a real finding.

Speed is never judged here: every target is printed as met or MISSED. Exit 0 when it
measured, 1 when a server reported a finding under benchmark load, 2 when it could not
measure (a server that did not start, wrk failing or answering non-2xx, a truncated log);
2 wins over 1, as everywhere in racelab.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import collect, runner
from . import patterns as P
from .model import (EXIT_PASS, EXIT_REFUSE, EXIT_UNDECIDED, Frame, Problem, ProblemKind,
                    Report, RunOutcome)
from .progress import Progress

SCHEMA = "racelab.bench/1"
GO_PATH = "/hit"  # the reference serves the counter's routes (harness/bench/go_reference)
STAGES = ("release", "tsan", "load", "soak")
DEFAULT_STAGES = ("release", "tsan", "load")  # soak too when --soak S > 0
DEFAULT_SOAK_S = 60  # `--only soak` without --soak

# The targets (docs/reference.md, harness/bench/README.md). Shown, never enforced.
TARGET_RELEASE = 1.5   # release req/s over Go's
TARGET_TSAN = 1.0      # tsan req/s over Go -race's
TARGET_P99 = 1.0       # release p99 over Go's at --hc-connections, at most
TARGET_LOAD = 0.9      # racelab-load req/s over wrk's against the same server
RSS_GROWTH_FRACTION = 0.10   # RSS is flat when it grew by less than 10 % of its start...
RSS_GROWTH_FLOOR_KIB = 4096  # ...or by less than 4 MiB
RSS_WARMUP_S = 10.0          # growth counts from here (a third of a shorter soak)
SAMPLE_PERIOD_S = 1.0        # VmRSS sampling period during the soak

WRK_GRACE_S = 30.0   # wrk's deadline past its --duration
LOAD_SLACK = 10      # racelab-load's deadline: this many times the round's duration, + grace
MIN_LOAD_REQUESTS = 1000
DEFAULT_LOAD_REQUESTS = 20000  # when no wrk round measured the server yet

_TIME_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_METRIC = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9}


# --- wrk's report ----------------------------------------------------------------------------

@dataclass(frozen=True)
class WrkResult:
    """What one `wrk --latency` run printed."""

    requests_per_s: float
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None          # the Latency row's Max of the thread stats
    requests: int | None          # answers received, any status
    duration_s: float | None
    non_2xx: int                  # "Non-2xx or 3xx responses"
    connect_errors: int
    read_errors: int
    write_errors: int
    timeouts: int

    @property
    def socket_errors(self) -> int:
        return self.connect_errors + self.read_errors + self.write_errors + self.timeouts


def duration_ms(text: str) -> float:
    """A duration as wrk prints it ("574.00us", "1.40ms", "1.92s", "2.00m") in ms. Raises
    ValueError."""
    found = P.WRK_DURATION.match(text.strip())
    if found is None:
        raise ValueError(f"not a duration: {text!r}")
    return float(found["value"]) * _TIME_MS[found["unit"]]


def parse_wrk(text: str) -> WrkResult:
    """wrk's report (with --latency). Raises ValueError when it holds no Requests/sec line,
    or a line it has is garbled."""
    rate: float | None = None
    percentiles: dict[float, float] = {}
    max_ms = requests = duration = None
    non_2xx = 0
    errors = {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    for line in text.splitlines():
        if (found := P.WRK_REQUESTS_PER_S.match(line)) is not None:
            rate = float(found["value"]) * _METRIC[found["unit"]]
        elif (found := P.WRK_LATENCY_STATS.match(line)) is not None:
            max_ms = duration_ms(found["max"])
        elif (found := P.WRK_PERCENTILE.match(line)) is not None:
            percentiles.setdefault(float(found["percent"]), duration_ms(found["value"]))
        elif (found := P.WRK_TOTALS.match(line)) is not None:
            requests = int(found["requests"])
            duration = duration_ms(found["duration"]) / 1000.0
        elif (found := P.WRK_SOCKET_ERRORS.match(line)) is not None:
            errors = {key: int(found[key]) for key in errors}
        elif (found := P.WRK_NON_2XX.match(line)) is not None:
            non_2xx = int(found["count"])
    if rate is None:
        raise ValueError("no 'Requests/sec:' line")
    return WrkResult(requests_per_s=rate, p50_ms=percentiles.get(50.0),
                     p99_ms=percentiles.get(99.0), max_ms=max_ms, requests=requests,
                     duration_s=duration, non_2xx=non_2xx, connect_errors=errors["connect"],
                     read_errors=errors["read"], write_errors=errors["write"],
                     timeouts=errors["timeout"])


def measurement_problem(requests: int | None, non_2xx: int, connect_errors: int,
                        other_socket_errors: int, connections: int) -> str | None:
    """Why a round cannot be taken as a measurement, or None. Any non-2xx answer or failed
    connection is one; read, write and timeout errors are tolerated up to one per
    connection (a connection cut when the run ends), no more."""
    if not requests:
        return "no request was answered"
    if non_2xx:
        return f"{non_2xx} answers were not 2xx or 3xx"
    if connect_errors:
        return f"{connect_errors} connections failed"
    if other_socket_errors > connections:
        return (f"{other_socket_errors} socket errors (read, write, timeout), more than one "
                f"per connection ({connections})")
    return None


# --- Figures ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Round:
    """One measured round of one side."""

    requests_per_s: float | None
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    requests: int | None
    non_2xx: int
    socket_errors: int
    failed: str | None = None    # why it is no measurement; None when it is one
    # The server's CPU time (user + system) over the round, per request answered: what a
    # request costs the server, which drifts far less than req/s on a shared machine.
    cpu_us_per_request: float | None = None

    @staticmethod
    def from_wrk(result: WrkResult, connections: int,
                 cpu_s: float | None = None) -> "Round":
        why = measurement_problem(result.requests, result.non_2xx, result.connect_errors,
                                  result.socket_errors - result.connect_errors, connections)
        return Round(result.requests_per_s, result.p50_ms, result.p99_ms, result.max_ms,
                     result.requests, result.non_2xx, result.socket_errors, why,
                     cpu_per_request_us(cpu_s, result.requests))

    @staticmethod
    def failure(why: str) -> "Round":
        return Round(None, None, None, None, None, 0, 0, why)

    def to_json(self) -> dict[str, Any]:
        return {"requests_per_s": _rounded(self.requests_per_s), "p50_ms": _rounded(self.p50_ms),
                "p99_ms": _rounded(self.p99_ms), "max_ms": _rounded(self.max_ms),
                "requests": self.requests, "non_2xx": self.non_2xx,
                "socket_errors": self.socket_errors, "failed": self.failed,
                "cpu_us_per_request": _rounded(self.cpu_us_per_request)}


FIGURES = ("requests_per_s", "p50_ms", "p99_ms", "max_ms", "cpu_us_per_request")


def cpu_per_request_us(cpu_s: float | None, requests: int | None) -> float | None:
    """Microseconds of server CPU per request; None when either is unknown or no request
    was answered."""
    if cpu_s is None or not requests:
        return None
    return cpu_s * 1e6 / requests


def read_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds a live process has used (/proc/PID/stat, fields 14 and 15,
    counted after the command name, which may itself hold spaces and parentheses); None
    when it is gone or the line is not what the kernel writes."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    ticks = cpu_ticks_of_stat(text)
    return None if ticks is None else ticks / os.sysconf("SC_CLK_TCK")


def cpu_ticks_of_stat(line: str) -> int | None:
    """utime + stime, in clock ticks, of one /proc/PID/stat line; None when it is not one."""
    if ")" not in line:
        return None
    fields = line.rpartition(")")[2].split()
    try:
        return int(fields[11]) + int(fields[12])  # fields 14 and 15 of the whole line
    except (IndexError, ValueError):
        return None


def median_of(rounds: Sequence[Round], figure: str) -> float | None:
    """The median of one figure over the rounds that measured (None when none did)."""
    values = [getattr(r, figure) for r in rounds if r.failed is None]
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


@dataclass
class Measurement:
    """One side of a comparison: a server under one load driver, round after round."""

    stage: str
    key: str          # "release", "go", "tsan", "go-race", "wrk", "racelab-load"
    label: str        # what the table calls it
    driver: str       # "wrk" or "racelab-load"
    connections: int
    duration_s: int
    rounds: list[Round] = field(default_factory=list)

    def median(self, figure: str) -> float | None:
        return median_of(self.rounds, figure)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"stage": self.stage, "name": self.key, "label": self.label,
                                "driver": self.driver, "connections": self.connections,
                                "duration_s": self.duration_s,
                                "rounds": [r.to_json() for r in self.rounds]}
        data.update({figure: _rounded(self.median(figure)) for figure in FIGURES})
        return data


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


@dataclass(frozen=True)
class Comparison:
    """A ratio of two medians and its target: `ratio OP target`."""

    name: str         # "release/go"
    figure: str       # "req/s" or "p99"
    ratio: float | None
    op: str           # ">=" or "<="
    target: float

    @property
    def met(self) -> bool | None:
        if self.ratio is None:
            return None
        return self.ratio >= self.target if self.op == ">=" else self.ratio <= self.target

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "figure": self.figure, "ratio": _rounded(self.ratio, 3),
                "op": self.op, "target": self.target, "met": self.met}


@dataclass(frozen=True)
class RssJudgement:
    """VmRSS over a soak, counted from the end of its warm-up."""

    start_kib: int
    end_kib: int
    max_kib: int
    limit_kib: int    # growth below this is flat

    @property
    def growth_kib(self) -> int:
        return self.end_kib - self.start_kib

    @property
    def flat(self) -> bool:
        return self.growth_kib < self.limit_kib


def soak_warmup_s(duration_s: float) -> float:
    """Growth counts after the first 10 s, or after the first third of a shorter soak."""
    return min(RSS_WARMUP_S, duration_s / 3.0)


def judge_rss(samples: Sequence[tuple[float, int]], warmup_s: float) -> RssJudgement | None:
    """Is RSS flat? `samples` are (seconds since the load started, KiB). Flat when it grew,
    from the first sample at or after `warmup_s` to the last, by less than 10 % of where it
    started or less than 4 MiB, whichever is more. None with fewer than two samples after
    the warm-up: nothing to judge."""
    after = [kib for at, kib in samples if at >= warmup_s]
    if len(after) < 2:
        return None
    start = after[0]
    limit = max(RSS_GROWTH_FLOOR_KIB, int(start * RSS_GROWTH_FRACTION))
    return RssJudgement(start_kib=start, end_kib=after[-1], max_kib=max(after),
                        limit_kib=limit)


def read_rss_kib(pid: int) -> int | None:
    """VmRSS of a live process, in KiB; None when it is gone or has none (a zombie)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    found = P.VM_RSS.search(text)
    return int(found["kib"]) if found else None


@dataclass
class Soak:
    """One server under wrk for the soak's duration, its RSS sampled every second."""

    key: str
    label: str
    duration_s: int
    warmup_s: float
    samples: list[tuple[float, int]] = field(default_factory=list)
    round: Round | None = None

    @property
    def judgement(self) -> RssJudgement | None:
        return judge_rss(self.samples, self.warmup_s)

    def to_json(self) -> dict[str, Any]:
        judged = self.judgement
        return {"name": self.key, "label": self.label, "duration_s": self.duration_s,
                "warmup_s": self.warmup_s,
                "start_kib": judged.start_kib if judged else None,
                "end_kib": judged.end_kib if judged else None,
                "max_kib": judged.max_kib if judged else None,
                "growth_kib": judged.growth_kib if judged else None,
                "limit_kib": judged.limit_kib if judged else None,
                "flat": judged.flat if judged else None,
                "round": self.round.to_json() if self.round else None,
                "samples": [[at, kib] for at, kib in self.samples]}


@dataclass(frozen=True)
class BenchFinding:
    server: str       # the label of the server that reported it
    report: Report

    def to_json(self) -> dict[str, Any]:
        return {**self.report.to_json(), "server": self.server}


# --- What to run -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Settings:
    scenario: str
    path: str                   # what wrk and racelab-load request from racelab's server
    io_threads: int
    stages: tuple[str, ...]
    rounds: int
    duration_s: int
    connections: int
    threads: int                # wrk's
    hc_connections: int
    hc_duration_s: int
    warmup_s: int
    soak_s: int
    out: Path                   # logs go to OUT/logs/<stage>/
    listen_timeout_s: float = 30.0
    stop_timeout_s: float = 20.0

    def to_json(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "path": self.path, "io_threads": self.io_threads,
                "stages": list(self.stages), "rounds": self.rounds,
                "duration_s": self.duration_s, "connections": self.connections,
                "threads": self.threads, "hc_connections": self.hc_connections,
                "hc_duration_s": self.hc_duration_s, "warmup_s": self.warmup_s,
                "soak_s": self.soak_s}


@dataclass(frozen=True)
class Binaries:
    """What the stages run; `layout` says where a build root keeps them."""

    release_server: Path
    tsan_server: Path
    load_driver: Path
    go_plain: Path
    go_race: Path
    wrk: str

    @staticmethod
    def layout(build_root: Path, scenario: str, wrk: str) -> "Binaries":
        return Binaries(release_server=build_root / "release" / "bin" / f"{scenario}_fixed",
                        tsan_server=build_root / "tsan" / "bin" / f"{scenario}_fixed",
                        load_driver=build_root / "release" / "bin" / runner.LOAD_DRIVER,
                        go_plain=build_root / "go-reference" / "plain",
                        go_race=build_root / "go-reference" / "race", wrk=wrk)

    def needed(self, stages: Sequence[str]) -> list[Path]:
        wanted: list[Path] = []
        if {"release", "load", "soak"} & set(stages):
            wanted.append(self.release_server)
        if {"release", "soak"} & set(stages):
            wanted.append(self.go_plain)
        if "tsan" in stages:
            wanted += [self.tsan_server, self.go_race]
        if "load" in stages:
            wanted.append(self.load_driver)
        return wanted


@dataclass(frozen=True)
class ServerSpec:
    key: str                    # log folder and JSON name: release, go, tsan, go-race
    label: str
    command: tuple[str, ...]
    instrumented: bool          # runs in the instrumented environment; its logs are judged
    racelab: bool               # a racelab server (holds after shutdown like under `run`)
    path: str                   # what the load drivers request from it


def server_specs(settings: Settings, bins: Binaries) -> dict[str, ServerSpec]:
    racelab_args = ("--port", "0", "--threads", str(settings.io_threads))
    go_args = ("-addr", "127.0.0.1:0")
    return {
        "release": ServerSpec("release", f"{settings.scenario}_fixed release",
                              (str(bins.release_server), *racelab_args), False, True,
                              settings.path),
        "go": ServerSpec("go", "go net/http", (str(bins.go_plain), *go_args), False, False,
                         GO_PATH),
        "tsan": ServerSpec("tsan", f"{settings.scenario}_fixed tsan",
                           (str(bins.tsan_server), *racelab_args), True, True, settings.path),
        "go-race": ServerSpec("go-race", "go net/http -race", (str(bins.go_race), *go_args),
                              True, False, GO_PATH),
    }


@dataclass
class BenchResult:
    settings: Settings
    measurements: list[Measurement] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    soaks: list[Soak] = field(default_factory=list)
    findings: list[BenchFinding] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.problems:
            return EXIT_UNDECIDED
        return EXIT_REFUSE if self.findings else EXIT_PASS

    def targets(self) -> list[tuple[str, bool | None]]:
        """Every target and whether it was met (None: not measured)."""
        found: list[tuple[str, bool | None]] = [(c.name, c.met) for c in self.comparisons]
        found += [(f"{s.key} RSS flat", s.judgement.flat if s.judgement else None)
                  for s in self.soaks if s.key == "release"]
        return found

    def to_json(self, machine: Mapping[str, Any]) -> dict[str, Any]:
        return {"schema": SCHEMA, **machine, "settings": self.settings.to_json(),
                "measurements": [m.to_json() for m in self.measurements],
                "comparisons": [c.to_json() for c in self.comparisons],
                "soak": [s.to_json() for s in self.soaks],
                "findings": [f.to_json() for f in self.findings],
                "problems": [p.to_json() for p in self.problems],
                "exit_status": self.exit_code}


# --- Running ---------------------------------------------------------------------------------

class Bench:
    """Runs the stages of one invocation and gathers what they measured."""

    def __init__(self, settings: Settings, bins: Binaries, progress: Progress,
                 env: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self.bins = bins
        self.progress = progress
        self.env = dict(os.environ if env is None else env)
        self.specs = server_specs(settings, bins)
        self.result = BenchResult(settings)

    def run(self) -> BenchResult:
        missing = [path for path in self.bins.needed(self.settings.stages)
                   if not os.access(path, os.X_OK)]
        for path in missing:
            self._problem(ProblemKind.CANNOT_START,
                          f"missing executable {path} (build it, or drop --no-build)")
        if missing:
            return self.result
        stages: dict[str, Callable[[], None]] = {
            "release": self._release, "tsan": self._tsan, "load": self._load,
            "soak": self._soak}
        for stage in self.settings.stages:
            shutil.rmtree(self._log_dir(stage), ignore_errors=True)
            stages[stage]()
        return self.result

    # --- Stages ------------------------------------------------------------------------------

    def _release(self) -> None:
        s = self.settings
        with self._serving("release", ["release", "go"]) as servers:
            if servers is None:
                return
            mine, go = self._wrk_pair("release", servers, s.connections, s.duration_s)
            self._compare("release/go", "req/s", mine, go, "requests_per_s", ">=",
                          TARGET_RELEASE)
            mine, go = self._wrk_pair("release", servers, s.hc_connections, s.hc_duration_s,
                                      warm=False)
            self._compare(f"release/go at {s.hc_connections} connections", "p99", mine, go,
                          "p99_ms", "<=", TARGET_P99)

    def _tsan(self) -> None:
        s = self.settings
        with self._serving("tsan", ["tsan", "go-race"]) as servers:
            if servers is None:
                return
            mine, go = self._wrk_pair("tsan", servers, s.connections, s.duration_s)
            self._compare("tsan/go -race", "req/s", mine, go, "requests_per_s", ">=",
                          TARGET_TSAN)

    def _load(self) -> None:
        s = self.settings
        with self._serving("load", ["release"]) as servers:
            if servers is None:
                return
            [(spec, served)] = servers
            self._warm_up("load", spec, served)
            with_wrk = self._measurement("load", "wrk", f"wrk -> {spec.label}", "wrk",
                                         s.connections, s.duration_s)
            with_load = self._measurement("load", "racelab-load",
                                          f"racelab-load -> {spec.label}", "racelab-load",
                                          s.connections, s.duration_s)

            def wrk_round(k: int) -> Round:
                return self._wrk_round("load", spec, served, s.connections, s.duration_s,
                                       f"round{k}")

            def load_round(k: int) -> Round:
                # As many requests as wrk answered in a round: both run about as long.
                rate = with_wrk.median("requests_per_s")
                requests = DEFAULT_LOAD_REQUESTS if rate is None else \
                    max(MIN_LOAD_REQUESTS, int(rate * s.duration_s))
                return self._load_round(spec, served, requests, f"round{k}")

            self._alternate(f"load at {s.connections} connections",
                            [(with_wrk, wrk_round), (with_load, load_round)])
            self._compare("racelab-load/wrk", "req/s", with_load, with_wrk,
                          "requests_per_s", ">=", TARGET_LOAD)

    def _soak(self) -> None:
        for key in ("release", "go"):
            with self._serving("soak", [key]) as servers:
                if servers is None:
                    return
                [(spec, served)] = servers
                self._soak_one(spec, served)

    # --- Servers -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _serving(self, stage: str, keys: Sequence[str]
                 ) -> Iterator[list[tuple[ServerSpec, runner.Served]] | None]:
        """Start the servers (None when one does not start), stop them all at the end."""
        started: list[tuple[ServerSpec, runner.Served, RunOutcome]] = []
        try:
            complete = True
            for key in keys:
                spec = self.specs[key]
                run = RunOutcome(index=1, log_dir=self._log_dir(stage) / key)
                run.log_dir.mkdir(parents=True, exist_ok=True)
                env = collect.instrumented_env(self.env, run.log_dir) if spec.instrumented \
                    else dict(self.env)
                if spec.racelab:
                    env[runner.HOLD_ENV] = "1"
                served = runner.start_server(spec.command, env, run,
                                             listen_timeout_s=self.settings.listen_timeout_s,
                                             stop_timeout_s=self.settings.stop_timeout_s)
                if served is None:
                    self._absorb(spec, run)
                    complete = False
                    break
                started.append((spec, served, run))
                self.progress.line(f"{stage}: {spec.label} listening on "
                                   f"{served.host}:{served.port} (pid {served.proc.pid})")
            yield [(spec, served) for spec, served, _ in started] if complete else None
        finally:
            try:
                for spec, served, run in started:
                    runner.stop_server(served, self.settings.stop_timeout_s, run)
                    runner.collect_run_logs(run, self.settings.out,
                                            Path(spec.command[0]).name,
                                            require_instrumented=spec.instrumented)
                    self._absorb(spec, run)
            finally:
                for _, served, _ in started:
                    served.close()  # kills what an interruption left running

    def _absorb(self, spec: ServerSpec, run: RunOutcome) -> None:
        """A stopped server's problems and findings, each naming the server."""
        for problem in run.problems:
            self.result.problems.append(Problem(problem.kind, f"{spec.label}: {problem.message}",
                                                problem.source, problem.line))
        self.result.findings.extend(BenchFinding(spec.label, r) for r in run.reports)

    # --- Rounds ------------------------------------------------------------------------------

    def _wrk_pair(self, stage: str, servers: list[tuple[ServerSpec, runner.Served]],
                  connections: int, duration_s: int,
                  warm: bool = True) -> tuple[Measurement, Measurement]:
        """Both servers under wrk, round after round, alternating."""
        def rounds_of(spec: ServerSpec, served: runner.Served) -> Callable[[int], Round]:
            return lambda k: self._wrk_round(stage, spec, served, connections, duration_s,
                                             f"c{connections}-round{k}")

        contestants = []
        for spec, served in servers:
            if warm:
                self._warm_up(stage, spec, served)
            measurement = self._measurement(stage, spec.key, spec.label, "wrk", connections,
                                            duration_s)
            contestants.append((measurement, rounds_of(spec, served)))
        self._alternate(f"{stage} at {connections} connections", contestants)
        return contestants[0][0], contestants[1][0]

    def _measurement(self, stage: str, key: str, label: str, driver: str, connections: int,
                     duration_s: int) -> Measurement:
        measurement = Measurement(stage, key, label, driver, connections, duration_s)
        self.result.measurements.append(measurement)
        return measurement

    def _alternate(self, title: str,
                   contestants: list[tuple[Measurement, Callable[[int], Round]]]) -> None:
        """--rounds rounds; odd rounds in the given order, even rounds reversed, so neither
        side always runs on the machine the other just warmed (or heated)."""
        total = self.settings.rounds
        for k in range(1, total + 1):
            order = contestants if k % 2 else contestants[::-1]
            for measurement, one in order:
                done = one(k)
                measurement.rounds.append(done)
                if done.failed is not None:
                    self._problem(ProblemKind.LOAD_FAILED,
                                  f"{measurement.stage}: {measurement.label} round {k}/{total} "
                                  f"at {measurement.connections} connections is no "
                                  f"measurement: {done.failed}")
            figures = ", ".join(f"{m.label} {_round_text(m.rounds[-1])}"
                                for m, _ in contestants)
            self.progress.line(f"{title}, round {k}/{total}: {figures}")

    def _warm_up(self, stage: str, spec: ServerSpec, served: runner.Served) -> None:
        """A run that is not measured: lazy initialisation, the allocator, the CPU caches."""
        if self.settings.warmup_s > 0:
            self._wrk_round(stage, spec, served, self.settings.connections,
                            self.settings.warmup_s, "warmup")

    def _wrk_round(self, stage: str, spec: ServerSpec, served: runner.Served,
                   connections: int, duration_s: int, tag: str) -> Round:
        command = self._wrk_command(spec, served, connections, duration_s)
        log = self._log_dir(stage) / f"{spec.key}-wrk-{tag}.txt"
        cpu_before = read_cpu_s(served.proc.pid)
        try:
            done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True,
                                  text=True, errors="replace",
                                  timeout=duration_s + WRK_GRACE_S, check=False)
        except subprocess.TimeoutExpired:
            return Round.failure(f"wrk did not finish within {duration_s + WRK_GRACE_S:g}s")
        except OSError as err:
            return Round.failure(f"wrk could not start: {err}")
        log.write_text(f"$ {' '.join(command)}\n{done.stdout}{done.stderr}", encoding="utf-8")
        if done.returncode != 0:
            last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or [""]
            return Round.failure(f"wrk exited with status {done.returncode}"
                                 + (f": {last[0]}" if last[0] else "") + f" (log: {log})")
        cpu_after = read_cpu_s(served.proc.pid)
        cpu_s = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
        try:
            return Round.from_wrk(parse_wrk(done.stdout), connections, cpu_s)
        except ValueError as err:
            return Round.failure(f"wrk's output is unusable: {err} (log: {log})")

    def _wrk_command(self, spec: ServerSpec, served: runner.Served, connections: int,
                     duration_s: int) -> list[str]:
        host = f"[{served.host}]" if ":" in served.host else served.host
        threads = min(self.settings.threads, connections)
        return [self.bins.wrk, f"-t{threads}", f"-c{connections}", f"-d{duration_s}s",
                "--latency", f"http://{host}:{served.port}{spec.path}"]

    def _load_round(self, spec: ServerSpec, served: runner.Served, requests: int,
                    tag: str) -> Round:
        s = self.settings
        command = [str(self.bins.load_driver), "--host", served.host, "--port",
                   str(served.port), "--connections", str(s.connections), "--requests",
                   str(requests), "--path", spec.path]
        log = self._log_dir("load") / f"racelab-load-{tag}.json"
        deadline = s.duration_s * LOAD_SLACK + WRK_GRACE_S
        try:
            done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True,
                                  text=True, errors="replace", timeout=deadline, check=False)
        except subprocess.TimeoutExpired:
            return Round.failure(f"racelab-load did not finish within {deadline:g}s")
        except OSError as err:
            return Round.failure(f"racelab-load could not start: {err}")
        log.write_text(done.stdout + done.stderr, encoding="utf-8")
        if done.returncode != 0:
            return Round.failure(f"racelab-load exited with status {done.returncode} "
                                 f"(log: {log})")
        try:
            load = runner.parse_load_output(done.stdout)
        except ValueError as err:
            return Round.failure(f"racelab-load's output is unusable: {err} (log: {log})")
        rate = load.requests / (load.elapsed_ms / 1000.0) if load.elapsed_ms > 0 else None
        not_2xx = load.requests - load.ok_count()
        why = measurement_problem(load.requests, not_2xx, 0, load.transport_errors,
                                  s.connections)
        return Round(rate, load.latency_ms.get("p50"), load.latency_ms.get("p99"),
                     load.latency_ms.get("max"), load.requests, not_2xx,
                     load.transport_errors, why)

    def _soak_one(self, spec: ServerSpec, served: runner.Served) -> None:
        s = self.settings
        soak = Soak(spec.key, spec.label, s.soak_s, soak_warmup_s(s.soak_s))
        self.result.soaks.append(soak)
        command = self._wrk_command(spec, served, s.connections, s.soak_s)
        log = self._log_dir("soak") / f"{spec.key}-wrk.txt"
        self.progress.line(f"soak: {spec.label} under {' '.join(command[:4])} for "
                           f"{s.soak_s}s, VmRSS every {SAMPLE_PERIOD_S:g}s")
        with open(log, "w", encoding="utf-8") as out:
            out.write(f"$ {' '.join(command)}\n")
            out.flush()
            try:
                wrk = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=subprocess.STDOUT)
            except OSError as err:
                soak.round = Round.failure(f"wrk could not start: {err}")
                self._problem(ProblemKind.LOAD_FAILED, f"soak: {spec.label}: "
                                                       f"{soak.round.failed}")
                return
            started = time.monotonic()
            give_up = started + s.soak_s + WRK_GRACE_S
            tick = started
            timed_out = False
            while True:
                kib = read_rss_kib(served.proc.pid)
                if kib is not None:
                    soak.samples.append((round(time.monotonic() - started, 1), kib))
                tick += SAMPLE_PERIOD_S
                try:
                    # The sampling period; wrk's exit ends the wait, and the soak.
                    wrk.wait(timeout=max(0.0, tick - time.monotonic()))
                    break
                except subprocess.TimeoutExpired:
                    if time.monotonic() > give_up:
                        wrk.kill()
                        wrk.wait()
                        timed_out = True
                        break
        text = log.read_text(encoding="utf-8", errors="replace")
        if timed_out:
            soak.round = Round.failure(f"wrk did not finish within {s.soak_s + WRK_GRACE_S:g}s")
        elif wrk.returncode != 0:
            soak.round = Round.failure(f"wrk exited with {collect.exit_text(wrk.returncode)} "
                                       f"(log: {log})")
        else:
            try:
                soak.round = Round.from_wrk(parse_wrk(text), s.connections)
            except ValueError as err:
                soak.round = Round.failure(f"wrk's output is unusable: {err} (log: {log})")
        if soak.round.failed is not None:
            self._problem(ProblemKind.LOAD_FAILED,
                          f"soak: {spec.label} is no measurement: {soak.round.failed}")
        elif soak.judgement is None:
            self._problem(ProblemKind.LOAD_FAILED,
                          f"soak: {spec.label}: {_rss_text(soak)}: nothing to judge")
        self.progress.line(f"soak: {spec.label}: {_round_text(soak.round)}; "
                           f"{_rss_text(soak)}")

    # --- Helpers -----------------------------------------------------------------------------

    def _compare(self, name: str, figure_name: str, mine: Measurement, theirs: Measurement,
                 figure: str, op: str, target: float) -> None:
        self.result.comparisons.append(Comparison(
            name, figure_name, ratio(mine.median(figure), theirs.median(figure)), op, target))

    def _problem(self, kind: ProblemKind, message: str) -> None:
        self.result.problems.append(Problem(kind, message))

    def _log_dir(self, stage: str) -> Path:
        folder = self.settings.out / "logs" / stage
        folder.mkdir(parents=True, exist_ok=True)
        return folder


# --- Output ----------------------------------------------------------------------------------

def render(result: BenchResult, describe: Callable[[Frame | None], str]) -> list[str]:
    """The table, the ratios with their targets, the soak, the findings: what a person
    reads, and what closing notes quote."""
    s = result.settings
    how = [f"median of {s.rounds} round{'s' if s.rounds != 1 else ''} per side, alternating"
           ] if result.measurements else []
    how += [f"{s.soak_s}s soak per server"] if result.soaks else []
    lines = [f"racelab: bench-http: {s.scenario}_fixed on GET {s.path}, Go on GET {GO_PATH}; "
             f"{'; '.join(how + [f'wrk -t{s.threads} --latency'])}"]
    if result.measurements:
        width = max(len(m.label) for m in result.measurements)
        lines.append(f"  {'stage':<8} {'server':<{width}} {'driver':<12} {'conns':>5} "
                     f"{'req/s':>9} {'p50':>9} {'p99':>9} {'max':>9} {'cpu/req':>9}")
        for m in result.measurements:
            lines.append(f"  {m.stage:<8} {m.label:<{width}} {m.driver:<12} "
                         f"{m.connections:>5} {_rate(m.median('requests_per_s')):>9} "
                         f"{_ms(m.median('p50_ms')):>9} {_ms(m.median('p99_ms')):>9} "
                         f"{_ms(m.median('max_ms')):>9} "
                         f"{_us(m.median('cpu_us_per_request')):>9}")
    if result.comparisons:
        width = max(len(c.name) for c in result.comparisons)
        for c in result.comparisons:
            value = f"{c.ratio:.2f}x" if c.ratio is not None else "n/a"
            lines.append(f"  {c.name:<{width}}  {c.figure:<5} {value:>6}  (target {c.op} "
                         f"{c.target:.1f}x)  {_mark(c.met)}")
    for soak in result.soaks:
        judged = soak.judgement
        mark = _mark(judged.flat if judged else None) if soak.key == "release" else \
            "(for comparison)"
        lines.append(f"  {soak.label}, {soak.duration_s}s soak: {_rss_text(soak)}  {mark}")
    for finding in result.findings:
        report = finding.report
        lines.append(f"racelab: finding under benchmark load: {finding.server}: {report.kind} "
                     f"at {describe(report.top_frame)} [{report.fingerprint}]")
        if report.summary:
            lines.append(f"  {report.summary}")
    targets = result.targets()
    met = sum(1 for _, ok in targets if ok)
    missed = [name for name, ok in targets if ok is False]
    unmeasured = [name for name, ok in targets if ok is None]
    closing = f"racelab: bench-http: {met} of {len(targets)} targets met"
    if missed:
        closing += f"; MISSED: {', '.join(missed)}"
    if unmeasured:
        closing += f"; not measured: {', '.join(unmeasured)}"
    lines.append(closing)
    return lines


def machine_facts(repo: Path) -> dict[str, Any]:
    """What closing notes quote beside the figures: the commit, the date, the CPUs."""
    commit = dirty = None
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=30, check=False)
        if head.returncode == 0:
            commit = head.stdout.strip() or None
            status = subprocess.run(["git", "-C", str(repo), "status", "--porcelain",
                                     "--untracked-files=no"], capture_output=True, text=True,
                                    timeout=30, check=False)
            dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired):
        pass
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {"commit": commit, "dirty": dirty,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "nproc": len(os.sched_getaffinity(0)), "loadavg": load}


def _mark(met: bool | None) -> str:
    return "n/a (not measured)" if met is None else ("met" if met else "MISSED")


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}ms" if value < 100 else f"{value:.0f}ms"


def _us(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}us"


def _round_text(done: Round) -> str:
    if done.failed is not None:
        return f"FAILED ({done.failed})"
    return f"{_rate(done.requests_per_s)} req/s, p99 {_ms(done.p99_ms)}"


def _rss_text(soak: Soak) -> str:
    judged = soak.judgement
    if judged is None:
        return f"RSS not judged ({len(soak.samples)} samples, fewer than 2 after the " \
               f"{soak.warmup_s:g}s warm-up)"
    verdict = "flat" if judged.flat else "GROWING"
    return (f"RSS {judged.start_kib / 1024:.1f} -> {judged.end_kib / 1024:.1f} MiB "
            f"(max {judged.max_kib / 1024:.1f}, growth {judged.growth_kib / 1024:+.1f} MiB "
            f"after {soak.warmup_s:g}s; flat below {judged.limit_kib / 1024:.1f}) {verdict}")


def _rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)
