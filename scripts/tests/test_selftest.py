"""`racelab test` gates ctest through racelab's own pipeline: it never trusts ctest's exit
status alone. A fake `ctest` on PATH (fakes/fake_ctest.py) stands in for the real one."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import DATA, install_fake_ctest
from racelab_cli import selftest
from racelab_cli.model import EXIT_PASS, EXIT_REFUSE, EXIT_UNDECIDED


@pytest.fixture
def fake_ctest(tmp_path: Path, monkeypatch):
    def make(tests: dict[str, list[str]]) -> None:
        for name, value in install_fake_ctest(tmp_path, tests).items():
            monkeypatch.setenv(name, value)
    return make


def test_ctest_step_fails_on_a_race_even_when_the_test_passes(
        tmp_path: Path, fake_ctest) -> None:
    fake_ctest({"A.Clean": [], "B.Races": ["--log", str(DATA / "tsan_data_race.txt")]})
    step, code, line = selftest.run_ctest(out=tmp_path / "out")
    assert (step, code, line) == ("ctest", EXIT_REFUSE,
                                  "100% tests passed, 0 tests failed out of 2")
    assert (tmp_path / "out" / "results.json").is_file()


def test_ctest_step_passes_a_clean_run_and_keeps_its_closing_line(tmp_path: Path,
                                                                  fake_ctest) -> None:
    fake_ctest({"A.Clean": [], "B.Clean": []})
    assert selftest.run_ctest(out=tmp_path / "out") == (
        "ctest", EXIT_PASS, "100% tests passed, 0 tests failed out of 2")


def test_ctest_step_cannot_decide_a_failing_run_without_a_race(tmp_path: Path,
                                                               fake_ctest) -> None:
    fake_ctest({"A.Clean": [], "B.Fails": ["--exit", "1"]})
    step, code, line = selftest.run_ctest(out=tmp_path / "out")
    assert (step, code, line) == ("ctest", EXIT_UNDECIDED,
                                  "50% tests passed, 1 tests failed out of 2")


def test_ctest_step_refuses_a_run_of_uninstrumented_tests(tmp_path: Path,
                                                          fake_ctest) -> None:
    fake_ctest({"A.Plain": ["--plain"]})
    step, code, _line = selftest.run_ctest(out=tmp_path / "out")
    assert (step, code) == ("ctest", EXIT_UNDECIDED)
