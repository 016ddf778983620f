"""Judge one scenario: did the bad variant show its bug and the fixed one keep clean?

Scored like lit: a bad variant that reports what its manifest expects is the lesson (its
findings are "expected"); a bad variant that stays silent lost its bug (fail); a fixed
variant that reports, breaks an invariant, serves too little or grows too many threads is
broken (fail). A variant with problems is not judged further: "error".
"""

from __future__ import annotations

from . import frames
from . import patterns as P
from .model import (Expectation, Finding, RunOutcome, Scenario, ScenarioResult, Status,
                    Variant, Verdict, VariantOutcome, merge_findings)


def expectation_met(expect: Expectation, finding: Finding) -> bool:
    """The finding is of the expected kind and the regex matches the whole name of the top
    user frame of one of its access stacks (qualified, or its last component)."""
    if finding.report.kind != expect.kind:
        return False
    if expect.function is None:
        return True
    regex = P.user_regex(expect.function)
    for frame in frames.access_top_frames(finding.report):
        name = frames.normalize_function(frame.function)
        if regex.fullmatch(name) or regex.fullmatch(name.rsplit("::", 1)[-1]):
            return True
    return False


def judge_scenario(scenario: Scenario, result: ScenarioResult) -> None:
    """Set result.verdict and result.reasons (and each variant's failures). A fixed
    variant's finding that a baseline excuses ("known") or a suppression matched does not
    make it unclean; the bad variant's expectations are met by any finding, whatever its
    status."""
    errors = [f"{v.variant}: {e}" for v in result.variants() for e in v.errors()]
    bad = result.bad if result.bad is not None and not result.bad.problems() else None
    fixed = result.fixed if result.fixed is not None and not result.fixed.problems() else None
    if bad is not None:
        bad.failures = [f"bad variant lost its bug: no {expect.describe()}"
                        for expect in scenario.bad_expect
                        if not any(expectation_met(expect, f) for f in bad.findings)]
    if fixed is not None:
        fixed.failures = _fixed_failures(scenario, fixed, errors)
    for outcome in result.variants():
        outcome.runs_passed = sum(1 for run in outcome.runs
                                  if _run_passes(scenario, outcome, run))
    failures = [f for v in (bad, fixed) if v is not None for f in v.failures]
    if errors:  # (the checks above may add one)
        result.verdict, result.reasons = Verdict.ERROR, errors + failures
    elif failures:
        result.verdict, result.reasons = Verdict.FAIL, failures
    else:
        result.verdict, result.reasons = Verdict.PASS, []


def _run_passes(scenario: Scenario, outcome: VariantOutcome, run: RunOutcome) -> bool:
    """Did this one run meet its variant's bar by itself? (For --repeat: a bad variant
    must reproduce in every run, a fixed one stay clean in every run.)"""
    if run.problems or run.load is None:
        return False
    if outcome.variant == Variant.BAD:
        found = merge_findings([run.reports])
        return all(any(expectation_met(e, f) for f in found) for e in scenario.bad_expect)
    status = {f.report.fingerprint: f.status for f in outcome.findings}
    if scenario.fixed_clean and any(status.get(r.fingerprint) == Status.NEW
                                    for r in run.reports):
        return False
    peak, bound = run.load.peak_threads, scenario.max_peak_threads
    return (run.load.ok_count() >= scenario.min_ok
            and (bound is None or (peak is not None and peak <= bound))
            and all(check.held for check in run.invariants))


def _fixed_failures(scenario: Scenario, fixed: VariantOutcome, errors: list[str]) -> list[str]:
    failures = []
    unclean = [f for f in fixed.findings if f.status == Status.NEW]
    if scenario.fixed_clean and unclean:
        kinds = ", ".join(sorted({f.report.kind for f in unclean}))
        failures.append(f"fixed variant is not clean: {len(unclean)} finding(s) ({kinds})")
    for run in fixed.runs:
        assert run.load is not None  # a run without a load result has a problem
        ok = run.load.ok_count()
        if ok < scenario.min_ok:
            failures.append(f"fixed variant served {ok} 2xx responses, fewer than min_ok "
                            f"{scenario.min_ok}")
        bound = scenario.max_peak_threads
        peak = run.load.peak_threads
        if bound is not None and peak is None:
            errors.append("fixed: cannot check max_peak_threads: the load driver reported no "
                          "peak_threads")
        elif bound is not None and peak is not None and peak > bound:
            failures.append(f"fixed variant peaked at {peak} threads, more than "
                            f"max_peak_threads {bound}")
        for check in run.invariants:
            if not check.held:
                failures.append(f"fixed variant broke its invariant {check.invariant.describe()}"
                                f": expected {check.expected}, observed {check.observed}")
    return failures
