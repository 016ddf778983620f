"""`racelab test` gates ctest through racelab's own pipeline: it never trusts ctest's exit
status alone. A fake `ctest` on PATH stands in for the real one (fakes/tsan_process.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from conftest import DATA, FAKES
from racelab_cli import selftest
from racelab_cli.model import EXIT_PASS, EXIT_REFUSE, EXIT_UNDECIDED

CLOSING = "100% tests passed, 0 tests failed out of 3"


def fake_ctest(folder: Path, *args: str) -> None:
    """A `ctest` that runs one fake instrumented process with ARGS."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "ctest"
    quoted = " ".join(f"'{a}'" for a in args)
    script.write_text(f"#!/bin/sh\nexec '{sys.executable}' '{FAKES / 'tsan_process.py'}' "
                      f"{quoted}\n")
    script.chmod(0o755)


@pytest.fixture
def on_path(tmp_path: Path, monkeypatch) -> Path:
    folder = tmp_path / "bin"
    monkeypatch.setenv("PATH", f"{folder}:{os.environ['PATH']}")
    return folder


def test_ctest_step_fails_on_a_race_even_when_ctest_passes(tmp_path: Path,
                                                           on_path: Path) -> None:
    fake_ctest(on_path, "--log", str(DATA / "tsan_data_race.txt"), "--say", CLOSING)
    step, code, line = selftest.run_ctest(out=tmp_path / "out")
    assert (step, code, line) == ("ctest", EXIT_REFUSE, CLOSING)
    assert (tmp_path / "out" / "results.json").is_file()


def test_ctest_step_passes_a_clean_run_and_keeps_its_closing_line(tmp_path: Path,
                                                                  on_path: Path) -> None:
    fake_ctest(on_path, "--say", CLOSING)
    assert selftest.run_ctest(out=tmp_path / "out") == ("ctest", EXIT_PASS, CLOSING)


def test_ctest_step_cannot_decide_a_failing_run_without_a_race(tmp_path: Path,
                                                               on_path: Path) -> None:
    fake_ctest(on_path, "--say", "50% tests passed, 1 tests failed out of 2", "--exit", "8")
    step, code, _line = selftest.run_ctest(out=tmp_path / "out")
    assert (step, code) == ("ctest", EXIT_UNDECIDED)


def test_ctest_step_refuses_a_run_that_printed_no_closing_line(tmp_path: Path,
                                                               on_path: Path) -> None:
    fake_ctest(on_path, "--say", "No tests were found!!!")
    assert selftest.run_ctest(out=tmp_path / "out") == ("ctest", EXIT_UNDECIDED, None)
