"""`racelab merge RESULTS.json... [--out DIR]`: the shards of one run or gate, as one.

CI systems shard a long suite with their own matrix (`racelab gate --shard K/N`, `racelab
run --shard K/N`); each shard writes its results.json. merge reads them back into the
model (one Results), and the writers then print one set of reports with one verdict:

- findings: one per (fingerprint, scenario, variant), counts and runs added, tests joined,
  the worst status kept (new over known over suppressed);
- scenarios and gated tests: concatenated (each ran in exactly one shard);
- problems and notes: all of them; the verdict is the model's, from the merged data;
- baseline and suppressions: an entry or line is stale only when no shard saw its finding.

Inputs of different kinds (a run and a gate) or of different gated commands are refused,
and so are shards of a gate that do not make a whole: every K of K/N exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import textfile
from .model import (RESULTS_SCHEMA, BaselineCheck, BaselineEntry, Finding, GateRun,
                    InvariantCheck, Invariant, LoadResult, LogRead, Problem, ProblemKind,
                    Results, RunOutcome, ScenarioResult, Status, Suppression,
                    SuppressionCheck, TestRun, Variant, VariantOutcome, Verdict)

STATUS_ORDER = (Status.SUPPRESSED, Status.KNOWN, Status.NEW)


class MergeError(Exception):
    """Inputs that cannot be merged; str() names the file and the problem."""


def load(path: Path) -> Results:
    """A results.json read back into the model. Raises MergeError."""
    data = textfile.read_json(path, MergeError, "results file")
    if not isinstance(data, dict) or data.get("schema") != RESULTS_SCHEMA:
        raise MergeError(f"{path}: not a {RESULTS_SCHEMA} results.json")
    try:
        return _results(data)
    except (KeyError, TypeError, ValueError) as err:
        raise MergeError(f"{path}: malformed results.json ({err!r})") from None


def merge(shards: Sequence[Results]) -> Results:
    """One Results for all the shards (module docstring)."""
    modes = {s.mode for s in shards}
    if len(modes) != 1:
        raise MergeError("cannot merge a run with a gate")
    if "gate" in modes:
        commands = {tuple(s.gate.command or ()) for s in shards if s.gate is not None}
        if len(commands) != 1:
            raise MergeError("cannot merge gates of different commands: "
                             + "; ".join(" ".join(c) for c in sorted(commands)))
        _check_shards([s.gate.shard for s in shards if s.gate is not None])
    merged = Results(findings=_findings([f for s in shards for f in s.findings]),
                     problems=[p for s in shards for p in s.problems],
                     notes=list(dict.fromkeys(n for s in shards for n in s.notes)),
                     logs=[log for s in shards for log in s.logs])
    if "run" in modes:
        merged.scenarios = [sc for s in shards for sc in s.scenarios or []]
    else:
        gates = [s.gate for s in shards if s.gate is not None]
        first = gates[0]
        merged.gate = GateRun(command=first.command, logs_dir=first.logs_dir,
                              exit_status=max((g.exit_status or 0 for g in gates), default=0),
                              signal=next((g.signal for g in gates if g.signal), None),
                              elapsed_s=sum(g.elapsed_s for g in gates),
                              tests=([t for g in gates for t in g.tests or []]
                                     if any(g.tests is not None for g in gates) else None))
    merged.baseline = _baseline([s.baseline for s in shards if s.baseline is not None])
    merged.suppressions = _suppressions([s.suppressions for s in shards
                                         if s.suppressions is not None])
    return merged


def _check_shards(shards: Sequence[str | None]) -> None:
    """Shards K/N must all say the same N and cover 1..N exactly once."""
    if all(s is None for s in shards):
        return
    if any(s is None for s in shards):
        raise MergeError("cannot merge a sharded gate with an unsharded one")
    pairs = [tuple(int(x) for x in str(s).split("/")) for s in shards]
    totals = {n for _k, n in pairs}
    if len(totals) != 1:
        raise MergeError(f"shards of different totals: {', '.join(map(str, shards))}")
    [total] = totals
    ks = sorted(k for k, _n in pairs)
    if ks != list(range(1, total + 1)):
        missing = sorted(set(range(1, total + 1)) - set(ks))
        repeated = sorted({k for k in ks if ks.count(k) > 1})
        raise MergeError(f"the shards do not make a whole of {total}: "
                         + (f"missing {', '.join(f'{k}/{total}' for k in missing)}"
                            if missing else "")
                         + ("; " if missing and repeated else "")
                         + (f"repeated {', '.join(f'{k}/{total}' for k in repeated)}"
                            if repeated else ""))


# --- Findings and checks -------------------------------------------------------------------

def _findings(findings: Sequence[Finding]) -> list[Finding]:
    out: dict[tuple[str, str | None, str | None], Finding] = {}
    for finding in findings:
        key = (finding.report.fingerprint, finding.scenario,
               str(finding.variant) if finding.variant else None)
        found = out.get(key)
        if found is None:
            out[key] = Finding(finding.report, finding.count, finding.scenario,
                               finding.variant, finding.status, finding.suppressed_by,
                               finding.runs_seen, finding.runs, list(finding.tests))
            continue
        found.count += finding.count
        found.runs_seen += finding.runs_seen
        found.runs += finding.runs
        found.tests += [t for t in finding.tests if t not in found.tests]
        if STATUS_ORDER.index(finding.status) > STATUS_ORDER.index(found.status):
            found.status, found.suppressed_by = finding.status, finding.suppressed_by
    return list(out.values())


def _baseline(checks: Sequence[BaselineCheck]) -> BaselineCheck | None:
    if not checks:
        return None
    merged = BaselineCheck(checks[0].file)
    for check in checks:
        merged.known += [e for e in check.known if e not in merged.known]
        merged.expired += [e for e in check.expired if e not in merged.expired]
        merged.expired_seen |= check.expired_seen
    known = {e.fingerprint for e in merged.known} | merged.expired_seen
    merged.stale = [e for e in checks[0].stale
                    if all(e in c.stale for c in checks) and e.fingerprint not in known]
    return merged


def _suppressions(checks: Sequence[SuppressionCheck]) -> SuppressionCheck | None:
    if not checks:
        return None
    merged = SuppressionCheck(checks[0].file, list(checks[0].suppressions))
    for check in checks:
        for table, into in ((check.counts, merged.counts), (check.other, merged.other)):
            for text, hits in table.items():
                into[text] = into.get(text, 0) + hits
    return merged


# --- Reading results.json back -------------------------------------------------------------

def _results(data: dict[str, Any]) -> Results:
    results = Results(findings=[Finding.from_json(f) for f in data["findings"]],
                      problems=[_problem(p) for p in data.get("problems", [])],
                      notes=list(data.get("notes", [])))
    if "scenarios" in data:
        results.scenarios = [_scenario(s) for s in data["scenarios"]]
    gate = data.get("gate")
    if gate is not None:
        count = data.get("instrumented", 0)
        results.logs = [LogRead(source, instrumented=i < count)
                        for i, source in enumerate(gate["log_files"])]
        results.gate = GateRun(command=gate["command"], logs_dir=gate["logs_dir"],
                               exit_status=gate["exit_status"], signal=gate["signal"],
                               elapsed_s=gate["elapsed_s"], shard=gate.get("shard"),
                               tests=([_test(t) for t in gate["tests"]]
                                      if gate.get("tests") is not None else None))
    if "baseline" in data:
        results.baseline = _baseline_check(data["baseline"])
    if "suppressions" in data:
        results.suppressions = _suppression_check(data["suppressions"])
    return results


def _problem(data: dict[str, Any]) -> Problem:
    return Problem(ProblemKind(data["kind"]), data["message"], data.get("source"),
                   data.get("line"))


def _test(data: dict[str, Any]) -> TestRun:
    return TestRun(data["name"], data["exit_status"], data["signal"], data["elapsed_s"],
                   [LogRead(source) for source in data["log_files"]])


def _scenario(data: dict[str, Any]) -> ScenarioResult:
    return ScenarioResult(name=data["name"], verdict=Verdict(data["verdict"]),
                          reasons=list(data["reasons"]),
                          bad=_variant(Variant.BAD, data["bad"]),
                          fixed=_variant(Variant.FIXED, data["fixed"]))


def _variant(variant: Variant, data: dict[str, Any] | None) -> VariantOutcome | None:
    if data is None:
        return None
    return VariantOutcome(variant=variant, runs=[_run(r) for r in data["runs"]],
                          failures=list(data["failures"]), runs_passed=data["runs_passed"])


def _run(data: dict[str, Any]) -> RunOutcome:
    load = None
    if data["requests"] is not None:
        load = LoadResult(requests=data["requests"], status=dict(data["status"]),
                          transport_errors=data["transport_errors"] or 0,
                          disconnects=data["disconnects"] or 0,
                          latency_ms=dict(data["latency_ms"] or {}),
                          peak_threads=data["peak_threads"], elapsed_ms=0.0)
    count = data["instrumented"]
    return RunOutcome(index=data["run"], log_dir=Path(), exit_status=data["exit_status"],
                      signal=data["signal"], load=load, elapsed_s=data["elapsed_s"],
                      logs=[LogRead(source, instrumented=i < count)
                            for i, source in enumerate(data["log_files"])],
                      invariants=[_invariant(c) for c in data["invariants"]],
                      problems=[_problem(p) for p in data.get("problems", [])])


def _invariant(data: dict[str, Any]) -> InvariantCheck:
    invariant = Invariant(data["description"], data["path"], data["op"],
                          str(data["expected"]))
    return InvariantCheck(invariant, data["expected"], data["observed"], data["held"])


def _entry(fingerprint: str) -> BaselineEntry:
    return BaselineEntry(fingerprint, "unknown", None, "(from a merged shard)")


def _baseline_check(data: dict[str, Any]) -> BaselineCheck:
    return BaselineCheck(data["file"], known=[_entry(f) for f in data["known"]],
                         expired=[_entry(f) for f in data["expired"]],
                         stale=[_entry(f) for f in data["stale"]])


def _suppression_check(data: dict[str, Any]) -> SuppressionCheck:
    lines = [Suppression(s["type"], s["pattern"], s["line"])
             for s in [*data["matched"], *data["stale"]]]
    lines.sort(key=lambda s: s.line)
    return SuppressionCheck(data["file"], lines,
                            counts={f"{s['type']}:{s['pattern']}": s["count"]
                                    for s in data["matched"]},
                            other={o["suppression"]: o["count"] for o in data["other"]})
