"""racelab's command line: argument parsing and one pipeline function per command.

Exit codes (docs/reference.md): 0 pass; 1 the gate found what it must refuse; 2 could not
decide (usage error, build failure, crash without a report, hang, missing or truncated log,
a bad baseline or suppressions file).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from . import baseline as baseline_file
from . import bench_http, build, catalog, collect, ctest_runs, deps, diff, frames, gate
from . import merge, reports, runner, selfcheck, selftest, show, suppressions
from .model import (EXIT_PASS, EXIT_REFUSE, EXIT_UNDECIDED, Baseline, Frame, Results,
                    Scenario, SuppressionFile, Variant)
from .progress import Progress

REPO = selftest.REPO
DEFAULT_PRESET = selftest.DEFAULT_PRESET
GO_REFERENCE = REPO / "harness" / "bench" / "go_reference"  # bench-http's yardstick


class UsageError(Exception):
    """A problem with what the user asked for; printed as one line, exit 2."""


# --- Entry point ---------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.command(args)
    except (UsageError, catalog.ManifestError, baseline_file.BaselineError,
            suppressions.SuppressionError, diff.InputError, merge.MergeError) as err:
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

    showing = sub.add_parser("show", help="one pair: its reason, the diff, its last findings")
    showing.add_argument("name", metavar="NAME")
    showing.add_argument("--out", type=_path, default=REPO / "reports", metavar="DIR",
                         help="where the last run's results.json is (default: "
                              "<repo>/reports); the pair is run there when it is missing")
    showing.add_argument("--root", type=_directory, default=REPO, metavar="DIR",
                         help="folder holding scenarios/ and fixes/ (default: the repository)")
    showing.add_argument("--build-dir", type=_path, default=REPO / "build" / DEFAULT_PRESET,
                         metavar="DIR", help="build tree, for a run (default: <repo>/build/tsan)")
    showing.add_argument("--no-build", action="store_true",
                         help="use the binaries already in the build tree")
    showing.set_defaults(command=cmd_show)

    parsing = sub.add_parser("parse", help="reports found in TSan output files")
    parsing.add_argument("files", nargs="+", metavar="FILE")
    parsing.add_argument("--json", action="store_true",
                         help="print one racelab.reports/1 object")
    parsing.set_defaults(command=cmd_parse)

    running = sub.add_parser("run", help="build, run scenarios bad and fixed, write reports")
    running.add_argument("names", nargs="*", metavar="NAME", help="scenarios (default: all)")
    running.add_argument("--variant", choices=("bad", "fixed", "both"), default=None,
                         help="which variants to run (default: both under tsan; fixed under "
                              "asan, where the catalog's races are not AddressSanitizer's to "
                              "see and the fixed catalog must be clean)")
    running.add_argument("--repeat", type=_positive_int, default=1, metavar="N",
                         help="run each variant N times; findings are the union")
    running.add_argument("--out", type=_path, default=REPO / "reports", metavar="DIR",
                         help="where results.json, summary.md and logs/ go "
                              "(default: <repo>/reports)")
    running.add_argument("--jobs", type=_positive_int, default=1, metavar="J",
                         help="scenarios run J at a time (default 1)")
    running.add_argument("--shard", type=_shard, default=None, metavar="K/N",
                         help="run only the K-th of N slices of the catalog (racelab merge "
                              "combines the shards)")
    running.add_argument("--no-build", action="store_true",
                         help="use the binaries already in the build tree")
    running.add_argument("--sanitizer", choices=("tsan", "asan"), default="tsan",
                         help="the build to run: tsan (ThreadSanitizer, the default) or asan "
                              "(AddressSanitizer + LeakSanitizer + UBSan, the asan preset)")
    running.add_argument("--build-dir", type=_path, default=None,
                         metavar="DIR", help="build tree; binaries in DIR/bin "
                                             "(default: <repo>/build/<sanitizer>)")
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
    _add_gate_files(running)
    running.set_defaults(command=cmd_run)

    diffing = sub.add_parser(
        "diff", help="fixed / remaining / introduced findings between two results",
        description="Compare two results.json (or `racelab parse --json`) files by "
                    "fingerprint. Exit 0 when nothing was introduced, 1 when something "
                    "was, 2 on bad input.")
    diffing.add_argument("before", type=Path, metavar="BEFORE.json")
    diffing.add_argument("after", type=Path, metavar="AFTER.json")
    diffing.add_argument("--json", action="store_true",
                         help="print one racelab.diff/1 object")
    diffing.set_defaults(command=cmd_diff)

    gating = sub.add_parser(
        "gate", help="run COMMAND under TSan options (or read --logs DIR) and gate on the "
                     "reports",
        usage="racelab gate [--baseline F] [--suppressions F] [--out DIR] [--timeout S] "
              "-- COMMAND...\n       racelab gate [--baseline F] [--suppressions F] "
              "[--out DIR] --logs DIR",
        description="Gate any project's TSan run on the reports it leaves, never on the exit "
                    "status alone. Exit 0: no new finding; 1: a new finding (not suppressed, "
                    "not in the baseline); 2: could not decide.")
    _add_gate_files(gating)
    gating.add_argument("--out", type=_path, default=None, metavar="DIR",
                        help="where results.json, summary.md, junit.xml, results.sarif, "
                             "index.html and logs/gate/ go (default: ./reports)")
    gating.add_argument("--logs", type=_path, default=None, metavar="DIR",
                        help="judge the logs in DIR (TSan log_path files or any text logs) "
                             "instead of running a command")
    gating.add_argument("--timeout", type=_positive_float, default=None, metavar="S",
                        help="kill COMMAND (exit 2) when it runs longer than S seconds")
    gating.add_argument("--self-check", action="store_true",
                        help="first build and gate a planted race and its atomic twin with "
                             "$CXX and $CXXFLAGS (default clang++-14 -fsanitize=thread -g "
                             "-O1): exit 2, saying what is broken, unless the race is "
                             "reported and the twin is clean")
    gating.add_argument("--shard", type=_shard, default=None, metavar="K/N",
                        help="with ctest: run only the K-th of N slices of its test list "
                             "(racelab merge combines the shards)")
    gating.add_argument("--jobs", type=_positive_int, default=1, metavar="J",
                        help="with ctest: run J tests at a time (default 1)")
    gating.add_argument("--allow-uninstrumented", action="store_true",
                        help="pass a COMMAND that starts no instrumented process (by default "
                             "that is exit 2: silence from an uninstrumented build proves "
                             "nothing)")
    gating.add_argument("--source-root", type=_directory, default=None, metavar="DIR",
                        help="repository root that report locations are relative to "
                             "(default: the git work tree around the current directory)")
    gating.add_argument("gated", nargs=argparse.REMAINDER, metavar="COMMAND",
                        help="the command to run, after --")
    gating.set_defaults(command=cmd_gate)

    merging = sub.add_parser(
        "merge", help="combine the results.json of shards into one verdict and one set of "
                      "reports",
        description="Read the results.json of every shard of one run or one gate "
                    "(--shard K/N), write one results.json, summary.md, junit.xml, "
                    "results.sarif and index.html into --out, and exit with the merged "
                    "verdict: 0 pass, 1 fail, 2 error.")
    merging.add_argument("results", nargs="+", type=Path, metavar="RESULTS.json")
    merging.add_argument("--out", type=_path, default=REPO / "reports", metavar="DIR",
                         help="where the merged reports go (default: <repo>/reports)")
    merging.add_argument("--source-root", type=_directory, default=None, metavar="DIR",
                         help="repository root that report locations are relative to "
                              "(default: the git work tree around the current directory)")
    merging.set_defaults(command=cmd_merge)

    base = sub.add_parser("baseline", help="maintain the baseline of known findings")
    base_sub = base.add_subparsers(dest="action", required=True, metavar="ACTION")
    updating = base_sub.add_parser(
        "update", help="add a results.json's new findings to the baseline",
        description="Add an entry for each finding of RESULTS.json that the baseline lacks "
                    "(with --reason); keep every existing entry as it is; list entries "
                    "whose finding is gone (stale) and remove them only with --prune.")
    updating.add_argument("results", type=Path, metavar="RESULTS.json")
    updating.add_argument("--baseline", type=Path, default=Path("ci/baseline.json"),
                          metavar="F", help="the baseline file (default: ci/baseline.json; "
                                            "created when missing)")
    updating.add_argument("--reason", default=None, metavar="TEXT",
                          help="why the added findings are accepted (required when any "
                               "are added)")
    updating.add_argument("--expires", type=_iso_date, default=None, metavar="YYYY-MM-DD",
                          help="expiry date of the added entries (default: none)")
    updating.add_argument("--prune", action="store_true",
                          help="remove entries whose finding is not in RESULTS.json")
    updating.set_defaults(command=cmd_baseline_update)

    testing = sub.add_parser("test", help="the whole test suite: build, ctest, pytest, run")
    testing.set_defaults(command=cmd_test)

    _add_bench_http(sub)
    return parser


def _add_bench_http(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser(
        "bench-http", help="a fixed server, release and TSan builds, against Go's net/http "
                           "under wrk: req/s, p50/p99 and their ratios",
        description="Measure a scenario's fixed server (release and tsan presets) and Go's "
                    "net/http reference (plain and -race) with wrk, side by side in this "
                    "invocation: rounds alternate between the two sides and each figure is "
                    "the median of its side. Prints requests/s, p50, p99 and max latency, "
                    "the ratios with their targets (met or MISSED; speed never fails the "
                    "command), the p99 at --hc-connections, racelab-load against wrk, and "
                    "with --soak the RSS of both servers under load.",
        epilog="Exit status: 0 measured (targets met or not), 1 a server reported a finding "
               "under benchmark load (a TSan report, a leaked thread), 2 could not measure "
               "(build failure, a server that did not start, wrk failing or non-2xx "
               "answers).")
    bench.add_argument("--scenario", default="counter", metavar="NAME",
                       help="whose fixed server to measure (default: counter)")
    bench.add_argument("--only", action="append", choices=bench_http.STAGES, default=None,
                       help="run only this part (repeatable; default: release, tsan and load, "
                            "and soak with --soak)")
    bench.add_argument("--rounds", type=_positive_int, default=3, metavar="N",
                       help="measured rounds per side (default 3)")
    bench.add_argument("--duration", type=_positive_int, default=4, metavar="S",
                       help="seconds per round (default 4)")
    bench.add_argument("--connections", type=_positive_int, default=32, metavar="C",
                       help="connections per round (default 32)")
    bench.add_argument("--threads", type=_positive_int, default=2, metavar="T",
                       help="wrk's threads (default 2)")
    bench.add_argument("--hc-connections", type=_positive_int, default=256, metavar="C",
                       help="connections of the release stage's p99 comparison (default 256)")
    bench.add_argument("--hc-duration", type=_positive_int, default=None, metavar="S",
                       help="seconds per round of that comparison (default: --duration)")
    bench.add_argument("--warmup", type=_non_negative_int, default=1, metavar="S",
                       help="seconds of unmeasured load per server before its rounds "
                            "(default 1; 0: none)")
    bench.add_argument("--soak", type=_non_negative_int, default=None, metavar="S",
                       help=f"drive the release server, then Go's, for S seconds each, "
                            f"sampling VmRSS every second (default 0: skip; "
                            f"{bench_http.DEFAULT_SOAK_S} with --only soak)")
    bench.add_argument("--path", default=None, metavar="PATH",
                       help="what wrk requests from racelab's server (default: the "
                            "scenario's first [load] path); Go's always serves /hit")
    bench.add_argument("--io-threads", type=_positive_int, default=None, metavar="N",
                       help="racelab server's io threads (default: the manifest's [server])")
    bench.add_argument("--json", type=_path, default=None, metavar="PATH",
                       help="also write every figure as racelab.bench/1 JSON, with the "
                            "commit, the date and the CPU count")
    bench.add_argument("--out", type=_path, default=REPO / "reports" / "bench", metavar="DIR",
                       help="where logs/ goes: server output, TSan logs, every wrk report "
                            "(default: <repo>/reports/bench)")
    bench.add_argument("--build-root", type=_path, default=REPO / "build", metavar="DIR",
                       help="holds the release/ and tsan/ build trees and go-reference/ "
                            "(default: <repo>/build)")
    bench.add_argument("--build-jobs", type=_positive_int, default=None, metavar="J",
                       help="compile jobs at most (default: Ninja's and Go's own)")
    bench.add_argument("--no-build", action="store_true",
                       help="use the binaries already in the build root")
    bench.add_argument("--listen-timeout", type=_positive_float, default=30.0, metavar="S",
                       help="seconds a server may take to print its listening line "
                            "(default 30)")
    bench.add_argument("--stop-timeout", type=_positive_float, default=20.0, metavar="S",
                       help="seconds a server may take to exit after SIGTERM (default 20)")
    bench.set_defaults(command=cmd_bench_http)


# --- Commands ------------------------------------------------------------------------------

def cmd_list(args: argparse.Namespace) -> int:
    scenarios = catalog.load_all(args.root)
    if not scenarios:
        _error(f"no scenarios found in {args.root / 'scenarios'}")
        return EXIT_PASS
    width = max(len(s.name) for s in scenarios)
    for scenario in scenarios:
        print(f"{scenario.name.ljust(width)}  {scenario.title}")
        print(f"{'':{width}}  [{scenario.bug_class}; caught by "
              f"{', '.join(scenario.caught_by)}]")
    return EXIT_PASS


def cmd_show(args: argparse.Namespace) -> int:
    """Exit 0 when the pair is shown (whatever its findings), 2 when it cannot be."""
    [scenario] = select_scenarios(args.root, [args.name])
    results_path = args.out / "results.json"
    findings = show.last_findings(results_path, scenario.name)
    if findings is None:
        print(f"racelab: no run of {scenario.name} in {results_path}: running it", flush=True)
        run_args = build_parser().parse_args(
            ["run", scenario.name, "--out", str(args.out), "--root", str(args.root),
             "--build-dir", str(args.build_dir)] + (["--no-build"] if args.no_build else []))
        code = cmd_run(run_args)
        findings = show.last_findings(results_path, scenario.name)
        if findings is None:
            _error(f"the run of {scenario.name} left no results (exit {code})")
            return EXIT_UNDECIDED
    sys.stdout.write(show.render(args.root, scenario.name, scenario.title, findings,
                                 results_path))
    return EXIT_PASS


def cmd_parse(args: argparse.Namespace) -> int:
    """Exit 0 when every file was read and parsed cleanly (reports or not), 2 when a file
    is missing or unreadable, or a report in it is truncated or garbled."""
    combined = collect.parse_files(args.files)
    if args.json:
        sys.stdout.write(reports.dump_json(combined.to_json()))
    else:
        sys.stdout.write(reports.parse_listing(combined))
        for error in combined.errors:
            _error(error.one_line())
    return EXIT_UNDECIDED if combined.errors else EXIT_PASS


def cmd_run(args: argparse.Namespace) -> int:
    if args.build_dir is None:
        args.build_dir = REPO / "build" / args.sanitizer
    scenarios = select_scenarios(args.root, args.names)
    if args.shard is not None:
        k, n = args.shard
        scenarios = scenarios[k - 1::n]
        if not scenarios:
            raise UsageError(f"shard {k}/{n} of {n} holds no scenario")
    args.baseline_data, args.suppression_data = load_gate_files(args)
    deps.ensure()
    progress = Progress()
    if not args.no_build:
        build.ensure_built(REPO, args.build_dir, progress, preset=args.sanitizer)
    code, _verdict_line = run_and_report(scenarios, args, progress)
    return code


def run_and_report(scenarios: Sequence[Scenario], args: argparse.Namespace,
                   progress: Progress) -> tuple[int, str]:
    """Run, write results.json and summary.md; the exit status and the verdict line."""
    if args.build_dir is None:
        args.build_dir = REPO / "build" / args.sanitizer
    if args.variant is None:
        args.variant = "fixed" if args.sanitizer == "asan" else "both"
    variants: tuple[Variant, ...] = (
        tuple(Variant) if args.variant == "both" else (Variant(args.variant),))
    args.out.mkdir(parents=True, exist_ok=True)
    config = runner.RunConfig(
        root=args.root, bin_dir=args.build_dir / "bin", out=args.out, variants=variants,
        repeat=args.repeat, jobs=args.jobs, listen_timeout_s=args.listen_timeout,
        load_timeout_s=args.load_timeout, stop_timeout_s=args.stop_timeout,
        suppressions=getattr(args, "suppression_data", None),
        baseline=getattr(args, "baseline_data", None), sanitizer=args.sanitizer)
    try:
        results = runner.run_scenarios(scenarios, config, progress)
    finally:
        progress.clear()
    reports.write_all(args.out, results,
                      reports.ReportContext(source_root=args.root, scenario_root=args.root))
    for warning in results.warnings():
        progress.line(f"racelab: warning: {warning}")
    for problem in results.problems:
        _error(problem.one_line())
    verdict_line = (f"racelab: verdict {results.verdict} ({reports.counts_line(results)}); "
                    f"reports in {args.out}")
    progress.line(verdict_line)
    return results.verdict.exit_code, verdict_line


def cmd_diff(args: argparse.Namespace) -> int:
    """Exit 0 when AFTER introduced nothing, 1 when it did, 2 on bad input."""
    before = diff.load_findings(args.before)
    after = diff.load_findings(args.after)
    result = diff.diff(before, after)
    if args.json:
        sys.stdout.write(reports.dump_json(result.to_json()))
    else:
        context = reports.ReportContext(source_root=_source_root(Path.cwd()))
        sys.stdout.write(diff.text_listing(result, lambda top: frame_line(top, context)))
    return EXIT_REFUSE if result.introduced else EXIT_PASS


def cmd_gate(args: argparse.Namespace) -> int:
    """Run COMMAND (or read --logs DIR), judge its TSan reports, write the reports."""
    command = list(args.gated)
    if command[:1] == ["--"]:
        command = command[1:]
    if command and args.logs is not None:
        raise UsageError("gate takes either -- COMMAND... or --logs DIR, not both")
    if args.self_check:
        outcome = selfcheck.run(args.out if args.out is not None else _path("reports"),
                                dict(os.environ))
        for line in outcome.lines:
            print(line, file=sys.stdout if outcome.passed else sys.stderr, flush=True)
        if not outcome.passed:
            return EXIT_UNDECIDED
        if not command and args.logs is None:
            return EXIT_PASS
    if not command and args.logs is None:
        raise UsageError("gate needs a command (racelab gate -- COMMAND...) or --logs DIR")
    if args.shard is not None and not ctest_runs.is_ctest(command):
        raise UsageError("--shard slices a ctest test list: gate -- ctest ...")
    baseline_data, suppression_data = load_gate_files(args)
    out = args.out if args.out is not None else _path("reports")
    out.mkdir(parents=True, exist_ok=True)
    source_root = args.source_root or _source_root(Path.cwd())
    if command:
        print(f"racelab: gate: $ {shlex.join(command)}", flush=True)
    config = gate.GateConfig(out=out, command=command or None, logs_dir=args.logs,
                             suppressions=suppression_data, baseline=baseline_data,
                             timeout_s=args.timeout, echo=gate.echo_to_stdout,
                             allow_uninstrumented=args.allow_uninstrumented,
                             shard=args.shard, jobs=args.jobs)
    results = gate.run_gate(config)
    context = reports.ReportContext(source_root=source_root)
    reports.write_all(out, results, context)
    print_gate_outcome(results, out, context)
    return results.verdict.exit_code


def print_gate_outcome(results: Results, out: Path, context: reports.ReportContext) -> None:
    for finding in results.findings:
        report = finding.report
        where = frame_line(report.top_frame, context)
        extra = f" by {finding.suppressed_by}" if finding.suppressed_by else ""
        print(f"racelab: {finding.status}{extra}: {report.kind} x{finding.count} at {where} "
              f"[{report.fingerprint}]")
    for warning in results.warnings():
        print(f"racelab: warning: {warning}")
    for problem in results.problems:
        _error(problem.one_line())
    print(f"racelab: verdict {results.verdict} ({reports.verdict_line(results)}); reports "
          f"in {out}", flush=True)


def cmd_merge(args: argparse.Namespace) -> int:
    shards = [merge.load(path) for path in args.results]
    results = merge.merge(shards)
    source_root = args.source_root or _source_root(Path.cwd())
    context = reports.ReportContext(source_root=source_root, scenario_root=REPO)
    reports.write_all(args.out, results, context)
    for problem in results.problems:
        _error(problem.one_line())
    print(f"racelab: merged {len(shards)} results: verdict {results.verdict} "
          f"({reports.verdict_line(results)}); reports in {args.out}")
    return results.verdict.exit_code


def cmd_baseline_update(args: argparse.Namespace) -> int:
    findings = diff.load_findings(args.results)
    path = args.baseline
    if path.exists():
        current = baseline_file.load(path)
    else:
        current = Baseline(path, [])
    context = reports.ReportContext(source_root=_source_root(Path.cwd()))
    outcome = baseline_file.update(
        current, findings, reason=args.reason, expires=args.expires, prune=args.prune,
        today=date.today(), describe_frame=lambda top: frame_line(top, context)
        if top else None)
    baseline_file.save(current)
    for entry in outcome.added:
        print(f"racelab: added {entry.describe()}")
    for entry in outcome.expired:
        print(f"racelab: warning: entry {entry.describe()} expired on "
              f"{entry.expires}: renew or fix it (kept as it is)")
    for entry in outcome.stale:
        print(f"racelab: stale {entry.describe()}: its finding is not in {args.results} "
              "(kept; --prune removes it)")
    for entry in outcome.removed:
        print(f"racelab: removed stale {entry.describe()}")
    print(f"racelab: baseline {path}: {len(outcome.added)} added, {len(outcome.kept)} kept, "
          f"{len(outcome.stale)} stale, {len(outcome.removed)} removed; "
          f"{len(current.entries)} entries")
    return EXIT_PASS


def cmd_bench_http(args: argparse.Namespace) -> int:
    """Exit 0 when it measured (targets met or not), 1 when a server reported a finding
    under load, 2 when it could not measure."""
    [scenario] = select_scenarios(REPO, [args.scenario])
    settings = bench_settings(args, scenario)
    deps.ensure(deps.PACKAGES + deps.BENCH_PACKAGES)
    wrk = shutil.which("wrk")
    if wrk is None:
        raise UsageError("wrk not found on PATH: bench-http drives every server with it "
                         "(Debian: apt-get install wrk)")
    facts = bench_http.machine_facts(REPO)
    progress = Progress()
    commit = (facts["commit"] or "unknown")[:12] + (" (dirty)" if facts["dirty"] else "")
    progress.line(f"bench-http: commit {commit}, {facts['nproc']} cpus, load average "
                  f"{' '.join(str(x) for x in facts['loadavg'] or ['?'])}, stages "
                  f"{', '.join(settings.stages)}")
    if not args.no_build:
        _build_for_bench(settings, args, progress)
    bins = bench_http.Binaries.layout(args.build_root, scenario.name, wrk)
    try:
        result = bench_http.Bench(settings, bins, progress).run()
    finally:
        progress.clear()
    context = reports.ReportContext(source_root=REPO)
    for line in bench_http.render(result, lambda top: frame_line(top, context)):
        print(line, flush=True)
    for problem in result.problems:
        _error(problem.one_line())
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(reports.dump_json(result.to_json(facts)), encoding="utf-8")
        print(f"racelab: bench-http: figures in {args.json}")
    print(f"racelab: bench-http: exit {result.exit_code} "
          f"({_BENCH_EXIT[result.exit_code]}); logs in {settings.out / 'logs'}", flush=True)
    return result.exit_code


_BENCH_EXIT = {EXIT_PASS: "measured", EXIT_REFUSE: "a server reported a finding under load",
               EXIT_UNDECIDED: "could not measure"}


def bench_settings(args: argparse.Namespace, scenario: Scenario) -> bench_http.Settings:
    """The flags of bench-http, checked against each other (UsageError)."""
    soak = args.soak
    if args.only:
        stages = tuple(stage for stage in bench_http.STAGES if stage in args.only)
        if soak is None:
            soak = bench_http.DEFAULT_SOAK_S if "soak" in stages else 0
        if "soak" in stages and soak == 0:
            raise UsageError("--only soak needs a soak of at least 1 second (--soak S)")
    else:
        soak = soak or 0
        stages = bench_http.DEFAULT_STAGES + (("soak",) if soak else ())
    path = args.path if args.path is not None else scenario.load.paths[0]
    if not path.startswith("/") or any(c.isspace() for c in path):
        raise UsageError(f"--path must start with '/' and hold no blank, got {path!r}")
    for flag, connections in (("--connections", args.connections),
                              ("--hc-connections", args.hc_connections)):
        if connections < args.threads:
            raise UsageError(f"{flag} {connections} is fewer than wrk's --threads "
                             f"{args.threads}: every wrk thread needs a connection")
    if "load" in stages and args.connections > 1024:
        raise UsageError(f"--connections {args.connections}: racelab-load opens at most 1024 "
                         "(drop the load stage with --only, or use fewer)")
    io_threads = args.io_threads if args.io_threads is not None else scenario.server.io_threads
    if io_threads > 256:
        raise UsageError(f"--io-threads {io_threads}: a racelab server runs at most 256")
    return bench_http.Settings(
        scenario=scenario.name, path=path, io_threads=io_threads, stages=stages,
        rounds=args.rounds, duration_s=args.duration, connections=args.connections,
        threads=args.threads, hc_connections=args.hc_connections,
        hc_duration_s=args.hc_duration or args.duration, warmup_s=args.warmup, soak_s=soak,
        out=args.out, listen_timeout_s=args.listen_timeout, stop_timeout_s=args.stop_timeout)


def _build_for_bench(settings: bench_http.Settings, args: argparse.Namespace,
                     progress: Progress) -> None:
    """Only what the stages run: the fixed server (and racelab-load) of the release and
    tsan presets, and the Go reference, plain and -race."""
    stages = set(settings.stages)
    server = f"{settings.scenario}_fixed"
    go_cache = args.build_root / "go-reference"
    if stages & {"release", "load", "soak"}:
        targets = [server] + ([runner.LOAD_DRIVER] if "load" in stages else [])
        build.ensure_built(REPO, args.build_root / "release", progress, preset="release",
                           targets=targets, jobs=args.build_jobs)
    if "tsan" in stages:
        build.ensure_built(REPO, args.build_root / "tsan", progress, preset="tsan",
                           targets=[server], jobs=args.build_jobs)
    if stages & {"release", "soak"}:
        build.build_go(GO_REFERENCE, go_cache / "plain", progress, race=False, cache=go_cache,
                       jobs=args.build_jobs)
    if "tsan" in stages:
        build.build_go(GO_REFERENCE, go_cache / "race", progress, race=True, cache=go_cache,
                       jobs=args.build_jobs)


def cmd_test(args: argparse.Namespace) -> int:
    """The whole test suite (selftest.py)."""
    return selftest.run_all(run_catalog=_run_catalog_for_test)


def _run_catalog_for_test() -> tuple[int, str | None]:
    """`racelab run` over every scenario, on the build the test step made."""
    run_args = build_parser().parse_args(["run", "--no-build"])
    try:
        scenarios = select_scenarios(run_args.root, [])
        return run_and_report(scenarios, run_args, Progress())
    except (UsageError, catalog.ManifestError) as err:
        _error(str(err))
        return EXIT_UNDECIDED, None


# --- Helpers -------------------------------------------------------------------------------

def _add_gate_files(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--baseline", type=_path, default=None, metavar="F",
                        help="known findings (racelab.baseline/1): they pass as 'known'")
    parser.add_argument("--suppressions", type=_path, default=None, metavar="F",
                        help="a TSan suppressions file, applied by racelab to the parsed "
                             "reports (suppressed findings stay listed) and checked for "
                             "entries that matched nothing")


def load_gate_files(args: argparse.Namespace) -> tuple[Baseline | None,
                                                       SuppressionFile | None]:
    """The --baseline and --suppressions files, validated (BaselineError or
    SuppressionError name the file and the problem)."""
    data = baseline_file.load(args.baseline) if args.baseline is not None else None
    rules = suppressions.load(args.suppressions) if args.suppressions is not None else None
    return data, rules


def frame_line(frame: Frame | None, context: reports.ReportContext) -> str:
    """"HandleHit scenarios/counter/counter.cc:18" for a frame."""
    if frame is None:
        return "no non-runtime frame"
    name = frames.short_function(frame)
    return f"{name} {context.location(frame)}" if frame.file else name


def _source_root(start: Path) -> Path:
    """The git work tree around `start`, else `start` itself."""
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return start


def _iso_date(text: str) -> date:
    value = baseline_file.parse_date(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD")
    return value


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


def _error(message: str) -> None:
    print(f"racelab: error: {message}", file=sys.stderr, flush=True)


def _path(text: str) -> Path:
    return Path(text).expanduser().resolve()


def _directory(text: str) -> Path:
    path = _path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: not a directory")
    return path


def _int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer no smaller than `minimum`."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r} must be at least {minimum}")
        return value
    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def _shard(text: str) -> tuple[int, int]:
    try:
        return ctest_runs.parse_shard(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0")
    return value
