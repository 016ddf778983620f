"""Configure and build the C++ tree with CMake presets, showing progress.

`ensure_built` runs `cmake --preset tsan` only when the build tree has no CMakeCache.txt,
then `cmake --build <dir>` (Ninja decides what is stale). A failure raises `BuildError`
with the tail of the compiler output, which racelab prints before exiting 2.
"""

from __future__ import annotations

import collections
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from . import patterns as P
from .progress import Progress

TAIL_LINES = 200  # enough for ctest's list of failed tests


class BuildError(Exception):
    """A configure or build step failed; `tail` holds its last lines of output."""

    def __init__(self, message: str, tail: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.tail = list(tail)


def stream_command(cmd: Sequence[str], *, cwd: Path,
                   on_line: Callable[[str], None]) -> tuple[int, list[str]]:
    """Run `cmd`, feeding each output line (stdout and stderr merged) to `on_line`.
    Returns the exit status and the last TAIL_LINES lines. Raises FileNotFoundError when
    the program does not exist."""
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    with subprocess.Popen(list(cmd), cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                          errors="replace", bufsize=1) as proc:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            tail.append(line)
            on_line(line)
        status = proc.wait()
    return status, list(tail)


def ensure_built(repo: Path, build_dir: Path, progress: Progress, preset: str = "tsan") -> None:
    """Configure (if needed) and build `build_dir` from the sources in `repo`."""
    if not (build_dir / "CMakeCache.txt").is_file():
        configure = ["cmake", "--preset", preset]
        if build_dir.resolve() != (repo / "build" / preset).resolve():
            configure += ["-B", str(build_dir)]
        progress.line(f"configuring: {' '.join(configure)}")
        _run_step(configure, repo, progress, "configure failed")
    started = time.monotonic()
    progress.line(f"building: cmake --build {build_dir}")
    _run_step(["cmake", "--build", str(build_dir)], repo, progress, "build failed")
    progress.status("")
    progress.line(f"build done in {time.monotonic() - started:.1f}s")


def _run_step(cmd: list[str], cwd: Path, progress: Progress, failure: str) -> None:
    def show(line: str) -> None:
        match = P.NINJA_PROGRESS.match(line)
        if match:
            done, total = int(match["done"]), int(match["total"])
            percent = 100 * done // max(total, 1)
            progress.status(f"building {percent}% [{done}/{total}]")

    try:
        status, tail = stream_command(cmd, cwd=cwd, on_line=show)
    except FileNotFoundError:
        raise BuildError(f"{failure}: {cmd[0]} not found on PATH") from None
    if status != 0:
        raise BuildError(f"{failure}: '{' '.join(cmd)}' exited with status {status}", tail)
