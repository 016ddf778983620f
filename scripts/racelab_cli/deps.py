"""Make sure the Debian packages racelab builds and runs with are installed.

One `dpkg-query` call checks every package. Missing ones are installed when we are root
(`apt-get update`, then a non-interactive `apt-get install`); otherwise `DepsError` carries
the exact command a person should run. Without dpkg (not Debian) we warn and carry on: the
build will say what is missing in its own words.

The command runner, the effective uid and the output function are parameters so tests can
replace them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence

PACKAGES = (
    "clang-14",
    "llvm-14",
    "libclang-rt-14-dev",
    "cmake",
    "ninja-build",
    "libboost1.81-dev",
    "libboost-json1.81-dev",
    "libcli11-dev",
    "libgtest-dev",
    "libgmock-dev",
    "libbenchmark-dev",
    "python3-pytest",
    "python3-hypothesis",
)

# What only the test suite needs, beyond PACKAGES: the linter and type checker `racelab test`
# runs over the CLI, the JSON Schema validator the tests check every output with,
# clang-format for the C++ format check, for the CI templates' tests a YAML reader,
# shellcheck for their scripts and rsync, which gitlab-ci-local copies jobs with, and Go
# for the gate's test on a Go module.
TEST_PACKAGES = (
    "python3-flake8",
    "mypy",
    "python3-jsonschema",
    "clang-format-14",
    "python3-yaml",
    "shellcheck",
    "rsync",
    "golang-go",
)

# What only `racelab bench-http` needs, beyond PACKAGES: the HTTP benchmark tool it drives
# every server with, and Go, to build the net/http reference server it compares against.
BENCH_PACKAGES = (
    "wrk",
    "golang-go",
)

# And a command, and the Debian package that
# provides it when it is missing. npm installs Microsoft's SARIF validator for the SARIF
# tests; images whose nodejs bundles npm (NodeSource's) need no extra package.
TEST_COMMANDS = (("npm", "npm"),)

Runner = Callable[..., subprocess.CompletedProcess]


class DepsError(Exception):
    """Dependencies are missing and could not be installed; str() is what to print."""


def missing_packages(packages: Sequence[str] = PACKAGES, *,
                     run: Runner = subprocess.run) -> list[str] | None:
    """The packages that are not installed, or None when dpkg-query is not available."""
    try:
        done = run(["dpkg-query", "-W", "-f=${Package}\\t${Status}\\n", *packages],
                   capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return None
    installed = set()
    for line in done.stdout.splitlines():
        name, _, status = line.partition("\t")
        # "install ok installed" / "hold ok installed"; not "... not-installed" or
        # "deinstall ok config-files".
        if status.split()[-1:] == ["installed"]:
            installed.add(name.split(":", 1)[0])
    return [p for p in packages if p not in installed]


def test_packages(which: Callable[[str], str | None] | None = None) -> tuple[str, ...]:
    """PACKAGES plus the packages that provide the test suite's missing commands."""
    which = which or shutil.which
    return PACKAGES + TEST_PACKAGES + tuple(pkg for command, pkg in TEST_COMMANDS
                                            if which(command) is None)


def ensure(packages: Sequence[str] = PACKAGES, *, run: Runner | None = None,
           euid: Callable[[], int] | None = None,
           which: Callable[[str], str | None] | None = None,
           say: Callable[[str], None] = print) -> None:
    """Return when every package is installed (installing them as root). Raises DepsError.
    Defaults (looked up at call time): subprocess.run, os.geteuid, shutil.which."""
    run = run or subprocess.run
    euid = euid or os.geteuid
    which = which or shutil.which
    if which("dpkg-query") is None:
        say("racelab: warning: dpkg-query not found (not Debian?); not checking packages")
        return
    missing = missing_packages(packages, run=run)
    if missing is None:
        say("racelab: warning: dpkg-query could not run; not checking packages")
        return
    if not missing:
        return
    if euid() != 0:
        raise DepsError(
            f"racelab: missing packages: {' '.join(missing)}; install them with:\n"
            f"sudo apt-get update && sudo apt-get install -y {' '.join(missing)}")
    say(f"racelab: installing missing packages: {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    steps = (["apt-get", "update"],
             ["apt-get", "install", "-y", "--no-install-recommends", *missing])
    for step in steps:
        done = run(step, env=env, check=False)
        if done.returncode != 0:
            raise DepsError(f"racelab: '{' '.join(step)}' failed with status {done.returncode}")
    still = missing_packages(packages, run=run) or []
    if still:
        raise DepsError(f"racelab: still missing after apt-get install: {' '.join(still)}")
