"""`racelab gate` end to end: fake gated processes (tests/fakes/tsan_process.py) that write
real TSan logs (data_suppressions/, see its README) into the log_path they are given, one
real program built with clang++-14 -fsanitize=thread, and `go test -race` on a small Go
module (data/go/). Exit codes 0/1/2, results.json.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import DATA, FAKES, read_results, run_racelab
from racelab_cli import deps, frames, parse

FAKE = FAKES / "tsan_process.py"
SUPP = Path(__file__).resolve().parent / "data_suppressions"
TWO_RACES = SUPP / "tsan_unsuppressed.txt"          # BumpHits and BumpMisses races
PARTLY = SUPP / "tsan_partly_suppressed.txt"        # BumpMisses + "Matched" race:BumpHits
ALL_SUPPRESSED = SUPP / "tsan_all_suppressed.txt"   # only "Matched 2 ... race:Bump*"
COMPILE_DEADLINE_S = 300


def fake(*args: str) -> list[str]:
    return [sys.executable, str(FAKE), *args]


def gate(out: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return run_racelab("gate", "--out", str(out), *args, env=env)


def results(out: Path) -> dict:
    return read_results(out)


def fingerprints(log: Path) -> dict[str, str]:
    """Top function (normalized) -> fingerprint of each report in a log."""
    reports = parse.parse_text(log.read_text(encoding="utf-8"), str(log)).reports
    return {frames.normalize_function(r.top_frame.function): r.fingerprint for r in reports}


def write_baseline(path: Path, entries: list[dict]) -> Path:
    path.write_text(json.dumps({"schema": "racelab.baseline/1", "entries": entries}),
                    encoding="utf-8")
    return path


def entry(fingerprint: str, reason: str = "accepted in a test", expires=None) -> dict:
    return {"fingerprint": fingerprint, "kind": "data-race", "top_frame": None,
            "reason": reason, "expires": expires}


# --- Pass, fail, and what the results say --------------------------------------------------

def test_gate_passes_and_streams_output_when_the_command_leaves_no_report(
        tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = gate(out, "--", *fake("--say", "all 3 tests passed"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all 3 tests passed" in done.stdout.splitlines()
    data = results(out)
    assert data["schema"] == "racelab.results/1"
    assert data["verdict"] == "pass"
    assert data["findings"] == []
    assert "scenarios" not in data
    assert data["gate"]["exit_status"] == 0
    for name in ("summary.md", "junit.xml", "results.sarif", "index.html"):
        assert (out / name).is_file(), name
    assert (out / "logs" / "gate" / "output.txt").read_text() == "all 3 tests passed\n"


def test_gate_fails_on_finding_missing_from_baseline(tmp_path: Path) -> None:
    out = tmp_path / "out"
    prints = fingerprints(TWO_RACES)
    baseline = write_baseline(tmp_path / "baseline.json", [entry(prints["BumpHits"])])
    done = gate(out, "--baseline", str(baseline), "--", *fake("--log", str(TWO_RACES),
                                                              "--exit", "66"))
    assert done.returncode == 1, done.stdout + done.stderr
    data = results(out)
    assert data["verdict"] == "fail"
    status = {f["fingerprint"]: f["status"] for f in data["findings"]}
    assert status == {prints["BumpHits"]: "known", prints["BumpMisses"]: "new"}
    for finding in data["findings"]:
        assert finding["scenario"] is None and finding["variant"] is None
        assert finding["count"] == 1
        assert finding["source"].startswith("logs/gate/tsan.")
    assert data["baseline"]["known"] == [prints["BumpHits"]]
    assert "racelab: new: data-race x1 at BumpMisses " in done.stdout
    assert "racelab: verdict fail" in done.stdout


def test_gate_passes_when_every_finding_is_in_the_baseline(tmp_path: Path) -> None:
    out = tmp_path / "out"
    prints = fingerprints(TWO_RACES)
    baseline = write_baseline(tmp_path / "baseline.json",
                              [entry(fp, expires="2999-12-31") for fp in prints.values()])
    done = gate(out, "--baseline", str(baseline), "--",
                *fake("--log", str(TWO_RACES), "--exit", "66"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert {f["status"] for f in results(out)["findings"]} == {"known"}
    assert results(out)["verdict"] == "pass"


def test_gate_expired_baseline_entry_counts_as_new_and_warns(tmp_path: Path) -> None:
    out = tmp_path / "out"
    prints = fingerprints(TWO_RACES)
    baseline = write_baseline(tmp_path / "baseline.json",
                              [entry(prints["BumpHits"]),
                               entry(prints["BumpMisses"], expires="2000-01-01")])
    done = gate(out, "--baseline", str(baseline), "--",
                *fake("--log", str(TWO_RACES), "--exit", "66"))
    assert done.returncode == 1, done.stdout + done.stderr
    status = {f["fingerprint"]: f["status"] for f in results(out)["findings"]}
    assert status[prints["BumpMisses"]] == "new"
    assert status[prints["BumpHits"]] == "known"
    warning = ("expired on 2000-01-01: it no longer excuses its finding, which counts "
               "as new")
    assert warning in done.stdout
    assert warning in (out / "summary.md").read_text(encoding="utf-8")
    assert results(out)["baseline"]["expired"] == [prints["BumpMisses"]]


def test_gate_warns_about_stale_baseline_entries_and_still_passes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    prints = fingerprints(TWO_RACES)
    baseline = write_baseline(tmp_path / "baseline.json",
                              [entry(fp) for fp in prints.values()]
                              + [entry("0123456789abcdef", reason="an old race")])
    done = gate(out, "--baseline", str(baseline), "--",
                *fake("--log", str(TWO_RACES), "--exit", "66"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0123456789abcdef is stale: its finding was not seen" in done.stdout
    assert results(out)["baseline"]["stale"] == ["0123456789abcdef"]


def test_gate_counts_one_finding_over_several_processes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    one = " ".join(fake("--log", str(PARTLY), "--exit", "66"))
    done = gate(out, "--", "sh", "-c", f"{one}; {one}; exit 8")
    assert done.returncode == 1, done.stdout + done.stderr
    data = results(out)
    [finding] = data["findings"]
    assert finding["count"] == 2
    assert len(data["gate"]["log_files"]) == 2
    assert data["gate"]["exit_status"] == 8


# --- Could not decide ----------------------------------------------------------------------

def test_gate_exits_2_when_the_command_is_not_found(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = gate(out, "--", "no-such-racelab-test-command", "--flag")
    assert done.returncode == 2
    assert "racelab: error: command not found: no-such-racelab-test-command" in done.stderr
    assert "Traceback" not in done.stderr
    assert results(out)["verdict"] == "error"


def test_gate_exits_2_when_the_command_exits_66_without_a_log(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = gate(out, "--", *fake("--exit", "66"))
    assert done.returncode == 2
    assert "exited with status 66 (TSan's exitcode) but no report was found" in done.stderr
    assert results(out)["verdict"] == "error"


def test_gate_exits_2_when_the_command_dies_by_a_signal_without_a_report(
        tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = gate(out, "--", *fake("--signal", "SIGKILL"))
    assert done.returncode == 2
    assert "was killed by SIGKILL and left no TSan report" in done.stderr
    data = results(out)
    assert data["gate"]["signal"] == "SIGKILL" and data["gate"]["exit_status"] is None


def test_gate_judges_the_reports_of_a_process_killed_by_a_signal(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = gate(out, "--", *fake("--log", str(PARTLY), "--signal", "SIGKILL"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert [f["status"] for f in results(out)["findings"]] == ["new"]


def test_gate_exits_2_on_a_truncated_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    cut = tmp_path / "cut.txt"
    cut.write_text(TWO_RACES.read_text(encoding="utf-8")[:1500], encoding="utf-8")
    done = gate(out, "--", *fake("--log", str(cut), "--exit", "66"))
    assert done.returncode == 2
    assert "racelab: error: logs/gate/tsan." in done.stderr
    assert ": truncated report: 'data race' never reached its closing" in done.stderr
    assert results(out)["verdict"] == "error"


def test_gate_exits_2_when_the_command_fails_without_any_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = gate(out, "--", *fake("--exit", "3"))
    assert done.returncode == 2
    assert "exited with status 3 and no new finding explains it" in done.stderr


def test_gate_exits_2_when_the_command_hangs_past_its_timeout(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = gate(out, "--timeout", "1", "--", sys.executable, "-c",
                "import signal; signal.pause()")
    assert done.returncode == 2
    assert "hang: " in done.stderr and "did not finish within 1s" in done.stderr


def test_gate_without_command_or_logs_is_a_usage_error(tmp_path: Path) -> None:
    done = gate(tmp_path / "out")
    assert done.returncode == 2
    assert "gate needs a command" in done.stderr


def test_gate_exits_2_naming_a_malformed_baseline(tmp_path: Path) -> None:
    baseline = write_baseline(tmp_path / "baseline.json", [entry("abc", reason=" ")])
    done = gate(tmp_path / "out", "--baseline", str(baseline), "--", *fake())
    assert done.returncode == 2
    assert done.stderr.strip() == (f"racelab: error: {baseline}: entries[0].reason: required: "
                                   "a non-empty string that says why the finding is accepted")
    assert not (tmp_path / "out" / "results.json").exists()


def test_gate_exits_2_naming_the_line_of_an_unknown_suppression_type(tmp_path: Path) -> None:
    supp = tmp_path / "tsan.supp"
    supp.write_text("# ours\nrace:Foo\nraec:Bar\n", encoding="utf-8")
    done = gate(tmp_path / "out", "--suppressions", str(supp), "--", *fake())
    assert done.returncode == 2
    assert done.stderr.startswith(f"racelab: error: {supp}:3: unknown suppression type 'raec'")


# --- TSAN_OPTIONS and suppressions ---------------------------------------------------------

def test_gate_sets_tsan_options_and_keeps_the_users_other_keys(tmp_path: Path) -> None:
    out = tmp_path / "out"
    seen = tmp_path / "options.txt"
    env = {**os.environ, "TSAN_OPTIONS": "verbosity=1 halt_on_error=1 log_path=/elsewhere"}
    done = gate(out, "--suppressions", str(SUPP / "tsan.supp"), "--",
                *fake("--env-to", str(seen)), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    options = dict(item.split("=", 1) for item in seen.read_text().split())
    assert options["log_path"] == str(out / "logs" / "gate" / "tsan")
    assert options["verbosity"] == "1"
    expected = {"halt_on_error": "0", "history_size": "7", "second_deadlock_stack": "1",
                "detect_deadlocks": "1", "report_thread_leaks": "1", "exitcode": "66"}
    assert {k: options[k] for k in expected} == expected
    # racelab applies its suppressions itself: the runtime never hides a report.
    assert "suppressions" not in options and "print_suppressions" not in options


def test_gate_reports_matched_suppressions_with_counts_and_stale_ones(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = gate(out, "--suppressions", str(SUPP / "tsan.supp"), "--",
                *fake("--log", str(PARTLY), "--exit", "66"))
    assert done.returncode == 1, done.stdout + done.stderr
    data = results(out)
    assert data["suppressions"]["matched"] == [
        {"type": "race", "pattern": "BumpHits", "line": 3, "count": 1}]
    assert data["suppressions"]["stale"] == [
        {"type": "race", "pattern": "NoSuchFunction", "line": 5},
        {"type": "deadlock", "pattern": "NeverLocked", "line": 7}]
    assert "tsan.supp:5: race:NoSuchFunction matched nothing (stale)" in done.stdout
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "| `race:BumpHits` | 3 | 1 |" in summary
    assert "| `race:NoSuchFunction` | 5 | 0 (stale) |" in summary


def test_gate_passes_when_tsan_suppressed_every_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = gate(out, "--suppressions", str(SUPP / "all.supp"), "--",
                *fake("--log", str(ALL_SUPPRESSED)))
    assert done.returncode == 0, done.stdout + done.stderr
    data = results(out)
    assert data["findings"] == []
    assert data["suppressions"]["matched"] == [
        {"type": "race", "pattern": "Bump*", "line": 3, "count": 2}]


def test_gate_logs_ties_reports_to_the_suppressions_that_match_them(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    shutil.copyfile(TWO_RACES, logs / "tsan.4242")
    (logs / "ctest.log").write_text("100% tests passed, 0 tests failed out of 3\n")
    out = tmp_path / "out"
    done = run_racelab("gate", "--logs", str(logs), "--suppressions", str(SUPP / "tsan.supp"),
                       "--out", str(out))
    assert done.returncode == 1, done.stdout + done.stderr
    data = results(out)
    status = {f["top_frame"]["function"]: f["status"] for f in data["findings"]}
    assert status == {"(anonymous namespace)::BumpHits()": "suppressed",
                      "(anonymous namespace)::BumpMisses()": "new"}
    assert data["suppressions"]["matched"][0]["count"] == 1
    assert data["gate"]["command"] is None
    assert "racelab: suppressed by race:BumpHits: data-race" in done.stdout


def test_gate_logs_of_go_test_json_name_the_test_of_each_finding(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    shutil.copyfile(DATA / "go_test_json_race.txt", logs / "go-test.json")
    out = tmp_path / "out"
    done = run_racelab("gate", "--logs", str(logs), "--out", str(out))
    assert done.returncode == 1, done.stdout + done.stderr
    [finding] = results(out)["findings"]
    assert (finding["tool"], finding["tests"]) == ("go-race", ["TestRacyHits"])


def test_gate_logs_passes_on_logs_without_reports(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "ctest.log").write_text("100% tests passed, 0 tests failed out of 3\n")
    done = run_racelab("gate", "--logs", str(logs), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_gate_logs_exits_2_for_an_empty_or_missing_directory(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    done = run_racelab("gate", "--logs", str(empty), "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert "holds no files: nothing to judge" in done.stderr
    done = run_racelab("gate", "--logs", str(tmp_path / "nope"), "--out", str(tmp_path / "o"))
    assert done.returncode == 2
    assert "not a directory" in done.stderr


# --- A real program under TSan -------------------------------------------------------------

RACY_PROGRAM = """\
// A tiny racy program for the gate test: two threads bump one plain int.
#include <thread>

namespace {
int shared = 0;
void Bump() { ++shared; }  // RACE: both threads write without synchronization
}  // namespace

int main() {
  std::thread a(Bump), b(Bump);
  a.join();
  b.join();
  return shared == 2 ? 0 : 1;
}
"""


@pytest.fixture(scope="module")
def racy_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("racy")
    source = folder / "racy.cc"
    source.write_text(RACY_PROGRAM, encoding="utf-8")
    binary = folder / "racy"
    compiler = shutil.which("clang++-14")
    assert compiler, "clang++-14 is needed (racelab test installs it)"
    subprocess.run([compiler, "-fsanitize=thread", "-g", "-O1", "-o", str(binary),
                    str(source)], check=True, timeout=COMPILE_DEADLINE_S, cwd=folder)
    return binary


def test_gate_on_a_real_racy_program_fails_until_its_race_is_baselined(
        racy_binary: Path, tmp_path: Path) -> None:
    root = racy_binary.parent
    first = tmp_path / "first"
    done = gate(first, "--source-root", str(root), "--", str(racy_binary))
    assert done.returncode == 1, done.stdout + done.stderr
    [finding] = results(first)["findings"]
    assert finding["kind"] == "data-race" and finding["status"] == "new"
    assert finding["top_frame"]["file"] == str(root / "racy.cc")
    assert finding["top_frame"]["line"] == 6

    baseline = tmp_path / "baseline.json"
    update = run_racelab("baseline", "update", "--baseline", str(baseline), "--reason",
                         "the test's race on purpose", str(first / "results.json"),
                         cwd=root)
    assert update.returncode == 0, update.stdout + update.stderr
    assert f"racelab: added data-race {finding['fingerprint']} at Bump racy.cc:6" \
        in update.stdout

    second = tmp_path / "second"
    done = gate(second, "--baseline", str(baseline), "--source-root", str(root), "--",
                str(racy_binary))
    assert done.returncode == 0, done.stdout + done.stderr
    [finding] = results(second)["findings"]
    assert finding["status"] == "known"


def test_gate_logs_does_not_read_its_own_reports_back(tmp_path: Path) -> None:
    logs = tmp_path / "ci-logs"
    logs.mkdir()
    shutil.copyfile(PARTLY, logs / "tsan.4242")
    first = run_racelab("gate", "--logs", str(logs), "--out", str(logs))
    assert first.returncode == 1, first.stdout + first.stderr
    again = run_racelab("gate", "--logs", str(logs), "--out", str(logs))
    assert again.returncode == 1, again.stdout + again.stderr
    [finding] = results(logs)["findings"]
    assert finding["count"] == 1


# --- No instrumented process, no pass --------------------------------------------------------

def test_gate_of_true_exits_2_no_instrumented_process(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = gate(out, "--", "true")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "no instrumented process ran: true left no sanitizer start-up mark" in done.stderr
    data = results(out)
    assert (data["verdict"], data["instrumented"]) == ("error", 0)


def test_gate_refuses_a_build_that_lost_its_sanitizer(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = gate(out, "--", *fake("--plain", "--say", "all 3 tests passed"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "no instrumented process ran" in done.stderr


def test_gate_counts_instrumented_processes_in_every_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = gate(out, "--", "sh", "-c", " ; ".join([shlex.join(fake())] * 3))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "; 3 instrumented processes); reports in" in done.stdout
    assert results(out)["instrumented"] == 3
    assert "3 instrumented processes" in (out / "summary.md").read_text(encoding="utf-8")
    assert "3 instrumented processes" in (out / "index.html").read_text(encoding="utf-8")


def test_gate_allow_uninstrumented_passes_a_command_that_starts_none(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = gate(out, "--allow-uninstrumented", "--", "true")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "started no instrumented process (allowed by --allow-uninstrumented)" \
        in done.stdout


# --- Frames that cannot be trusted ------------------------------------------------------------

def test_gate_flags_findings_logged_after_a_symbolizer_overflow(tmp_path: Path) -> None:
    log = tmp_path / "overflowed.txt"
    log.write_text("WARNING: Symbolizer buffer too small\n"
                   + TWO_RACES.read_text(encoding="utf-8"), encoding="utf-8")
    out = tmp_path / "out"
    done = gate(out, "--", *fake("--log", str(log), "--exit", "66"))
    assert done.returncode == 1, done.stdout + done.stderr
    data = results(out)
    assert {f["frames_unreliable"] for f in data["findings"]} == {
        "symbolizer buffer too small"}
    assert "2 finding(s) have frames that cannot be trusted (symbolizer buffer too small)" \
        in done.stdout
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "frames unreliable (symbolizer buffer too small)" in summary


def test_gate_flags_unsymbolized_findings(tmp_path: Path) -> None:
    out = tmp_path / "out"
    stripped = Path(__file__).resolve().parent / "data" / "tsan_data_race_symbolize0.txt"
    done = gate(out, "--", *fake("--log", str(stripped), "--exit", "66"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert {f["frames_unreliable"] for f in results(out)["findings"]} == {
        "unsymbolized frames: no symbolizer"}


def test_gate_trusts_the_frames_of_a_symbolized_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = gate(out, "--", *fake("--log", str(TWO_RACES), "--exit", "66"))
    assert done.returncode == 1
    assert {f["frames_unreliable"] for f in results(out)["findings"]} == {None}


# --- A Go module under go test -race -------------------------------------------------------

GO_DEADLINE_S = 900  # the first -race build compiles the standard library (minutes on 2 cores)


@dataclass
class GoModule:
    root: Path              # a copy of data/go/
    env: dict[str, str]     # GOCACHE and GOPATH of their own, nothing from the network


@pytest.fixture(scope="module")
def go_module(tmp_path_factory: pytest.TempPathFactory) -> GoModule:
    """data/go/ copied out of the tree, with a Go toolchain (installed from Debian's
    golang-go when missing, as `racelab test` does; skipped only when that cannot be)."""
    if shutil.which("go") is None:
        try:
            deps.ensure(("golang-go",), say=lambda _text: None)
        except deps.DepsError as err:
            pytest.skip(f"go is not installed and cannot be installed here: {err}")
        if shutil.which("go") is None:
            pytest.skip("go is not installed and golang-go did not provide it")
    home = tmp_path_factory.mktemp("go")
    root = home / "hits"
    shutil.copytree(DATA / "go", root)
    env = {**os.environ, "GOCACHE": str(home / "cache"), "GOPATH": str(home / "gopath"),
           "GOFLAGS": "", "GOPROXY": "off", "GOENV": "off", "GOTOOLCHAIN": "local"}
    env.pop("GORACE", None)
    return GoModule(root, env)


def go_gate(module: GoModule, out: Path, *go_test: str) -> subprocess.CompletedProcess:
    """`racelab gate ... -- go test -count=1 GO_TEST... ./...` in the module (-count=1: a
    cached result runs no process, so it would leave no proof)."""
    return run_racelab("gate", "--out", str(out), "--", "go", "test", "-count=1",
                       *go_test, "./...", cwd=module.root, env=module.env,
                       timeout=GO_DEADLINE_S)


def test_gate_go_test_race_finds_the_racy_test_as_a_go_race_finding(
        go_module: GoModule, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = go_gate(go_module, out, "-race", "-run", "TestRacyHits")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "race detected during execution of test" in done.stdout
    data = results(out)
    assert (data["verdict"], data["instrumented"]) == ("fail", 1)
    [finding] = data["findings"]
    assert (finding["kind"], finding["tool"], finding["status"]) == (
        "data-race", "go-race", "new")
    top = finding["top_frame"]
    assert (top["function"], top["file"], top["line"]) == (
        "racelab.test/hits.(*Racy).Hit()", str(go_module.root / "hits.go"), 15)
    [log] = data["gate"]["log_files"]
    assert log.startswith("logs/gate/tsan.")  # GORACE's log_path: the gate's own folder
    assert finding["source"] == log
    assert "racelab: new: data-race x1 at racelab.test/hits.(*Racy).Hit " in done.stdout
    for name in ("summary.md", "junit.xml", "results.sarif", "index.html"):
        assert (out / name).is_file(), name


def test_gate_go_test_race_passes_the_clean_test(go_module: GoModule, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = go_gate(go_module, out, "-race", "-v", "-run", "TestGuardedHits")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "hits_test.go:38: hits: 4" in done.stdout  # it ran, and did its work
    data = results(out)
    assert (data["verdict"], data["findings"], data["instrumented"]) == ("pass", [], 1)


def test_gate_go_test_without_race_is_not_instrumented(go_module: GoModule,
                                                       tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = go_gate(go_module, out, "-run", "TestGuardedHits")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "no instrumented process ran: go left no sanitizer start-up mark" \
        in done.stderr
    assert (results(out)["verdict"], results(out)["instrumented"]) == ("error", 0)
