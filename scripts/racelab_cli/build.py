"""Configure and build the C++ tree with CMake presets, showing progress.

`ensure_built` runs `cmake --preset tsan` only when the build tree has no CMakeCache.txt,
then `cmake --build <dir>` (Ninja decides what is stale), optionally only some targets and
with a job count. `build_go` builds a Go main package offline (`racelab bench-http`'s
reference server). A failure raises `BuildError` with the tail of the compiler output,
which racelab prints before exiting 2.
"""

from __future__ import annotations

import collections
import os
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from . import patterns as P
from .progress import Progress

TAIL_LINES = 200  # enough for ctest's list of failed tests


class BuildError(Exception):
    """A configure or build step failed; `tail` holds its last lines of output."""

    def __init__(self, message: str, tail: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.tail = list(tail)


def stream_command(cmd: Sequence[str], *, cwd: Path, on_line: Callable[[str], None],
                   env: Mapping[str, str] | None = None) -> tuple[int, list[str]]:
    """Run `cmd`, feeding each output line (stdout and stderr merged) to `on_line`.
    Returns the exit status and the last TAIL_LINES lines. Raises FileNotFoundError when
    the program does not exist."""
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    with subprocess.Popen(list(cmd), cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                          errors="replace", bufsize=1,
                          env=dict(env) if env is not None else None) as proc:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            tail.append(line)
            on_line(line)
        status = proc.wait()
    return status, list(tail)


def ensure_built(repo: Path, build_dir: Path, progress: Progress, preset: str = "tsan", *,
                 targets: Sequence[str] = (), jobs: int | None = None) -> None:
    """Configure (if needed) and build `build_dir` from the sources in `repo`: every
    target, or only `targets`; with `jobs` compile jobs at most (default: Ninja's)."""
    if not (build_dir / "CMakeCache.txt").is_file():
        configure = ["cmake", "--preset", preset]
        if build_dir.resolve() != (repo / "build" / preset).resolve():
            configure += ["-B", str(build_dir)]
        progress.line(f"configuring: {' '.join(configure)}")
        _run_step(configure, repo, progress, "configure failed")
    started = time.monotonic()
    command = ["cmake", "--build", str(build_dir)]
    if targets:
        command += ["--target", *targets]
    if jobs is not None:
        command += ["--parallel", str(jobs)]
    progress.line(f"building: {' '.join(command)}")
    _run_step(command, repo, progress, "build failed")
    progress.status("")
    progress.line(f"build done in {time.monotonic() - started:.1f}s")


def go_env(base: Mapping[str, str], cache: Path) -> dict[str, str]:
    """The environment `build_go` builds in: never the network (GOPROXY=off, and
    GOTOOLCHAIN=local so a newer go never fetches a toolchain), module mode without a
    workspace, the build and module caches under `cache`, cgo on (-race needs it)."""
    return dict(base, GOPROXY="off", GOTOOLCHAIN="local", GO111MODULE="on", GOWORK="off",
                GOFLAGS="", CGO_ENABLED="1", GOCACHE=str(cache / "gocache"),
                GOPATH=str(cache / "gopath"))


def build_go(source: Path, output: Path, progress: Progress, *, race: bool,
             cache: Path, jobs: int | None = None) -> None:
    """`go build [-race] -o OUTPUT .` in `source`, offline (go_env). Go decides what is
    stale. Raises BuildError."""
    output.parent.mkdir(parents=True, exist_ok=True)
    command = ["go", "build"] + (["-race"] if race else []) + \
        (["-p", str(jobs)] if jobs is not None else []) + ["-o", str(output), "."]
    progress.line(f"building: {' '.join(command)} (in {source})")
    _run_step(command, source, progress, "go build failed", env=go_env(os.environ, cache))


def _run_step(cmd: list[str], cwd: Path, progress: Progress, failure: str,
              env: Mapping[str, str] | None = None) -> None:
    def show(line: str) -> None:
        match = P.NINJA_PROGRESS.match(line)
        if match:
            done, total = int(match["done"]), int(match["total"])
            percent = 100 * done // max(total, 1)
            progress.status(f"building {percent}% [{done}/{total}]")

    try:
        status, tail = stream_command(cmd, cwd=cwd, on_line=show, env=env)
    except FileNotFoundError:
        raise BuildError(f"{failure}: {cmd[0]} not found on PATH") from None
    if status != 0:
        raise BuildError(f"{failure}: '{' '.join(cmd)}' exited with status {status}", tail)
