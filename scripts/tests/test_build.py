"""The build step: configure only without a cache, ninja progress, failures with a tail."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from racelab_cli import build
from racelab_cli.progress import Progress


def fake_cmake(folder: Path, *, fail_build: bool) -> Path:
    """A cmake that logs its arguments and prints ninja-style progress."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "calls.log"
    script = folder / "cmake"
    script.write_text(
        "#!/bin/sh\n"
        f"echo \"$*\" >> {log}\n"
        "if [ \"$1\" = --build ]; then\n"
        "  echo '[1/3] Building CXX object a.o'\n"
        "  echo '[2/3] Building CXX object b.o'\n"
        + ("  echo 'b.cc:3:1: error: expected ;' >&2\n  echo 'FAILED: b.o'\n  exit 1\n"
           if fail_build else "  echo '[3/3] Linking CXX executable bin/x'\n")
        + "fi\n")
    script.chmod(0o755)
    return log


def test_build_configures_only_without_a_cmake_cache(tmp_path: Path, monkeypatch) -> None:
    log = fake_cmake(tmp_path / "fakebin", fail_build=False)
    monkeypatch.setenv("PATH", f"{tmp_path / 'fakebin'}:{os.environ['PATH']}")
    build_dir = tmp_path / "repo" / "build" / "tsan"
    build_dir.mkdir(parents=True)
    out = io.StringIO()
    build.ensure_built(tmp_path / "repo", build_dir, Progress(out, tty=False))
    (build_dir / "CMakeCache.txt").write_text("")
    build.ensure_built(tmp_path / "repo", build_dir, Progress(out, tty=False))
    assert log.read_text().splitlines() == [
        "--preset tsan", f"--build {build_dir}", f"--build {build_dir}"]
    assert "racelab: build done in " in out.getvalue()


def test_build_of_another_tree_passes_its_binary_dir(tmp_path: Path, monkeypatch) -> None:
    log = fake_cmake(tmp_path / "fakebin", fail_build=False)
    monkeypatch.setenv("PATH", f"{tmp_path / 'fakebin'}:{os.environ['PATH']}")
    (tmp_path / "repo").mkdir()
    elsewhere = tmp_path / "elsewhere"
    build.ensure_built(tmp_path / "repo", elsewhere, Progress(io.StringIO(), tty=False))
    assert log.read_text().splitlines()[0] == f"--preset tsan -B {elsewhere}"


def test_build_failure_raises_with_the_compiler_output_tail(tmp_path: Path,
                                                            monkeypatch) -> None:
    fake_cmake(tmp_path / "fakebin", fail_build=True)
    monkeypatch.setenv("PATH", f"{tmp_path / 'fakebin'}:{os.environ['PATH']}")
    build_dir = tmp_path / "build"
    build_dir.mkdir()
    (build_dir / "CMakeCache.txt").write_text("")
    with pytest.raises(build.BuildError) as raised:
        build.ensure_built(tmp_path, build_dir, Progress(io.StringIO(), tty=False))
    assert str(raised.value).startswith("build failed: ")
    assert "b.cc:3:1: error: expected ;" in raised.value.tail
    assert raised.value.tail[-1] == "FAILED: b.o"


def test_build_shows_ninja_percentage_on_a_terminal(tmp_path: Path, monkeypatch) -> None:
    fake_cmake(tmp_path / "fakebin", fail_build=False)
    monkeypatch.setenv("PATH", f"{tmp_path / 'fakebin'}:{os.environ['PATH']}")
    build_dir = tmp_path / "build"
    build_dir.mkdir()
    (build_dir / "CMakeCache.txt").write_text("")
    out = io.StringIO()
    build.ensure_built(tmp_path, build_dir, Progress(out, tty=True))
    assert "building 33% [1/3]" in out.getvalue()
    assert "building 100% [3/3]" in out.getvalue()


def test_run_exits_2_with_build_failed_and_the_tail(tmp_path: Path, monkeypatch,
                                                    capsys, fake_tree) -> None:
    from racelab_cli import cli, deps
    fake_tree.add_scenario()
    fake_cmake(tmp_path / "fakebin", fail_build=True)
    monkeypatch.setenv("PATH", f"{tmp_path / 'fakebin'}:{os.environ['PATH']}")
    monkeypatch.setattr(deps, "ensure", lambda: None)
    (fake_tree.build / "CMakeCache.txt").write_text("")
    code = cli.main(["run", "--build-dir", str(fake_tree.build), "--root",
                     str(fake_tree.root), "--out", str(fake_tree.out)])
    assert code == 2
    err = capsys.readouterr().err
    assert "b.cc:3:1: error: expected ;" in err
    assert err.splitlines()[-1].startswith("racelab: error: build failed: ")
