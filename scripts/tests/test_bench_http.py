"""`racelab bench-http`: wrk's report, the figures and targets, the RSS judgement, and the
command against fake servers and a fake wrk (tests/fakes/). Speed is never asserted: the
e2e test at the end proves only that the Go reference and wrk talk to each other."""

from __future__ import annotations

import http.client
import io
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import DATA, FAKES, REPO, assert_schema, run_racelab
from racelab_cli import bench_http, build, cli, deps, runner
from racelab_cli.bench_http import Comparison, Round, judge_rss, measurement_problem
from racelab_cli.model import RunOutcome
from racelab_cli.progress import Progress

# What wrk 4.1 printed against the Go reference (-t2 -c32 -d2s --latency): us and ms.
WRK_GO = """\
Running 2s test @ http://127.0.0.1:45703/hit
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.09ms    1.40ms  12.12ms   87.08%
    Req/Sec    22.05k     2.61k   28.38k    75.00%
  Latency Distribution
     50%  574.00us
     75%    1.40ms
     90%    2.92ms
     99%    6.51ms
  87856 requests in 2.00s, 8.29MB read
Requests/sec:  43818.56
Transfer/sec:      4.14MB
"""

# A slow server at 256 connections: seconds, a run in minutes, socket errors, non-2xx
# answers, and the trailing blanks wrk leaves after Requests/sec.
WRK_ERRORS = """\
Running 1m test @ http://127.0.0.1:8080/hit
  2 threads and 256 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   297.99ms  376.08ms   3.05s    85.83%
    Req/Sec    91.60     58.81   740.00     72.65%
  Latency Distribution
     50%  158.11ms
     75%  464.36ms
     90%  792.06ms
     99%    1.66s
  81620 requests in 1.00m, 165.47MB read
  Socket errors: connect 0, read 3, write 0, timeout 48
  Non-2xx or 3xx responses: 5
Requests/sec:   1359.98  \n\
Transfer/sec:    564.62KB
"""


def wrk_report(rate: str, p50: str, p99: str, latency_max: str, *, requests: int = 60000,
               extra: str = "") -> str:
    return (f"Running 1s test @ http://127.0.0.1:1/hit\n"
            f"  2 threads and 32 connections\n"
            f"  Thread Stats   Avg      Stdev     Max   +/- Stdev\n"
            f"    Latency     1.00ms    1.00ms  {latency_max}   90.00%\n"
            f"    Req/Sec    15.00k     1.00k   20.00k    70.00%\n"
            f"  Latency Distribution\n     50%  {p50}\n     75%  {p50}\n     90%  {p99}\n"
            f"     99%  {p99}\n"
            f"  {requests} requests in 1.00s, 5.00MB read\n{extra}"
            f"Requests/sec:  {rate}\nTransfer/sec:      5.00MB\n")


# --- wrk's report ----------------------------------------------------------------------------

def test_parse_wrk_reads_rate_percentiles_max_and_totals_in_us_and_ms() -> None:
    result = bench_http.parse_wrk(WRK_GO)
    assert result.requests_per_s == pytest.approx(43818.56)
    assert result.p50_ms == pytest.approx(0.574)
    assert result.p99_ms == pytest.approx(6.51)
    assert result.max_ms == pytest.approx(12.12)
    assert (result.requests, result.duration_s) == (87856, pytest.approx(2.0))
    assert (result.non_2xx, result.socket_errors) == (0, 0)
    assert Round.from_wrk(result, 32).failed is None


def test_parse_wrk_reads_seconds_minutes_socket_errors_and_non_2xx() -> None:
    result = bench_http.parse_wrk(WRK_ERRORS)
    assert result.requests_per_s == pytest.approx(1359.98)
    assert (result.p50_ms, result.p99_ms) == (pytest.approx(158.11), pytest.approx(1660.0))
    assert result.max_ms == pytest.approx(3050.0)
    assert (result.requests, result.duration_s) == (81620, pytest.approx(60.0))
    assert (result.connect_errors, result.read_errors, result.write_errors,
            result.timeouts) == (0, 3, 0, 48)
    assert result.non_2xx == 5
    assert Round.from_wrk(result, 256).failed == "5 answers were not 2xx or 3xx"


def test_parse_wrk_reads_a_metric_suffix_on_the_rate() -> None:
    text = WRK_GO.replace("Requests/sec:  43818.56", "Requests/sec:     43.82k")
    assert bench_http.parse_wrk(text).requests_per_s == pytest.approx(43820.0)
    text = WRK_GO.replace("Requests/sec:  43818.56", "Requests/sec:      1.20M")
    assert bench_http.parse_wrk(text).requests_per_s == pytest.approx(1_200_000.0)


def test_parse_wrk_without_a_distribution_has_no_percentiles() -> None:
    text = "\n".join(line for line in WRK_GO.splitlines() if "%  " not in line)
    result = bench_http.parse_wrk(text)
    assert (result.p50_ms, result.p99_ms) == (None, None)
    assert result.max_ms == pytest.approx(12.12)


@pytest.mark.parametrize("text", [
    "",
    "unable to connect to 127.0.0.1:1 Connection refused\n",
    WRK_GO.replace("Requests/sec:  43818.56\n", ""),   # cut before its closing lines
    "Requests/sec: lots\n",
])
def test_parse_wrk_refuses_a_report_without_a_rate(text: str) -> None:
    with pytest.raises(ValueError, match="no 'Requests/sec:' line"):
        bench_http.parse_wrk(text)


def test_parse_wrk_refuses_a_garbled_duration() -> None:
    with pytest.raises(ValueError, match="not a duration: '6.51fortnights'"):
        bench_http.parse_wrk(WRK_GO.replace("99%    6.51ms", "99%    6.51fortnights"))


@pytest.mark.parametrize("text,ms", [("574.00us", 0.574), ("1.40ms", 1.4), ("1.66s", 1660.0),
                                     ("2.00m", 120_000.0), ("1h", 3_600_000.0), ("7ms", 7.0)])
def test_duration_units(text: str, ms: float) -> None:
    assert bench_http.duration_ms(text) == pytest.approx(ms)


@pytest.mark.parametrize("text", ["", "ms", "1.5", "-2ms", "1.2.3s", "3 ms"])
def test_duration_refuses_what_wrk_never_prints(text: str) -> None:
    with pytest.raises(ValueError):
        bench_http.duration_ms(text)


# --- What counts as a measurement ------------------------------------------------------------

def test_a_handful_of_socket_errors_at_the_end_is_tolerated_more_is_not() -> None:
    assert measurement_problem(1000, 0, 0, 32, connections=32) is None
    assert measurement_problem(1000, 0, 0, 33, connections=32) == (
        "33 socket errors (read, write, timeout), more than one per connection (32)")


@pytest.mark.parametrize("args,why", [
    ((0, 0, 0, 0), "no request was answered"),
    ((None, 0, 0, 0), "no request was answered"),
    ((1000, 1, 0, 0), "1 answers were not 2xx or 3xx"),
    ((1000, 0, 2, 0), "2 connections failed"),
])
def test_non_2xx_failed_connections_or_no_answer_is_no_measurement(args: tuple,
                                                                   why: str) -> None:
    assert measurement_problem(*args, connections=32) == why


def test_wrk_socket_errors_count_against_the_connections_of_the_round() -> None:
    text = WRK_GO.replace("Requests/sec:", "  Socket errors: connect 0, read 20, write 1, "
                                           "timeout 12\nRequests/sec:")
    result = bench_http.parse_wrk(text)
    assert result.socket_errors == 33
    assert Round.from_wrk(result, 32).failed is not None
    assert Round.from_wrk(result, 256).failed is None


# --- Medians, ratios, targets ----------------------------------------------------------------

def rounds(*rates: float | None, failed: int | None = None) -> list[Round]:
    return [Round(rate, 1.0, 2.0, 3.0, 100, 0, 0, "broken" if i == failed else None)
            for i, rate in enumerate(rates)]


def test_median_of_an_odd_and_an_even_number_of_rounds() -> None:
    assert bench_http.median_of(rounds(100.0, 300.0, 200.0), "requests_per_s") == 200.0
    assert bench_http.median_of(rounds(100.0, 400.0, 200.0, 300.0), "requests_per_s") == 250.0


def test_median_skips_failed_rounds_and_missing_figures() -> None:
    assert bench_http.median_of(rounds(100.0, 900.0, 200.0, failed=1), "requests_per_s") \
        == 150.0
    assert bench_http.median_of(rounds(None, 300.0), "requests_per_s") == 300.0
    assert bench_http.median_of(rounds(100.0, failed=0), "requests_per_s") is None
    assert bench_http.median_of([], "p99_ms") is None


def test_ratio_needs_both_figures_and_a_positive_denominator() -> None:
    assert bench_http.ratio(150.0, 100.0) == 1.5
    assert bench_http.ratio(None, 100.0) is None
    assert bench_http.ratio(150.0, None) is None
    assert bench_http.ratio(150.0, 0.0) is None


@pytest.mark.parametrize("value,op,target,met", [
    (1.5, ">=", 1.5, True), (1.49, ">=", 1.5, False), (0.62, ">=", 1.5, False),
    (1.0, "<=", 1.0, True), (0.8, "<=", 1.0, True), (1.01, "<=", 1.0, False),
    (None, ">=", 1.5, None), (None, "<=", 1.0, None),
])
def test_a_target_is_met_missed_or_not_measured(value: float | None, op: str, target: float,
                                                met: bool | None) -> None:
    assert Comparison("x/y", "req/s", value, op, target).met is met


def settings(out: Path) -> bench_http.Settings:
    return bench_http.Settings(
        scenario="counter", path="/hit", io_threads=4, stages=("release", "tsan"), rounds=3,
        duration_s=4, connections=32, threads=2, hc_connections=256, hc_duration_s=4,
        warmup_s=1, soak_s=0, out=out)


def test_the_closing_line_names_every_missed_target(tmp_path: Path) -> None:
    result = bench_http.BenchResult(settings=settings(tmp_path))
    result.comparisons = [Comparison("release/go", "req/s", 0.62, ">=", 1.5),
                          Comparison("tsan/go -race", "req/s", 1.2, ">=", 1.0),
                          Comparison("release/go at 256 connections", "p99", None, "<=", 1.0)]
    lines = bench_http.render(result, lambda frame: "?")
    assert "  release/go                     req/s  0.62x  (target >= 1.5x)  MISSED" in lines
    assert "  tsan/go -race                  req/s  1.20x  (target >= 1.0x)  met" in lines
    assert lines[-1] == ("racelab: bench-http: 1 of 3 targets met; MISSED: release/go; "
                         "not measured: release/go at 256 connections")
    assert result.exit_code == 0  # missed targets never fail the command


# --- RSS over a soak -------------------------------------------------------------------------

def test_rss_growth_under_4_mib_is_flat_whatever_the_start() -> None:
    judged = judge_rss([(0.0, 5000), (10.0, 10000), (30.0, 12000), (60.0, 14000)], 10.0)
    assert judged is not None
    assert (judged.start_kib, judged.end_kib, judged.max_kib) == (10000, 14000, 14000)
    assert (judged.growth_kib, judged.limit_kib, judged.flat) == (4000, 4096, True)


def test_rss_growth_over_10_percent_and_4_mib_is_not_flat() -> None:
    judged = judge_rss([(10.0, 100_000), (35.0, 104_000), (60.0, 111_000)], 10.0)
    assert judged is not None
    assert (judged.growth_kib, judged.limit_kib, judged.flat) == (11_000, 10_000, False)


def test_rss_growth_under_10_percent_of_a_large_start_is_flat() -> None:
    judged = judge_rss([(10.0, 200_000), (60.0, 215_000)], 10.0)
    assert judged is not None and judged.flat
    assert judged.limit_kib == 20_000


def test_rss_warm_up_is_not_counted_and_a_peak_is_reported_not_judged() -> None:
    # Growing fast during the warm-up, a transient peak, back where it started: flat.
    samples = [(0.0, 1000), (5.0, 50_000), (10.0, 80_000), (20.0, 95_000), (60.0, 81_000)]
    judged = judge_rss(samples, 10.0)
    assert judged is not None
    assert (judged.start_kib, judged.max_kib, judged.growth_kib, judged.flat) == (
        80_000, 95_000, 1000, True)


def test_rss_with_fewer_than_two_samples_after_the_warm_up_is_not_judged() -> None:
    assert judge_rss([(0.0, 1000), (5.0, 2000), (10.0, 3000)], 10.0) is None
    assert judge_rss([], 10.0) is None


def test_soak_warm_up_is_10_s_or_a_third_of_a_shorter_soak() -> None:
    assert bench_http.soak_warmup_s(60) == 10.0
    assert bench_http.soak_warmup_s(6) == 2.0


def test_read_rss_of_a_live_process_and_of_none() -> None:
    assert (bench_http.read_rss_kib(os.getpid()) or 0) > 1000
    assert bench_http.read_rss_kib(2 ** 22 + 7) is None  # above pid_max: never a process


# --- The command, with fake servers and a fake wrk -------------------------------------------

PORTS = {"release": 40011, "go": 40012, "tsan": 40013, "go-race": 40014}


@dataclass
class BenchTree:
    """A build root of fake binaries (the layout of bench_http.Binaries) and a fake wrk."""

    root: Path
    build: Path
    fakebin: Path
    out: Path

    def server(self, key: str) -> Path:
        return {"release": self.build / "release" / "bin" / "counter_fixed",
                "tsan": self.build / "tsan" / "bin" / "counter_fixed",
                "go": self.build / "go-reference" / "plain",
                "go-race": self.build / "go-reference" / "race"}[key]

    def install(self, fake: str, target: Path) -> Path:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FAKES / fake, target)
        target.chmod(0o755)
        return target

    def report(self, key: str, text: str) -> None:
        """What the fake wrk prints for the server `key`."""
        (self.fakebin / f"wrk.{PORTS[key]}").write_text(text, encoding="utf-8")

    def calls(self) -> list[list[str]]:
        path = self.fakebin / "wrk.calls"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        env = dict(os.environ, PATH=f"{self.fakebin}:{os.environ['PATH']}")
        return run_racelab("bench-http", "--no-build", "--build-root", str(self.build),
                           "--out", str(self.out), "--duration", "1", "--rounds", "3",
                           *args, env=env, timeout=timeout)


@pytest.fixture
def bench_tree(tmp_path: Path) -> BenchTree:
    tree = BenchTree(root=tmp_path, build=tmp_path / "build", fakebin=tmp_path / "fakebin",
                     out=tmp_path / "out")
    tree.fakebin.mkdir()
    tree.install("fake_wrk.py", tree.fakebin / "wrk")
    for key, port in PORTS.items():
        server = tree.install("bench_server.py", tree.server(key))
        Path(f"{server}.port").write_text(str(port))
    tree.install("fake_load.py", tree.build / "release" / "bin" / "racelab-load")
    tree.report("release", wrk_report("30000.00", "500.00us", "2.00ms", "9.00ms"))
    tree.report("go", wrk_report("20000.00", "400.00us", "4.00ms", "12.00ms"))
    tree.report("tsan", wrk_report("3000.00", "5.00ms", "20.00ms", "80.00ms"))
    tree.report("go-race", wrk_report("6000.00", "2.00ms", "10.00ms", "40.00ms"))
    return tree


def ports_of(calls: list[list[str]]) -> list[int]:
    return [int(call[-1].split(":")[2].split("/")[0]) for call in calls]


def test_release_alternates_rounds_and_prints_medians_ratios_and_targets(
        bench_tree: BenchTree) -> None:
    figures = bench_tree.root / "bench.json"
    done = bench_tree.run("--only", "release", "--json", str(figures))
    assert done.returncode == 0, done.stdout + done.stderr
    mine, go = PORTS["release"], PORTS["go"]
    # A warm-up each, then ABBA at 32 connections, then ABBA at 256 (no second warm-up).
    assert ports_of(bench_tree.calls()) == [mine, go, mine, go, go, mine, mine, go,
                                            mine, go, go, mine, mine, go]
    assert [call[1] for call in bench_tree.calls()] == ["-c32"] * 8 + ["-c256"] * 6
    assert [call[2] for call in bench_tree.calls()] == ["-d1s"] * 14
    assert all(call[-1].endswith("/hit") for call in bench_tree.calls())
    lines = done.stdout.splitlines()
    assert any(line.startswith("  release  counter_fixed release wrk             32    30,000 "
                               "   0.50ms    2.00ms    9.00ms ") for line in lines)
    assert any(line.startswith("  release  go net/http           wrk            256    20,000 "
                               "   0.40ms    4.00ms   12.00ms ") for line in lines)
    assert next(x for x in lines if x.startswith("  stage ")).endswith("  cpu/req")
    assert "  release/go                     req/s  1.50x  (target >= 1.5x)  met" in lines
    assert "  release/go at 256 connections  p99    0.50x  (target <= 1.0x)  met" in lines
    assert "racelab: bench-http: 2 of 2 targets met" in lines
    assert lines[-1].startswith("racelab: bench-http: exit 0 (measured); logs in ")
    data = assert_schema(json.loads(figures.read_text(encoding="utf-8")))
    assert data["exit_status"] == 0 and data["findings"] == [] and data["problems"] == []
    assert data["settings"]["stages"] == ["release"] and data["nproc"] >= 1
    assert [(c["name"], c["ratio"], c["met"]) for c in data["comparisons"]] == [
        ("release/go", 1.5, True), ("release/go at 256 connections", 0.5, True)]
    [first, *_] = data["measurements"]
    assert (first["name"], first["connections"], first["requests_per_s"]) == (
        "release", 32, 30000.0)
    assert len(first["rounds"]) == 3
    assert (bench_tree.out / "logs" / "release" / "release" / "server.stdout").read_text() \
        .splitlines() == [f"racelab: listening on 127.0.0.1:{mine}",
                          "racelab: shutdown complete"]


def test_a_missed_target_is_printed_and_still_exits_0(bench_tree: BenchTree) -> None:
    done = bench_tree.run("--only", "tsan", "--rounds", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "  tsan/go -race  req/s  0.50x  (target >= 1.0x)  MISSED" in done.stdout
    assert "racelab: bench-http: 0 of 1 targets met; MISSED: tsan/go -race" in done.stdout


def test_a_report_of_the_tsan_server_under_load_is_a_finding_exit_1(
        bench_tree: BenchTree) -> None:
    shutil.copyfile(DATA / "tsan_data_race.txt", f"{bench_tree.server('tsan')}.report")
    figures = bench_tree.root / "bench.json"
    done = bench_tree.run("--only", "tsan", "--rounds", "1", "--json", str(figures))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "racelab: finding under benchmark load: counter_fixed tsan: data-race at " \
        in done.stdout
    assert "(a server reported a finding under load)" in done.stdout.splitlines()[-1]
    data = assert_schema(json.loads(figures.read_text(encoding="utf-8")))
    [finding] = data["findings"]
    assert (finding["server"], finding["kind"]) == ("counter_fixed tsan", "data-race")
    assert finding["source"].startswith("logs/tsan/tsan/tsan.")
    assert data["exit_status"] == 1


def test_an_uninstrumented_tsan_server_cannot_be_measured(bench_tree: BenchTree) -> None:
    Path(f"{bench_tree.server('tsan')}.uninstrumented").write_text("")
    done = bench_tree.run("--only", "tsan", "--rounds", "1")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "racelab: error: counter_fixed tsan: no instrumented process ran" in done.stderr


def test_non_2xx_answers_make_the_round_no_measurement_exit_2(bench_tree: BenchTree) -> None:
    bench_tree.report("go", wrk_report("20000.00", "400.00us", "4.00ms", "12.00ms",
                                       extra="  Non-2xx or 3xx responses: 7\n"))
    done = bench_tree.run("--only", "release", "--rounds", "1")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "racelab: error: release: go net/http round 1/1 at 32 connections is no " \
           "measurement: 7 answers were not 2xx or 3xx" in done.stderr
    assert "go net/http 20,000" not in done.stdout
    assert "(could not measure)" in done.stdout.splitlines()[-1]


def test_wrk_that_fails_is_said_and_exits_2(bench_tree: BenchTree) -> None:
    (bench_tree.fakebin / f"wrk.{PORTS['go']}").unlink()  # fake wrk: "unable to connect"
    done = bench_tree.run("--only", "release", "--rounds", "1")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "measurement: wrk exited with status 1: unable to connect to 127.0.0.1:40012 " \
           "Connection refused" in done.stderr
    assert "  release/go                     req/s    n/a  (target >= 1.5x)  " \
           "n/a (not measured)" in done.stdout


def test_racelab_load_against_wrk_on_the_same_server(bench_tree: BenchTree) -> None:
    figures = bench_tree.root / "bench.json"
    done = bench_tree.run("--only", "load", "--rounds", "2", "--json", str(figures))
    assert done.returncode == 0, done.stdout + done.stderr
    # Every wrk run (warm-up, rounds) is against the release server.
    assert set(ports_of(bench_tree.calls())) == {PORTS["release"]}
    data = assert_schema(json.loads(figures.read_text(encoding="utf-8")))
    wrk, load = data["measurements"]
    assert (wrk["driver"], load["driver"]) == ("wrk", "racelab-load")
    assert wrk["connections"] == load["connections"] == 32
    # racelab-load was asked for a round of wrk's rate: 30000 requests, "in 12.5 ms".
    assert [r["requests"] for r in load["rounds"]] == [30000, 30000]
    assert load["requests_per_s"] == 30000 / 0.0125
    [comparison] = data["comparisons"]
    assert (comparison["name"], comparison["ratio"]) == ("racelab-load/wrk", 80.0)


def test_soak_samples_rss_of_both_servers(bench_tree: BenchTree) -> None:
    (bench_tree.fakebin / "wrk.realtime").write_text("")  # wrk runs its duration
    figures = bench_tree.root / "bench.json"
    done = bench_tree.run("--only", "soak", "--soak", "3", "--json", str(figures))
    assert done.returncode == 0, done.stdout + done.stderr
    assert [call[2] for call in bench_tree.calls()] == ["-d3s", "-d3s"]
    data = assert_schema(json.loads(figures.read_text(encoding="utf-8")))
    release, go = data["soak"]
    assert (release["name"], go["name"]) == ("release", "go")
    for soak in (release, go):
        assert len(soak["samples"]) >= 3 and soak["warmup_s"] == 1.0
        assert soak["start_kib"] > 0 and soak["flat"] is True
    assert "racelab: bench-http: 1 of 1 targets met" in done.stdout
    lines = done.stdout.splitlines()
    assert "racelab: bench-http: counter_fixed on GET /hit, Go on GET /hit; 3s soak per " \
           "server; wrk -t2 --latency" in lines
    [mine] = [line for line in lines if line.startswith("  counter_fixed release, 3s soak: RSS ")]
    assert mine.endswith(") flat  met")
    [theirs] = [line for line in lines if line.startswith("  go net/http, 3s soak: RSS ")]
    assert theirs.endswith(") flat  (for comparison)")


def test_a_soak_too_short_to_judge_cannot_be_measured(bench_tree: BenchTree) -> None:
    # The fake wrk returns at once: one RSS sample per server, nothing after the warm-up.
    done = bench_tree.run("--only", "soak", "--soak", "3")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "racelab: error: soak: counter_fixed release: RSS not judged (1 samples, fewer " \
           "than 2 after the 1s warm-up): nothing to judge" in done.stderr
    assert "racelab: bench-http: 0 of 1 targets met; not measured: release RSS flat" \
        in done.stdout


def test_a_server_that_never_listens_is_exit_2_within_the_deadline(
        bench_tree: BenchTree) -> None:
    bench_tree.install("silent_server.py", bench_tree.server("release"))
    started = time.monotonic()
    done = bench_tree.run("--only", "release", "--listen-timeout", "1")
    assert time.monotonic() - started < 30
    assert done.returncode == 2, done.stdout + done.stderr
    assert "racelab: error: counter_fixed release: counter_fixed never printed its " \
           "listening line (none within 1s)" in done.stderr
    assert bench_tree.calls() == []  # nothing was measured
    assert "Traceback" not in done.stderr


def test_a_missing_binary_is_exit_2_naming_it(bench_tree: BenchTree) -> None:
    bench_tree.server("go-race").unlink()
    done = bench_tree.run("--only", "tsan")
    assert done.returncode == 2
    assert f"missing executable {bench_tree.server('go-race')}" in done.stderr


def test_wrk_missing_is_exit_2_with_the_package_to_install(tmp_path: Path, monkeypatch,
                                                           capsys) -> None:
    asked: list[tuple[str, ...]] = []
    monkeypatch.setattr(deps, "ensure", lambda packages: asked.append(tuple(packages)))
    monkeypatch.setenv("PATH", str(tmp_path))
    code = cli.main(["bench-http", "--no-build", "--build-root", str(tmp_path)])
    assert code == 2
    assert capsys.readouterr().err.splitlines() == [
        "racelab: error: wrk not found on PATH: bench-http drives every server with it "
        "(Debian: apt-get install wrk)"]
    [packages] = asked
    assert {"wrk", "golang-go"} <= set(packages)


@pytest.mark.parametrize("args,message", [
    (["--connections", "1"], "--connections 1 is fewer than wrk's --threads 2"),
    (["--hc-connections", "1"], "--hc-connections 1 is fewer than wrk's --threads 2"),
    (["--only", "soak", "--soak", "0"], "--only soak needs a soak of at least 1 second"),
    (["--path", "hit"], "--path must start with '/' and hold no blank, got 'hit'"),
    (["--scenario", "nope"], "unknown scenario 'nope'"),
    (["--connections", "2000"], "racelab-load opens at most 1024"),
    (["--io-threads", "300"], "a racelab server runs at most 256"),
])
def test_bad_flags_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    done = run_racelab("bench-http", "--no-build", *args)
    assert done.returncode == 2
    assert done.stderr.startswith("racelab: error: ") and message in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("args", [["--rounds", "0"], ["--duration", "x"], ["--soak", "-1"],
                                  ["--only", "everything"]])
def test_malformed_numbers_and_parts_are_usage_errors(args: list[str]) -> None:
    done = run_racelab("bench-http", *args)
    assert done.returncode == 2
    assert "usage: racelab bench-http" in done.stderr and "Traceback" not in done.stderr


def test_stages_default_and_only() -> None:
    parser = cli.build_parser()
    scenario = cli.select_scenarios(REPO, ["counter"])[0]

    def stages(*args: str) -> tuple[tuple[str, ...], int]:
        found = cli.bench_settings(parser.parse_args(["bench-http", *args]), scenario)
        return found.stages, found.soak_s

    assert stages() == (("release", "tsan", "load"), 0)
    assert stages("--soak", "60") == (("release", "tsan", "load", "soak"), 60)
    assert stages("--only", "soak") == (("soak",), 60)
    assert stages("--only", "load", "--only", "release") == (("release", "load"), 0)
    found = cli.bench_settings(parser.parse_args(["bench-http"]), scenario)
    assert (found.path, found.io_threads, found.hc_duration_s) == ("/hit", 4, 4)


# --- Builds ----------------------------------------------------------------------------------

def test_build_only_the_bench_targets_with_a_job_count(tmp_path: Path, monkeypatch) -> None:
    log = tmp_path / "calls.log"
    for tool in ("cmake", "go"):
        script = tmp_path / "fakebin" / tool
        script.parent.mkdir(exist_ok=True)
        script.write_text(f"#!/bin/sh\necho \"{tool} $* GOPROXY=$GOPROXY "
                          f"GOTOOLCHAIN=$GOTOOLCHAIN\" >> {log}\n")
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path / 'fakebin'}:{os.environ['PATH']}")
    root = tmp_path / "build"
    for preset in ("release", "tsan"):
        (root / preset).mkdir(parents=True)
        (root / preset / "CMakeCache.txt").write_text("")
    args = cli.build_parser().parse_args(["bench-http", "--build-root", str(root),
                                          "--build-jobs", "1"])
    scenario = cli.select_scenarios(REPO, ["counter"])[0]
    cli._build_for_bench(cli.bench_settings(args, scenario), args,
                         Progress(io.StringIO(), tty=False))
    assert log.read_text().splitlines() == [
        f"cmake --build {root}/release --target counter_fixed racelab-load --parallel 1 "
        "GOPROXY= GOTOOLCHAIN=",
        f"cmake --build {root}/tsan --target counter_fixed --parallel 1 GOPROXY= GOTOOLCHAIN=",
        f"go build -p 1 -o {root}/go-reference/plain . GOPROXY=off GOTOOLCHAIN=local",
        f"go build -race -p 1 -o {root}/go-reference/race . GOPROXY=off GOTOOLCHAIN=local"]


def test_a_go_build_failure_raises_with_its_output(tmp_path: Path, monkeypatch) -> None:
    script = tmp_path / "go"
    script.write_text("#!/bin/sh\necho './main.go:3:1: syntax error' >&2\nexit 1\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    with pytest.raises(build.BuildError) as raised:
        build.build_go(tmp_path, tmp_path / "out" / "plain", Progress(io.StringIO(), tty=False),
                       race=False, cache=tmp_path / "cache")
    assert str(raised.value).startswith("go build failed: ")
    assert raised.value.tail == ["./main.go:3:1: syntax error"]


# --- End to end: the Go reference and the real wrk -------------------------------------------

GO_BUILD_DEADLINE_S = 600


@pytest.mark.e2e
def test_go_reference_serves_wrk(tmp_path: Path) -> None:
    """The plumbing, for real: build the reference, start it as bench-http does, one
    second of wrk, /stats counts at least every answer wrk saw. No speed is asserted."""
    if shutil.which("go") is None or shutil.which("wrk") is None:
        pytest.skip("needs go and wrk (Debian: golang-go, wrk)")
    binary = tmp_path / "go-reference"
    build.build_go(cli.GO_REFERENCE, binary, Progress(io.StringIO(), tty=False), race=False,
                   cache=REPO / "build" / "go-reference")
    run = RunOutcome(index=1, log_dir=tmp_path)
    served = runner.start_server([str(binary), "-addr", "127.0.0.1:0"], dict(os.environ), run,
                                 listen_timeout_s=30, stop_timeout_s=20)
    assert served is not None, run.problems
    try:
        url = f"http://{served.host}:{served.port}/hit"
        done = subprocess.run(["wrk", "-t1", "-c4", "-d1s", "--latency", url],
                              capture_output=True, text=True, timeout=60, check=True)
        result = bench_http.parse_wrk(done.stdout)
        assert Round.from_wrk(result, 4).failed is None
        assert result.requests and result.requests_per_s > 0 and result.p99_ms is not None
        connection = http.client.HTTPConnection(served.host, served.port, timeout=10)
        connection.request("GET", "/stats")
        response = connection.getresponse()
        assert response.status == 200
        assert response.getheader("Server") == "go-http"
        assert int(response.read().decode()) >= result.requests
        connection.close()
        runner.stop_server(served, 20, run)
    finally:
        served.close()
    assert (run.exit_status, run.problems) == (0, [])
    assert (tmp_path / "server.stdout").read_text().splitlines()[-1] == \
        "racelab: shutdown complete"


# --- Server CPU per request ------------------------------------------------------------------

def test_cpu_ticks_are_read_after_a_command_name_holding_spaces_and_parentheses() -> None:
    rest = " ".join(["S", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "250", "50",
                     "0", "0", "20", "0"])
    assert bench_http.cpu_ticks_of_stat(f"4242 (rl io (x)) {rest}\n") == 300
    assert bench_http.cpu_ticks_of_stat("4242 (short) S 1 2") is None
    assert bench_http.cpu_ticks_of_stat("not a stat line") is None
    assert bench_http.cpu_ticks_of_stat(f"4242 (x) {rest.replace('250', 'zz')}") is None


def test_cpu_seconds_of_a_process_follow_the_cpu_it_burned() -> None:
    before = bench_http.read_cpu_s(os.getpid())
    start = time.process_time()
    while time.process_time() - start < 0.3:
        pass
    after = bench_http.read_cpu_s(os.getpid())
    assert before is not None and after is not None
    # Clock ticks are 10 ms; other threads of pytest may add a little.
    assert 0.25 <= after - before <= 0.6


def test_cpu_of_a_process_that_is_gone_is_unknown() -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    assert bench_http.read_cpu_s(gone.pid) is None


def test_cpu_per_request_is_microseconds_and_unknown_without_answers() -> None:
    assert bench_http.cpu_per_request_us(0.8, 100_000) == pytest.approx(8.0)
    assert bench_http.cpu_per_request_us(None, 100_000) is None
    assert bench_http.cpu_per_request_us(0.8, 0) is None
    assert bench_http.cpu_per_request_us(0.8, None) is None
