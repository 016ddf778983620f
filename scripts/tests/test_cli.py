"""The command-line contract of docs/reference.md: commands, exit codes, JSON shapes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DATA, RACELAB, REPO, FakeTree, assert_schema, run_racelab
from racelab_cli import cli, selftest


def test_racelab_is_an_executable_python3_script() -> None:
    assert os.access(RACELAB, os.X_OK)
    assert RACELAB.read_text().startswith("#!/usr/bin/env python3\n")


def test_help_works_from_any_directory_with_both_interpreters(tmp_path: Path) -> None:
    pythons = [sys.executable, "/usr/bin/python3", shutil.which("python3")]
    for python in dict.fromkeys(p for p in pythons if p):
        done = subprocess.run([python, str(RACELAB), "--help"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        for command in ("list", "parse", "run", "diff", "gate", "baseline", "test"):
            assert command in done.stdout


def test_list_prints_each_scenario_with_its_title(fake_tree: FakeTree) -> None:
    fake_tree.add_scenario("counter")
    fake_tree.add_scenario("shared_map")
    done = run_racelab("list", "--root", str(fake_tree.root))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "counter     Fake counter scenario",
        "            [fake; caught by tsan]",
        "shared_map  Fake shared_map scenario",
        "            [fake; caught by tsan]",
    ]


def test_list_of_the_repository_names_every_scenario_folder() -> None:
    done = run_racelab("list")
    assert done.returncode == 0, done.stderr
    names = sorted(p.parent.name for p in (REPO / "scenarios").glob("*/scenario.toml"))
    assert [line.split()[0] for line in done.stdout.splitlines()
            if not line.startswith(" ")] == names


def test_list_exits_2_naming_file_and_field_of_a_bad_manifest(fake_tree: FakeTree) -> None:
    fake_tree.add_scenario("counter")
    manifest = fake_tree.root / "scenarios" / "counter" / "scenario.toml"
    manifest.write_text(manifest.read_text().replace("connections = 2", "connections = 0"))
    done = run_racelab("list", "--root", str(fake_tree.root))
    assert done.returncode == 2
    assert done.stderr.strip() == (f"racelab: error: {manifest}: load.connections: must be "
                                   "an integer >= 1, got 0")


def test_parse_json_prints_the_reports_schema() -> None:
    done = run_racelab("parse", "--json", str(DATA / "tsan_data_race.txt"),
                       str(DATA / "tsan_thread_leak.txt"))
    assert done.returncode == 0, done.stderr
    data = assert_schema(json.loads(done.stdout))
    assert set(data) == {"schema", "reports", "errors"}
    assert data["schema"] == "racelab.reports/1"
    assert data["errors"] == []
    assert [r["kind"] for r in data["reports"]] == ["data-race", "thread-leak"]
    for report in data["reports"]:
        assert set(report) == {"kind", "headline", "tool", "summary", "stacks", "top_frame",
                               "fingerprint", "source"}
        for stack in report["stacks"]:
            assert set(stack) == {"title", "frames"}
            for frame in stack["frames"]:
                assert set(frame) == {"function", "file", "line", "column", "module"}
    assert data["reports"][0]["source"] == str(DATA / "tsan_data_race.txt")
    assert done.stdout == json.dumps(data, indent=2, sort_keys=True) + "\n"


def test_parse_json_lists_truncation_in_errors_and_exits_2() -> None:
    done = run_racelab("parse", "--json", str(DATA / "tsan_data_race_truncated.txt"))
    assert done.returncode == 2
    data = assert_schema(json.loads(done.stdout))
    assert len(data["reports"]) == 1
    [error] = data["errors"]
    assert error["source"] == str(DATA / "tsan_data_race_truncated.txt")
    assert error["line"] == 2 and "truncated" in error["message"]


def test_parse_report_that_reached_its_summary_is_whole_and_exits_0() -> None:
    done = run_racelab("parse", "--json", str(DATA / "tsan_heap_use_after_free_pasted.txt"))
    assert done.returncode == 0, done.stdout + done.stderr
    data = assert_schema(json.loads(done.stdout))
    assert [r["kind"] for r in data["reports"]] == ["heap-use-after-free"]
    assert data["errors"] == []


def test_parse_exits_2_for_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.log"
    done = run_racelab("parse", str(DATA / "tsan_data_race.txt"), str(missing))
    assert done.returncode == 2
    assert f"racelab: error: {missing}: no such file" in done.stderr
    assert "Traceback" not in done.stderr


def test_parse_binary_file_gives_an_error_line_not_a_traceback(tmp_path: Path) -> None:
    blob = tmp_path / "blob.bin"
    blob.write_bytes(bytes(range(256)) * 4)
    done = run_racelab("parse", str(blob))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "binary data" in done.stderr


def test_parse_without_json_lists_one_line_per_report() -> None:
    done = run_racelab("parse", str(DATA / "tsan_lock_order_inversion.txt"))
    assert done.returncode == 0
    [line] = done.stdout.splitlines()
    assert line.startswith(f"{DATA / 'tsan_lock_order_inversion.txt'}:2: lock-order-inversion "
                           "[clang-tsan] ")
    assert line.endswith(" at (anonymous namespace)::LockFirstThenSecond() "
                         "/work/main/scripts/tests/data/src/lock_order.cc:13:31")


def test_run_exits_2_for_an_unknown_scenario_listing_the_known_ones(fake_tree: FakeTree) -> None:
    fake_tree.add_scenario("counter")
    fake_tree.add_scenario("shared_map")
    done = fake_tree.run("countr")
    assert done.returncode == 2
    assert done.stderr.strip() == ("racelab: error: unknown scenario 'countr'; known: "
                                   "counter, shared_map")
    assert not (fake_tree.out / "results.json").exists()


def test_run_exits_2_when_no_scenarios_exist(fake_tree: FakeTree) -> None:
    done = fake_tree.run()
    assert done.returncode == 2
    assert "no scenarios found" in done.stderr


@pytest.mark.parametrize("args", [["--repeat", "0"], ["--jobs", "-1"], ["--variant", "ugly"]])
def test_run_rejects_bad_options_with_exit_2(fake_tree: FakeTree, args: list[str]) -> None:
    fake_tree.add_scenario()
    done = fake_tree.run(*args)
    assert done.returncode == 2
    assert "usage: racelab run" in done.stderr


def write_fake_dpkg_query(folder: Path, missing: set[str]) -> None:
    """A dpkg-query that reports every package installed except `missing`."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "dpkg-query"
    script.write_text(
        "#!/bin/sh\n"
        "# usage: dpkg-query -W -f=FORMAT PKG...\n"
        "shift 2\n"
        "for p in \"$@\"; do\n"
        f"  case \" {' '.join(sorted(missing))} \" in\n"
        "    *\" $p \"*) printf '%s\\tunknown ok not-installed\\n' \"$p\" ;;\n"
        "    *) printf '%s\\tinstall ok installed\\n' \"$p\" ;;\n"
        "  esac\n"
        "done\n")
    script.chmod(0o755)


def test_run_exits_2_with_the_apt_line_when_packages_are_missing_and_not_root(
        fake_tree: FakeTree, tmp_path: Path, monkeypatch, capsys) -> None:
    fake_tree.add_scenario()
    write_fake_dpkg_query(tmp_path / "fakebin", {"libcli11-dev", "ninja-build"})
    monkeypatch.setenv("PATH", f"{tmp_path / 'fakebin'}:{os.environ['PATH']}")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    code = cli.main(["run", "--no-build", "--build-dir", str(fake_tree.build),
                     "--root", str(fake_tree.root), "--out", str(fake_tree.out)])
    assert code == 2
    err = capsys.readouterr().err
    assert "sudo apt-get update && sudo apt-get install -y ninja-build libcli11-dev" \
        in err.splitlines()
    assert not (fake_tree.out / "results.json").exists()


def test_test_command_counts_no_collected_tests_as_a_failure(tmp_path: Path) -> None:
    (tmp_path / "test_nothing_here.py").write_text("X = 1\n")
    step, code, line = selftest.run_pytest(tmp_path)
    assert step == "pytest"
    assert code == 1
    assert line is not None and "no tests ran" in line


def test_test_command_finds_an_interpreter_with_pytest() -> None:
    python = selftest.python_with_pytest()
    assert python is not None
    probe = subprocess.run([python, "-c", "import pytest, hypothesis"], timeout=60,
                           capture_output=True, check=False)
    assert probe.returncode == 0
