"""`racelab gate --self-check`: the gate proves it can fail before it is trusted to pass.
These build two small programs with clang++-14 under TSan (a few seconds each)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from conftest import FAKES, run_racelab
from racelab_cli import collect
from racelab_cli.model import ProblemKind

MAPPING = ("FATAL: ThreadSanitizer: unexpected memory mapping "
           "0x7f1c2a000000-0x7f1c2a400000")


def self_check(tmp_path: Path, **env: str):
    return run_racelab("gate", "--self-check", "--out", str(tmp_path),
                       env={**os.environ, **env}, timeout=600)


def test_self_check_passes_where_tsan_works(tmp_path: Path) -> None:
    done = self_check(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "racelab: self-check: pass: the planted race was reported (data-race in " \
           "PlantedWriter) and its atomic twin was clean; 2 instrumented processes" \
        in done.stdout


def test_self_check_exits_2_for_a_build_without_the_sanitizer(tmp_path: Path) -> None:
    done = self_check(tmp_path, CXXFLAGS="-g -O1")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "racelab: self-check: no sanitizer runtime: the planted race ran without " \
           "ThreadSanitizer" in done.stderr


def test_self_check_exits_2_without_a_symbolizer(tmp_path: Path) -> None:
    done = self_check(tmp_path, TSAN_OPTIONS="symbolize=0")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "reported without its function name: no working symbolizer" in done.stderr


def test_self_check_exits_2_when_the_compiler_is_missing(tmp_path: Path) -> None:
    done = self_check(tmp_path, CXX="no-such-compiler-racelab")
    assert done.returncode == 2
    assert "cannot build the planted race: compiler no-such-compiler-racelab not found" \
        in done.stderr


def test_gate_names_the_aslr_remedy_when_the_runtime_cannot_map(tmp_path: Path) -> None:
    fake = [sys.executable, str(FAKES / "tsan_process.py"), "--plain", "--say", MAPPING,
            "--exit", "66"]
    done = run_racelab("gate", "--out", str(tmp_path), "--", *fake)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "the sanitizer runtime cannot start here: ThreadSanitizer: unexpected memory " \
           "mapping" in done.stderr
    assert "sudo sysctl vm.mmap_rnd_bits=28" in done.stderr


def test_the_mapping_failure_has_its_own_kind(tmp_path: Path) -> None:
    log = tmp_path / "tsan.77"
    log.write_text(MAPPING + "\n")
    [problem] = collect.read_log(log, "tsan.77").problems
    assert problem.kind == ProblemKind.ASLR_INCOMPATIBLE
