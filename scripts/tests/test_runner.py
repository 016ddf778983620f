"""`racelab run` against fake servers (tests/fakes/): it passes what it checked and
fails closed on everything it could not check. No C++ build needed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import FakeTree, read_results
from racelab_cli import runner


def results(tree: FakeTree) -> dict:
    return read_results(tree.out)


def reason_lines(output: str, scenario: str = "counter") -> list[str]:
    return [line for line in output.splitlines()
            if line.startswith(f"racelab: {scenario}: error: ")
            or line.startswith(f"racelab: {scenario}: fail: ")]


def test_run_passes_when_bad_races_and_fixed_is_clean(fake_tree: FakeTree) -> None:
    fake_tree.add_scenario()
    done = fake_tree.run()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "racelab: [1/1] counter bad: 1 finding (data-race) in " in done.stdout
    assert "racelab: [1/1] counter fixed: clean, 100/100 ok, peak 6 threads in " in done.stdout
    assert "racelab: verdict pass (1 scenario: 1 passed, 0 failed, 0 errors)" in done.stdout
    data = results(fake_tree)
    assert data["schema"] == "racelab.results/1"
    assert data["verdict"] == "pass"
    [finding] = data["findings"]
    assert (finding["kind"], finding["count"], finding["status"], finding["scenario"],
            finding["variant"]) == ("data-race", 1, "new", "counter", "bad")
    assert finding["source"].startswith("logs/counter/bad/run1/tsan.")
    [scenario] = data["scenarios"]
    assert scenario["name"] == "counter" and scenario["verdict"] == "pass"
    assert scenario["reasons"] == []
    assert scenario["bad"]["exit_status"] == 66 and scenario["fixed"]["exit_status"] == 0
    assert scenario["fixed"]["requests"] == 100 and scenario["fixed"]["status"] == {"200": 100}
    assert scenario["bad"]["findings"] == 1 and scenario["fixed"]["findings"] == 0
    assert scenario["fixed"]["peak_threads"] == 6
    summary = (fake_tree.out / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith("# racelab: PASS")
    assert "| counter | pass | bad | 66 | 100 | 100 | 1 (data-race) | 6 |" in summary
    assert "<details>" in summary


def test_run_writes_json_with_sorted_keys(fake_tree: FakeTree) -> None:
    fake_tree.add_scenario()
    assert fake_tree.run().returncode == 0
    text = (fake_tree.out / "results.json").read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"


def test_run_exits_1_when_bad_variant_lost_its_bug(fake_tree: FakeTree) -> None:
    fake_tree.add_scenario(bad="clean_server.py")
    done = fake_tree.run()
    assert done.returncode == 1, done.stdout + done.stderr
    assert reason_lines(done.stdout) == [
        "racelab: counter: fail: bad variant lost its bug: no data-race with a top frame "
        "matching /WriterAlpha|WriterBeta/"]
    assert results(fake_tree)["verdict"] == "fail"


def test_run_exits_1_when_no_frame_matches_the_manifest_regex(fake_tree: FakeTree) -> None:
    fake_tree.add_scenario(function="HandleHit")
    done = fake_tree.run()
    assert done.returncode == 1
    assert "bad variant lost its bug: no data-race with a top frame matching /HandleHit/" \
        in done.stdout


def test_run_exits_1_when_fixed_variant_reports(fake_tree: FakeTree) -> None:
    fake_tree.add_scenario(fixed="racy_server.py")
    done = fake_tree.run()
    assert done.returncode == 1
    assert reason_lines(done.stdout) == [
        "racelab: counter: fail: fixed variant is not clean: 1 finding(s) (data-race)"]
    variants = sorted(f["variant"] for f in results(fake_tree)["findings"])
    assert variants == ["bad", "fixed"]


def test_run_exits_1_when_fixed_serves_fewer_than_min_ok(fake_tree: FakeTree) -> None:
    fake_tree.add_scenario(requests=100, min_ok=101)
    done = fake_tree.run()
    assert done.returncode == 1
    assert "fixed variant served 100 2xx responses, fewer than min_ok 101" in done.stdout


def test_run_exits_1_when_fixed_exceeds_max_peak_threads(fake_tree: FakeTree) -> None:
    fake_tree.add_scenario(extra_fixed="max_peak_threads = 5")
    done = fake_tree.run()
    assert done.returncode == 1
    assert "fixed variant peaked at 6 threads, more than max_peak_threads 5" in done.stdout


def test_run_exits_2_when_server_crashes(fake_tree: FakeTree) -> None:
    fake_tree.add_scenario(bad="crashing_server.py")
    done = fake_tree.run()
    assert done.returncode == 2
    assert reason_lines(done.stdout) == [
        "racelab: counter: error: bad: counter_bad crashed (signal SIGSEGV)"]
    scenario = results(fake_tree)["scenarios"][0]
    assert scenario["verdict"] == "error"
    assert scenario["bad"]["signal"] == "SIGSEGV" and scenario["bad"]["exit_status"] is None


def test_run_exits_2_when_server_hangs_after_sigterm(fake_tree: FakeTree) -> None:
    fake_tree.add_scenario(fixed="hanging_server.py")
    done = fake_tree.run("--stop-timeout", "1")
    assert done.returncode == 2
    assert reason_lines(done.stdout) == [
        "racelab: counter: error: fixed: hang: counter_fixed did not exit within 1s of SIGTERM"]


def test_run_exits_2_when_server_never_prints_listening_line(fake_tree: FakeTree) -> None:
    fake_tree.add_scenario(bad="silent_server.py")
    done = fake_tree.run("--listen-timeout", "2", "--variant", "bad")
    assert done.returncode == 2
    assert reason_lines(done.stdout) == [
        "racelab: counter: error: bad: counter_bad never printed its listening line "
        "(none within 2s)"]
    stdout_copy = fake_tree.out / "logs" / "counter" / "bad" / "run1" / "server.stdout"
    assert stdout_copy.read_text() == "starting up, but never listening\n"


def test_run_exits_2_when_server_exits_before_listening(fake_tree: FakeTree) -> None:
    fake_tree.add_scenario(fixed="quitting_server.py")
    done = fake_tree.run("--variant", "fixed")
    assert done.returncode == 2
    assert reason_lines(done.stdout) == [
        "racelab: counter: error: fixed: counter_fixed never printed its listening line "
        "(exited with status 3)"]
    stderr_copy = fake_tree.out / "logs" / "counter" / "fixed" / "run1" / "server.stderr"
    assert stderr_copy.read_text() == "fatal: cannot bind\n"


def test_run_exits_2_when_tsan_log_is_truncated(fake_tree: FakeTree) -> None:
    fake_tree.add_scenario(bad="truncating_server.py")
    done = fake_tree.run()
    assert done.returncode == 2
    [reason] = reason_lines(done.stdout)
    assert reason.startswith("racelab: counter: error: bad: logs/counter/bad/run1/tsan.")
    assert ": truncated report: 'data race' never reached its closing" in reason
    data = results(fake_tree)
    # The cut report is still there: the gate must see it, and it matched the expectation.
    assert [f["kind"] for f in data["findings"]] == ["data-race"]
    assert data["verdict"] == "error"


def test_run_exits_2_when_exit_status_66_leaves_no_report(fake_tree: FakeTree) -> None:
    fake_tree.add_scenario(report=None)
    done = fake_tree.run("--variant", "bad")
    assert done.returncode == 2
    assert "exit status 66 says TSan reported, but no report was found" in done.stdout


def test_run_exits_2_when_load_driver_prints_garbage(fake_tree: FakeTree) -> None:
    fake_tree.add_scenario()
    fake_tree.install("garbage_load.py", "racelab-load")
    done = fake_tree.run("--variant", "fixed")
    assert done.returncode == 2
    [reason] = reason_lines(done.stdout)
    assert reason.startswith("racelab: counter: error: fixed: load driver output unusable: "
                             "not one JSON object")


def test_run_exits_2_when_a_binary_is_missing(fake_tree: FakeTree) -> None:
    fake_tree.add_scenario()
    (fake_tree.bin / "counter_fixed").unlink()
    done = fake_tree.run()
    assert done.returncode == 2
    assert f"fixed: missing executable {fake_tree.bin / 'counter_fixed'}" in done.stdout


def test_run_repeat_takes_the_union_and_counts_occurrences(fake_tree: FakeTree) -> None:
    fake_tree.add_scenario()
    done = fake_tree.run("--repeat", "2", "--variant", "bad")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "racelab: [1/1] counter bad run 2/2: 1 finding (data-race)" in done.stdout
    data = results(fake_tree)
    [finding] = data["findings"]
    assert finding["count"] == 2
    bad = data["scenarios"][0]["bad"]
    assert [r["run"] for r in bad["runs"]] == [1, 2]
    assert bad["findings"] == 1 and bad["occurrences"] == 2
    assert data["scenarios"][0]["fixed"] is None


def test_run_jobs_runs_every_scenario_and_keeps_their_order(fake_tree: FakeTree) -> None:
    for name in ("alpha", "beta", "gamma"):
        fake_tree.add_scenario(name)
    fake_tree.add_scenario("delta", bad="crashing_server.py")
    done = fake_tree.run("--jobs", "2")
    assert done.returncode == 2
    data = results(fake_tree)
    assert [(s["name"], s["verdict"]) for s in data["scenarios"]] == [
        ("alpha", "pass"), ("beta", "pass"), ("delta", "error"), ("gamma", "pass")]


def test_run_named_scenarios_only(fake_tree: FakeTree) -> None:
    fake_tree.add_scenario("alpha")
    fake_tree.add_scenario("beta", bad="crashing_server.py")
    done = fake_tree.run("alpha")
    assert done.returncode == 0
    assert [s["name"] for s in results(fake_tree)["scenarios"]] == ["alpha"]


def test_run_clears_stale_logs_of_an_earlier_run(fake_tree: FakeTree) -> None:
    fake_tree.add_scenario()
    stale = fake_tree.out / "logs" / "counter" / "fixed" / "run1" / "tsan.1"
    stale.parent.mkdir(parents=True)
    stale.write_text((Path(__file__).parent / "data" / "tsan_data_race.txt").read_text())
    done = fake_tree.run()
    assert done.returncode == 0, done.stdout
    assert not stale.exists()


def test_parse_load_output_rejects_missing_fields() -> None:
    good = {"requests": 3, "status": {"200": 3}, "transport_errors": 0, "disconnects": 0,
            "latency_ms": {"p50": 1.0}, "peak_threads": None, "elapsed_ms": 2.0}
    assert runner.parse_load_output(json.dumps(good)).ok_count() == 3
    for key in ("requests", "status", "latency_ms", "elapsed_ms"):
        broken = {k: v for k, v in good.items() if k != key}
        try:
            runner.parse_load_output(json.dumps(broken))
        except ValueError as err:
            assert key in str(err)
        else:
            raise AssertionError(f"accepted a result without {key}")


# --- Baseline, suppressions and the report formats -----------------------------------------

SUPP_DATA = Path(__file__).resolve().parent / "data_suppressions"


def test_run_writes_every_report_format(fake_tree: FakeTree) -> None:
    fake_tree.add_scenario()
    assert fake_tree.run().returncode == 0
    for name in ("results.json", "summary.md", "junit.xml", "results.sarif", "index.html"):
        assert (fake_tree.out / name).is_file(), name


def test_run_passes_a_fixed_variant_whose_finding_is_in_the_baseline(
        fake_tree: FakeTree, tmp_path: Path) -> None:
    fake_tree.add_scenario(fixed="racy_server.py")
    first = fake_tree.run()
    assert first.returncode == 1
    [fingerprint] = {f["fingerprint"] for f in results(fake_tree)["findings"]}
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps({"schema": "racelab.baseline/1", "entries": [
        {"fingerprint": fingerprint, "kind": "data-race", "reason": "known in the fixed "
                                                                    "variant for a test"}]}))
    done = fake_tree.run("--baseline", str(baseline))
    assert done.returncode == 0, done.stdout + done.stderr
    data = results(fake_tree)
    assert {f["status"] for f in data["findings"]} == {"known"}
    assert data["baseline"] == {"file": str(baseline), "known": [fingerprint], "expired": [],
                                "stale": []}


def test_run_counts_the_suppressions_tsan_matched(fake_tree: FakeTree) -> None:
    fake_tree.add_scenario(function="BumpMisses")
    shutil.copyfile(SUPP_DATA / "tsan_partly_suppressed.txt",
                    fake_tree.bin / "counter_bad.report")
    done = fake_tree.run("--suppressions", str(SUPP_DATA / "tsan.supp"))
    assert done.returncode == 0, done.stdout + done.stderr
    data = results(fake_tree)
    assert data["suppressions"]["matched"] == [
        {"type": "race", "pattern": "BumpHits", "line": 3, "count": 1}]
    assert len(data["suppressions"]["stale"]) == 2
    assert "race:NoSuchFunction matched nothing (stale)" in done.stdout


def test_run_exits_2_for_a_bad_suppressions_file_before_running(fake_tree: FakeTree,
                                                                tmp_path: Path) -> None:
    fake_tree.add_scenario()
    supp = tmp_path / "bad.supp"
    supp.write_text("racee:Foo\n")
    done = fake_tree.run("--suppressions", str(supp))
    assert done.returncode == 2
    assert done.stderr.startswith(f"racelab: error: {supp}:1: unknown suppression type")
    assert not (fake_tree.out / "results.json").exists()


# --- Invariants ------------------------------------------------------------------------------

INVARIANT = """
[[invariants]]
description = "/stats equals the number of /hit answered 200"
get = "/stats"
equals = "ok:/hit"
"""


def test_run_passes_the_load_its_header_lines_in_order(fake_tree: FakeTree) -> None:
    fake_tree.add_scenario()
    manifest = fake_tree.root / "scenarios" / "counter" / "scenario.toml"
    manifest.write_text(manifest.read_text().replace(
        "[load]\n", '[load]\nheaders = ["X-Forwarded-For: 2001:db8::{n}", "X-Forwarded-For: '
                    '203.0.113.7"]\n'))
    done = fake_tree.run("--variant", "fixed")
    assert done.returncode == 0, done.stdout + done.stderr
    sent = json.loads((fake_tree.bin / "racelab-load.headers").read_text())
    assert sent == ["X-Forwarded-For: 2001:db8::{n}", "X-Forwarded-For: 203.0.113.7"]


def test_run_passes_a_fixed_variant_whose_invariant_holds(fake_tree: FakeTree) -> None:
    fake_tree.add_scenario(fixed="stats_server.py", extra_fixed=INVARIANT)
    (fake_tree.bin / "counter_fixed.stats").write_text("50\n")  # 100 requests, half /hit
    done = fake_tree.run("--variant", "fixed")
    assert done.returncode == 0, done.stdout + done.stderr
    [check] = results(fake_tree)["scenarios"][0]["fixed"]["invariants"]
    assert check == {"description": "/stats equals the number of /hit answered 200",
                     "path": "/stats", "op": "equals", "expected": 50, "observed": 50,
                     "held": True}


def test_run_fails_a_fixed_variant_that_is_silent_but_wrong(fake_tree: FakeTree) -> None:
    fake_tree.add_scenario(fixed="stats_server.py", extra_fixed=INVARIANT)
    (fake_tree.bin / "counter_fixed.stats").write_text("47\n")  # three hits lost
    done = fake_tree.run("--variant", "fixed")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "racelab: counter: fail: fixed variant broke its invariant /stats equals the " \
           "number of /hit answered 200 (GET /stats equals ok:/hit): expected 50, " \
           "observed 47" in done.stdout
    data = results(fake_tree)
    [violation] = [f for f in data["findings"] if f["variant"] == "fixed"]
    assert (violation["kind"], violation["tool"], violation["status"]) == (
        "invariant-violation", "racelab", "new")
    assert violation["summary"] == ("invariant-violation: GET /stats gave 47, expected "
                                    "equals 50")


def test_run_exits_2_when_the_invariant_cannot_be_read(fake_tree: FakeTree) -> None:
    fake_tree.add_scenario(extra_fixed=INVARIANT)  # clean_server.py answers no HTTP
    done = fake_tree.run("--variant", "fixed")
    assert done.returncode == 2, done.stdout + done.stderr
    [reason] = reason_lines(done.stdout)
    assert reason.startswith("racelab: counter: error: fixed: invariant '/stats equals the "
                             "number of /hit answered 200': GET /stats failed: ")


def test_run_checks_the_invariant_of_the_bad_variant_too(fake_tree: FakeTree) -> None:
    # A check-then-act bug TSan cannot see is caught by its invariant: the bad variant's
    # expected finding is the violation itself.
    fake_tree.add_scenario(bad="stats_server.py", fixed="stats_server.py",
                           extra_fixed=INVARIANT, kind="invariant-violation", function=None)
    (fake_tree.bin / "counter_bad.stats").write_text("53\n")
    (fake_tree.bin / "counter_fixed.stats").write_text("50\n")
    done = fake_tree.run()
    assert done.returncode == 0, done.stdout + done.stderr
    [finding] = results(fake_tree)["findings"]
    assert (finding["kind"], finding["variant"]) == ("invariant-violation", "bad")


@pytest.mark.parametrize("function, code", [
    ("WriterAlpha", 0),          # the top frame of one access stack
    ("WriterBeta", 0),           # ... or of the other
    ("Writer", 1),               # part of a name: anchored, so no match
    ("RunInTurn", 1),            # a deeper frame of the access stacks: not where the bug is
    ("_M_start_thread", 1),      # a frame of the thread-creation stack
])
def test_run_matches_expectations_against_the_top_user_frame_of_an_access(
        fake_tree: FakeTree, function: str, code: int) -> None:
    fake_tree.add_scenario(function=function)
    done = fake_tree.run("--variant", "bad")
    assert done.returncode == code, done.stdout + done.stderr


def test_run_repeat_counts_the_runs_each_variant_passed_on_its_own(
        fake_tree: FakeTree) -> None:
    fake_tree.add_scenario()
    done = fake_tree.run("--repeat", "3")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "racelab: counter bad: reproduced in 3/3 runs" in done.stdout
    assert "racelab: counter fixed: clean in 3/3 runs" in done.stdout
    data = results(fake_tree)
    [finding] = data["findings"]
    assert (finding["runs_seen"], finding["runs"], finding["count"]) == (3, 3, 3)
    scenario = data["scenarios"][0]
    assert (scenario["bad"]["runs_passed"], scenario["fixed"]["runs_passed"]) == (3, 3)


# --- Harness findings: hangs and thread growth -----------------------------------------------

def test_run_captures_the_stacks_of_a_server_that_hangs_after_sigterm(
        fake_tree: FakeTree) -> None:
    fake_tree.add_scenario(fixed="hanging_server.py")
    done = fake_tree.run("--stop-timeout", "1", "--variant", "fixed")
    assert done.returncode == 2
    [hang] = [f for f in results(fake_tree)["findings"] if f["kind"] == "hang"]
    assert hang["tool"] == "racelab" and hang["variant"] == "fixed"
    assert hang["stacks"], "every thread of the hung server, as gdb saw it"
    assert (fake_tree.out / "logs" / "counter" / "fixed" / "run1" / "stacks.txt").is_file()


def test_run_takes_an_expected_hang_as_the_bad_variants_finding(fake_tree: FakeTree) -> None:
    fake_tree.add_scenario(bad="hanging_server.py", kind="hang", function=None)
    done = fake_tree.run("--stop-timeout", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    [hang] = results(fake_tree)["findings"]
    assert (hang["kind"], hang["variant"], hang["status"]) == ("hang", "bad", "new")


def test_run_reports_thread_growth_past_the_bound_as_a_finding(fake_tree: FakeTree) -> None:
    fake_tree.add_scenario(extra_fixed="max_peak_threads = 5")
    done = fake_tree.run("--variant", "fixed")
    assert done.returncode == 1
    [growth] = results(fake_tree)["findings"]
    assert (growth["kind"], growth["summary"]) == (
        "thread-growth", "thread-growth: the server peaked at 6 threads under load, more "
                         "than its bound of 5")


def test_run_reads_what_the_server_found_at_shutdown_with_the_leaked_stack(
        fake_tree: FakeTree) -> None:
    fake_tree.add_scenario(fixed="leaky_server.py")
    done = fake_tree.run("--variant", "fixed")
    assert done.returncode == 1, done.stdout + done.stderr
    findings = {f["kind"]: f for f in results(fake_tree)["findings"]}
    assert set(findings) == {"leaked-thread", "lost-job", "lost-cancellation"}
    leaked = findings["leaked-thread"]
    assert leaked["summary"].startswith("leaked-thread: thread 'rl-fetch-3' (tid ")
    assert leaked["stacks"] and "(tid=" in leaked["stacks"][0]["title"], \
        "the leaked thread's own stack, read while the server held"
    assert findings["lost-job"]["summary"] == \
        "lost-job: webhook: 2 job(s) accepted and never run"
    assert findings["lost-cancellation"]["summary"] == (
        "lost-cancellation: report: 7 unit(s) of work done after the request was "
        "cancelled, up to 850 ms after")
    assert results(fake_tree)["scenarios"][0]["fixed"]["exit_status"] == 0


def test_run_exits_2_when_a_bad_server_reports_and_dies_mid_load(fake_tree: FakeTree) -> None:
    # Its report is in the log and it exited 66, but it never waited for SIGTERM: a crash,
    # not a reproduction.
    fake_tree.add_scenario()
    (fake_tree.bin / "racelab-load.kill-server").write_text("")
    done = fake_tree.run("--variant", "bad")
    assert done.returncode == 2, done.stdout + done.stderr
    assert reason_lines(done.stdout) == [
        "racelab: counter: error: bad: counter_bad exited on its own (status 66) before "
        "SIGTERM"]
