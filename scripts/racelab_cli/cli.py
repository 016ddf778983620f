"""racelab's command line: argument parsing and one pipeline function per command.

Exit codes (DESIGN.md): 0 pass; 1 the gate found what it must refuse; 2 could not decide
(usage error, build failure, crash without a report, hang, missing or truncated log).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from . import build, catalog, deps, parse, reports, runner
from . import patterns as P
from .model import (EXIT_FOR_VERDICT, EXIT_PASS, EXIT_REFUSE, EXIT_UNDECIDED, ParseResult,
                    Scenario)
from .progress import Progress

REPO = Path(__file__).resolve().parents[2]
DEFAULT_PRESET = "tsan"


class UsageError(Exception):
    """A problem with what the user asked for; printed as one line, exit 2."""


# --- Entry point ---------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.command(args)
    except (UsageError, catalog.ManifestError) as err:
        _error(str(err))
        return EXIT_UNDECIDED
    except deps.DepsError as err:
        print(str(err), file=sys.stderr)
        return EXIT_UNDECIDED
    except build.BuildError as err:
        for line in err.tail[-40:]:
            print(line, file=sys.stderr)
        _error(str(err))
        return EXIT_UNDECIDED
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_UNDECIDED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="racelab",
        description="Race and leak detection harness: run scenario servers under "
                    "ThreadSanitizer, parse what it reports, gate CI.",
        epilog="Exit status: 0 pass, 1 refused (a finding that must not be there, or a bad "
               "variant that lost its bug), 2 could not decide.")
    sub = parser.add_subparsers(dest="name", required=True, metavar="COMMAND")

    listing = sub.add_parser("list", help="scenarios with a one-line title")
    listing.add_argument("--root", type=_directory, default=REPO,
                         help="folder holding scenarios/ (default: the repository)")
    listing.set_defaults(command=cmd_list)

    parsing = sub.add_parser("parse", help="reports found in TSan output files")
    parsing.add_argument("files", nargs="+", metavar="FILE")
    parsing.add_argument("--json", action="store_true",
                         help="print one racelab.reports/1 object")
    parsing.set_defaults(command=cmd_parse)

    running = sub.add_parser("run", help="build, run scenarios bad and fixed, write reports")
    running.add_argument("names", nargs="*", metavar="NAME", help="scenarios (default: all)")
    running.add_argument("--variant", choices=("bad", "fixed", "both"), default="both")
    running.add_argument("--repeat", type=_positive_int, default=1, metavar="N",
                         help="run each variant N times; findings are the union")
    running.add_argument("--out", type=_path, default=REPO / "reports", metavar="DIR",
                         help="where results.json, summary.md and logs/ go "
                              "(default: <repo>/reports)")
    running.add_argument("--jobs", type=_positive_int, default=1, metavar="J",
                         help="scenarios run J at a time (default 1)")
    running.add_argument("--no-build", action="store_true",
                         help="use the binaries already in the build tree")
    running.add_argument("--build-dir", type=_path, default=REPO / "build" / DEFAULT_PRESET,
                         metavar="DIR", help="build tree; binaries in DIR/bin "
                                             "(default: <repo>/build/tsan)")
    running.add_argument("--root", type=_directory, default=REPO, metavar="DIR",
                         help="folder holding scenarios/ and fixes/ (default: the repository)")
    running.add_argument("--listen-timeout", type=_positive_float, default=30.0,
                         metavar="S", help="seconds a server may take to print its "
                                           "listening line (default 30)")
    running.add_argument("--load-timeout", type=_positive_float, default=300.0,
                         metavar="S", help="seconds the load driver may run (default 300)")
    running.add_argument("--stop-timeout", type=_positive_float, default=20.0,
                         metavar="S", help="seconds a server may take to exit after "
                                           "SIGTERM (default 20)")
    running.set_defaults(command=cmd_run)

    testing = sub.add_parser("test", help="the whole test suite: build, ctest, pytest, run")
    testing.set_defaults(command=cmd_test)
    return parser


# --- Commands ------------------------------------------------------------------------------

def cmd_list(args: argparse.Namespace) -> int:
    scenarios = catalog.load_all(args.root)
    if not scenarios:
        _error(f"no scenarios found in {args.root / 'scenarios'}")
        return EXIT_PASS
    width = max(len(s.name) for s in scenarios)
    for scenario in scenarios:
        print(f"{scenario.name.ljust(width)}  {scenario.title}")
    return EXIT_PASS


def cmd_parse(args: argparse.Namespace) -> int:
    """Exit 0 when every file was read and parsed cleanly (reports or not), 2 when a file
    is missing or unreadable, or a report in it is truncated or garbled."""
    combined = ParseResult()
    for name in args.files:
        result, _readable = parse.parse_file(name)
        combined.extend(result)
    if args.json:
        sys.stdout.write(reports.dump_json(combined.to_json()))
    else:
        sys.stdout.write(reports.parse_listing(combined))
        for error in combined.errors:
            _error(error.one_line())
    return EXIT_UNDECIDED if combined.errors else EXIT_PASS


def cmd_run(args: argparse.Namespace) -> int:
    scenarios = select_scenarios(args.root, args.names)
    deps.ensure()
    progress = Progress()
    if not args.no_build:
        build.ensure_built(REPO, args.build_dir, progress)
    code, _verdict_line = run_and_report(scenarios, args, progress)
    return code


def run_and_report(scenarios: Sequence[Scenario], args: argparse.Namespace,
                   progress: Progress) -> tuple[int, str]:
    """Run, write results.json and summary.md; the exit status and the verdict line."""
    variants = ("bad", "fixed") if args.variant == "both" else (args.variant,)
    args.out.mkdir(parents=True, exist_ok=True)
    config = runner.RunConfig(
        root=args.root, bin_dir=args.build_dir / "bin", out=args.out, variants=variants,
        repeat=args.repeat, jobs=args.jobs, listen_timeout_s=args.listen_timeout,
        load_timeout_s=args.load_timeout, stop_timeout_s=args.stop_timeout)
    try:
        results = runner.run_scenarios(scenarios, config, progress)
    finally:
        progress.clear()
    reports.write_results_json(args.out, results)
    reports.write_summary_md(args.out, results)
    verdict_line = (f"racelab: verdict {results.verdict} ({reports.counts_line(results)}); "
                    f"reports in {args.out}")
    progress.line(verdict_line)
    return EXIT_FOR_VERDICT[results.verdict], verdict_line


def cmd_test(args: argparse.Namespace) -> int:
    """deps, configure, build, ctest, pytest, racelab run; each runner's closing line is
    printed again at the end. 0 only if all passed; 2 if a step could not run."""
    deps.ensure()
    outcomes: list[tuple[str, int, str | None]] = []  # (step, exit class, closing line)
    built = True
    for step, cmd in (("configure", ["cmake", "--preset", DEFAULT_PRESET]),
                      ("build", ["cmake", "--build", "--preset", DEFAULT_PRESET])):
        status, tail = _stream_or_missing(cmd)
        if status != 0:
            if step == "build" and status is not None:
                for line in tail[-20:]:
                    print(line, file=sys.stderr)
            _error(f"{step} failed: '{' '.join(cmd)}' "
                   + (f"exited with status {status}" if status is not None else "not found"))
            outcomes.append((step, EXIT_UNDECIDED, None))
            built = False
            break
    if built:
        status, tail = _stream_or_missing(["ctest", "--preset", DEFAULT_PRESET])
        line = _last_match(tail, P.CTEST_SUMMARY)
        if status is None or line is None:
            outcomes.append(("ctest", EXIT_UNDECIDED, line))
        else:
            outcomes.append(("ctest", EXIT_PASS if status == 0 else EXIT_REFUSE, line))
    outcomes.append(run_pytest(REPO / "scripts" / "tests"))
    if built:
        run_args = build_parser().parse_args(["run", "--no-build"])
        try:
            scenarios = select_scenarios(run_args.root, [])
            code, line = run_and_report(scenarios, run_args, Progress())
        except (UsageError, catalog.ManifestError) as err:
            _error(str(err))
            code, line = EXIT_UNDECIDED, None
        outcomes.append(("run", code, line))
    worst = max(code for _, code, _ in outcomes)
    print()
    passed = [step for step, code, _ in outcomes if code == EXIT_PASS]
    not_passed = [step for step, code, _ in outcomes if code != EXIT_PASS]
    print(f"racelab: test {'pass' if worst == EXIT_PASS else 'FAIL'}: passed "
          f"{', '.join(passed) or 'nothing'}"
          + (f"; not passed: {', '.join(not_passed)}" if not_passed else ""))
    # Each runner's own closing line again, pytest's last (CI log readers look there).
    order = {"configure": 0, "build": 1, "run": 2, "ctest": 3, "pytest": 4}
    for _, _, line in sorted(outcomes, key=lambda o: order[o[0]]):
        if line:
            print(line)
    return worst


# --- Helpers -------------------------------------------------------------------------------

def select_scenarios(root: Path, names: Sequence[str]) -> list[Scenario]:
    """The named scenarios (all when none are named), validated. Raises UsageError for an
    unknown name and ManifestError for a bad manifest."""
    known = catalog.scenario_names(root)
    if not known:
        raise UsageError(f"no scenarios found in {root / 'scenarios'}")
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(f"unknown scenario{'s' if len(unknown) > 1 else ''} "
                         f"{', '.join(repr(n) for n in unknown)}; known: {', '.join(known)}")
    wanted = list(dict.fromkeys(names)) or known
    return [catalog.load(root, name) for name in wanted]


def run_pytest(tests: Path) -> tuple[str, int, str | None]:
    """Run pytest over `tests` with an interpreter that has it: ("pytest", exit class,
    closing line). pytest's 5 (no tests collected) is a failure, not a pass."""
    python = python_with_pytest()
    if python is None:
        _error("no Python interpreter with pytest and hypothesis found "
               f"(tried {sys.executable} and /usr/bin/python3)")
        return ("pytest", EXIT_UNDECIDED, None)
    status, tail = _stream_or_missing([python, "-m", "pytest", str(tests)])
    line = _last_match(tail, P.PYTEST_SUMMARY)
    if status == 0:
        return ("pytest", EXIT_PASS, line)
    if status in (1, 5):  # 1: tests failed; 5: no tests collected, which is no pass either
        return ("pytest", EXIT_REFUSE, line or f"pytest exited with status {status}")
    return ("pytest", EXIT_UNDECIDED, line or f"pytest exited with status {status}")


def python_with_pytest() -> str | None:
    for candidate in dict.fromkeys([sys.executable, "/usr/bin/python3"]):
        if not candidate or not os.access(candidate, os.X_OK):
            continue
        probe = subprocess.run([candidate, "-c", "import pytest, hypothesis"],
                               capture_output=True, check=False)
        if probe.returncode == 0:
            return candidate
    return None


def _stream_or_missing(cmd: list[str]) -> tuple[int | None, list[str]]:
    """Run cmd from the repository root, echoing its output; None status if not found."""
    print(f"racelab: $ {' '.join(cmd)}", flush=True)
    try:
        return build.stream_command(cmd, cwd=REPO, on_line=lambda line: print(line, flush=True))
    except FileNotFoundError:
        return None, []


def _last_match(lines: Sequence[str], pattern) -> str | None:
    for line in reversed(lines):
        if pattern.match(line):
            return line.strip()
    return None


def _error(message: str) -> None:
    print(f"racelab: error: {message}", file=sys.stderr, flush=True)


def _path(text: str) -> Path:
    return Path(text).expanduser().resolve()


def _directory(text: str) -> Path:
    path = _path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: not a directory")
    return path


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0")
    return value
