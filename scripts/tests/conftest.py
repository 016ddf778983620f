"""Shared helpers: the package on sys.path, sample data, fake build trees, running racelab.

Every wait on a child process has a deadline (subprocess timeouts); nothing sleeps.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1]
REPO = SCRIPTS.parent
DATA = Path(__file__).resolve().parent / "data"
FAKES = Path(__file__).resolve().parent / "fakes"
RACELAB = SCRIPTS / "racelab"
CLI_DEADLINE_S = 120  # no racelab invocation in these tests may take longer

sys.path.insert(0, str(SCRIPTS))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: end-to-end test against the real C++ build (runs by default; "
                   "select with -m e2e, skip with -m 'not e2e')")


def data_text(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def run_racelab(*args: str, cwd: Path | None = None, env: dict | None = None,
                timeout: float = CLI_DEADLINE_S) -> subprocess.CompletedProcess:
    """`scripts/racelab ARGS...` in a fresh interpreter (the one running the tests)."""
    return subprocess.run([sys.executable, str(RACELAB), *args], cwd=cwd or Path("/"),
                          env=env, capture_output=True, text=True, timeout=timeout, check=False)


MANIFEST = """\
title = "Fake {name} scenario"
bug = "A fake server that stands in for the C++ one."
guide_rule = "Tests of the runner do not need a C++ build."
fix = "None: it is a fake."
bug_class = "fake"
caught_by = ["tsan"]

[server]
io_threads = 3

[load]
paths = ["/hit", "/stats"]
connections = 2
requests = {requests}

[[bad.expect]]
kind = "{kind}"
{function}

[fixed]
clean = true
min_ok = {min_ok}
{extra_fixed}
"""


@dataclass
class FakeTree:
    """A root with scenarios/ and a build dir with bin/, filled with fakes."""

    root: Path
    build: Path
    out: Path

    def add_scenario(self, name: str = "counter", *, bad: str = "racy_server.py",
                     fixed: str = "clean_server.py", report: str | None = "tsan_data_race.txt",
                     function: str | None = "WriterAlpha|WriterBeta",
                     kind: str = "data-race",
                     requests: int = 100,
                     min_ok: int = 100, extra_fixed: str = "") -> None:
        folder = self.root / "scenarios" / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "scenario.toml").write_text(MANIFEST.format(
            name=name, kind=kind,
            function=f'function = "{function}"' if function else "", requests=requests,
            min_ok=min_ok,
            extra_fixed=extra_fixed), encoding="utf-8")
        self.install(bad, f"{name}_bad")
        self.install(fixed, f"{name}_fixed")
        for variant in ("bad", "fixed"):
            if report:
                shutil.copyfile(DATA / report, self.bin / f"{name}_{variant}.report")

    def install(self, fake: str, as_name: str) -> Path:
        target = self.bin / as_name
        shutil.copyfile(FAKES / fake, target)
        target.chmod(0o755)
        return target

    @property
    def bin(self) -> Path:
        return self.build / "bin"

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return run_racelab("run", *args, "--no-build", "--build-dir", str(self.build),
                           "--root", str(self.root), "--out", str(self.out))


@pytest.fixture
def fake_tree(tmp_path: Path) -> FakeTree:
    tree = FakeTree(root=tmp_path / "root", build=tmp_path / "build", out=tmp_path / "out")
    tree.bin.mkdir(parents=True)
    (tree.root / "scenarios").mkdir(parents=True)
    tree.install("fake_load.py", "racelab-load")
    return tree


# --- Tools from the npm registry, installed into build/npm (git-ignored) on first use

NPM_PREFIX = REPO / "build" / "npm"
NPM_INSTALL_DEADLINE_S = 900


def install_fake_ctest(folder: Path, tests: dict[str, list[str]]) -> dict[str, str]:
    """Puts a `ctest` (fakes/fake_ctest.py) in `folder/bin` that runs `tests` (name -> the
    fake test program's arguments); returns the variables to set: PATH with it first, and
    FAKE_CTEST_SPEC. The tests it ran are written to FAKE_CTEST_SPEC + ".ran"."""
    spec = folder / "spec.json"
    spec.write_text(json.dumps({"tests": tests}))
    bin_folder = folder / "bin"
    bin_folder.mkdir(exist_ok=True)
    wrapper = bin_folder / "ctest"
    wrapper.write_text(f"#!/bin/sh\nexec '{sys.executable}' "
                       f"'{FAKES / 'fake_ctest.py'}' \"$@\"\n")
    wrapper.chmod(0o755)
    return {"PATH": f"{bin_folder}:{os.environ['PATH']}", "FAKE_CTEST_SPEC": str(spec)}


def npm_install(package: str, installed: Path) -> str | None:
    """Install `package` ("name@version") into build/npm unless `installed`, a file it
    brings, is there already. None when it is there; else why it could not be installed."""
    NPM_PREFIX.mkdir(parents=True, exist_ok=True)
    with open(NPM_PREFIX / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test runs must not install at once
        if installed.exists():
            return None
        npm = shutil.which("npm")
        if npm is None:
            return f"npm is needed to install {package} (Debian: apt-get install npm)"
        try:
            done = subprocess.run([npm, "install", "--prefix", str(NPM_PREFIX), "--no-audit",
                                   "--no-fund", package], capture_output=True, text=True,
                                  timeout=NPM_INSTALL_DEADLINE_S, stdin=subprocess.DEVNULL,
                                  check=False)
        except subprocess.TimeoutExpired:
            return f"npm install {package} took more than {NPM_INSTALL_DEADLINE_S}s"
        if done.returncode != 0 or not installed.exists():
            tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
            return f"npm install {package} failed (status {done.returncode}): " + \
                " / ".join(tail)
    return None


# --- JSON Schemas (docs/schemas): every JSON output the tests read is checked against its own

SCHEMAS = REPO / "docs" / "schemas"
SCHEMA_FILES = {"racelab.reports/1": "reports.schema.json",
                "racelab.results/1": "results.schema.json",
                "racelab.diff/1": "diff.schema.json",
                "racelab.baseline/1": "baseline.schema.json",
                "racelab.bench/1": "bench.schema.json"}


def schema_validator(schema_id: str):
    """A validator for one of docs/schemas/, resolving references between them."""
    import jsonschema  # Debian's python3-jsonschema; racelab itself never needs it

    store = {name: json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
             for name in SCHEMA_FILES.values()}
    name = SCHEMA_FILES[schema_id]
    root = store[name]
    resolver = jsonschema.RefResolver(base_uri=name, referrer=root, store=store)
    cls = jsonschema.validators.validator_for(root)
    cls.check_schema(root)
    return cls(root, resolver=resolver)


def assert_schema(data: dict) -> dict:
    """`data` validates against the schema its "schema" field names; returns it."""
    validator = schema_validator(data["schema"])
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])
    return data


def read_results(out: Path) -> dict:
    """OUT/results.json, checked against docs/schemas/results.schema.json."""
    return assert_schema(json.loads((out / "results.json").read_text(encoding="utf-8")))
