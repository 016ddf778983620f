"""`racelab test`: the whole test suite, the README's test command and CI's entry point.

    deps -> configure -> build -> ctest (gated) -> pytest -> flake8 -> mypy -> racelab run

ctest is not trusted on its exit status: it runs through racelab's own gate pipeline
(gate.py, collect.py), one test at a time (ctest_runs.py), so every GoogleTest process
logs to OUT/ctest/logs/gate/tests/<n>/tsan.<pid>, a TSan report in any test fails the step
even if the test itself passed and names the test, and a failing test with no report is a
problem (exit 2). Each runner's closing line is printed again at
the end, pytest's last, so a CI log reader finds it. Exit: the worst step (0, 1 or 2).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from re import Pattern

from . import build, ctest_runs, deps, gate, reports
from . import patterns as P
from .model import EXIT_PASS, EXIT_REFUSE, EXIT_UNDECIDED, Verdict

REPO = Path(__file__).resolve().parents[2]
DEFAULT_PRESET = "tsan"
CTEST_TIMEOUT_S = 1800.0  # the whole GoogleTest run; a hang is a problem, not a wait
LINT_PATHS = ("scripts/racelab_cli", "scripts/racelab", "scripts/tests",
              "scripts/bench_parse.py")

Outcome = tuple[str, int, "str | None"]  # (step, exit class, closing line)


def run_all(run_catalog: Callable[[], tuple[int, str | None]]) -> int:
    """Every step; 0 only if all passed, 2 if one could not run or decide."""
    deps.ensure(deps.test_packages())
    outcomes: list[Outcome] = []
    built = _configure_and_build(outcomes)
    if built:
        outcomes.append(run_ctest())
    outcomes.append(run_pytest(REPO / "scripts" / "tests"))
    outcomes.append(run_flake8())
    outcomes.append(run_mypy())
    if built:
        code, line = run_catalog()
        outcomes.append(("run", code, line))
    return _summarize(outcomes)


def _configure_and_build(outcomes: list[Outcome]) -> bool:
    for step, cmd in (("configure", ["cmake", "--preset", DEFAULT_PRESET]),
                      ("build", ["cmake", "--build", "--preset", DEFAULT_PRESET])):
        status, tail = stream_or_missing(cmd)
        if status != 0:
            if step == "build" and status is not None:
                for line in tail[-20:]:
                    print(line, file=sys.stderr)
            _error(f"{step} failed: '{' '.join(cmd)}' "
                   + (f"exited with status {status}" if status is not None else "not found"))
            outcomes.append((step, EXIT_UNDECIDED, None))
            return False
    return True


def run_ctest(out: Path | None = None) -> Outcome:
    """ctest under the gate: its verdict is the step's exit class; its closing line is
    read from the output the gate kept."""
    out = out or REPO / "reports" / "ctest"
    command = ["ctest", "--preset", DEFAULT_PRESET]
    print(f"racelab: $ {' '.join(command)}  (gated: TSan logs in {out}/logs/gate)", flush=True)
    results = gate.run_gate(gate.GateConfig(out=out, command=command, cwd=REPO,
                                            timeout_s=CTEST_TIMEOUT_S,
                                            echo=gate.echo_to_stdout))
    reports.write_all(out, results, reports.ReportContext(source_root=REPO))
    tests = results.gate.tests if results.gate is not None else None
    line = (ctest_runs.closing_line([t.exit_status for t in tests]) if tests else None)
    for finding in results.findings:
        print(f"racelab: ctest: {finding.label}: {finding.report.kind} x{finding.count} "
              f"from {finding.report.source} [{finding.report.fingerprint}]")
    for problem in results.problems:
        _error(f"ctest: {problem.one_line()}")
    verdict = results.verdict
    if line is None and verdict == Verdict.PASS:
        _error("ctest printed no closing line: cannot tell that it ran the tests")
        return ("ctest", EXIT_UNDECIDED, None)
    print(f"racelab: ctest gate: verdict {verdict} ({reports.verdict_line(results)}); "
          f"reports in {out}", flush=True)
    return ("ctest", verdict.exit_code, line)


def run_pytest(tests: Path) -> Outcome:
    """Run pytest over `tests` with an interpreter that has it: ("pytest", exit class,
    closing line). pytest's 5 (no tests collected) is a failure, not a pass."""
    python = python_with(("pytest", "hypothesis", "jsonschema"))
    if python is None:
        _error("no Python interpreter with pytest, hypothesis and jsonschema found "
               f"(tried {sys.executable} and /usr/bin/python3)")
        return ("pytest", EXIT_UNDECIDED, None)
    status, tail = stream_or_missing([python, "-m", "pytest", str(tests)])
    line = last_match(tail, P.PYTEST_SUMMARY)
    if status == 0:
        return ("pytest", EXIT_PASS, line)
    if status in (1, 5):  # 1: tests failed; 5: no tests collected, which is no pass either
        return ("pytest", EXIT_REFUSE, line or f"pytest exited with status {status}")
    return ("pytest", EXIT_UNDECIDED, line or f"pytest exited with status {status}")


def run_flake8() -> Outcome:
    return _lint("flake8", ["-m", "flake8", *LINT_PATHS], ("flake8",))


def run_mypy() -> Outcome:
    return _lint("mypy", ["-m", "mypy", "scripts/racelab_cli"], ("mypy",))


def _lint(step: str, args: list[str], modules: Sequence[str]) -> Outcome:
    python = python_with(modules)
    if python is None:
        _error(f"no Python interpreter with {step} found")
        return (step, EXIT_UNDECIDED, None)
    status, tail = stream_or_missing([python, *args])
    if status == 0:
        return (step, EXIT_PASS, f"{step}: clean")
    return (step, EXIT_REFUSE if status == 1 else EXIT_UNDECIDED,
            f"{step}: exited with status {status}")


def _summarize(outcomes: list[Outcome]) -> int:
    worst = max(code for _, code, _ in outcomes)
    print()
    passed = [step for step, code, _ in outcomes if code == EXIT_PASS]
    not_passed = [step for step, code, _ in outcomes if code != EXIT_PASS]
    print(f"racelab: test {'pass' if worst == EXIT_PASS else 'FAIL'}: passed "
          f"{', '.join(passed) or 'nothing'}"
          + (f"; not passed: {', '.join(not_passed)}" if not_passed else ""))
    # Each runner's own closing line again, pytest's last (CI log readers look there).
    order = {"configure": 0, "build": 1, "flake8": 2, "mypy": 3, "run": 4, "ctest": 5,
             "pytest": 6}
    for _, _, line in sorted(outcomes, key=lambda o: order[o[0]]):
        if line:
            print(line)
    return worst


# --- Helpers -------------------------------------------------------------------------------

def python_with(modules: Sequence[str]) -> str | None:
    """An interpreter that can import every module: this one, else Debian's."""
    probe_code = "import " + ", ".join(modules)
    for candidate in dict.fromkeys([sys.executable, "/usr/bin/python3"]):
        if not candidate or not os.access(candidate, os.X_OK):
            continue
        probe = subprocess.run([candidate, "-c", probe_code], capture_output=True,
                               check=False)
        if probe.returncode == 0:
            return candidate
    return None


def python_with_pytest() -> str | None:
    return python_with(("pytest", "hypothesis"))


def stream_or_missing(cmd: list[str]) -> tuple[int | None, list[str]]:
    """Run cmd from the repository root, echoing its output; None status if not found."""
    print(f"racelab: $ {' '.join(cmd)}", flush=True)
    try:
        return build.stream_command(cmd, cwd=REPO, on_line=lambda line: print(line, flush=True))
    except FileNotFoundError:
        return None, []


def last_match(lines: Sequence[str], pattern: Pattern[str]) -> str | None:
    for line in reversed(lines):
        if pattern.match(line):
            return line.strip()
    return None


def _error(message: str) -> None:
    print(f"racelab: error: {message}", file=sys.stderr, flush=True)
