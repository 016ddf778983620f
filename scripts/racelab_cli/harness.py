"""racelab's own findings (tool "racelab"), for what ThreadSanitizer cannot see.

Each is a Report with a kind from docs/reference.md ("Finding kinds"), a summary that
says how much and how bad, and a fingerprint from its kind and subject (no stack to hash),
so it is deduplicated, baselined, suppressed by nothing but the baseline, and shown in
every output like a sanitizer's report:

- invariant-violation: an invariant read over HTTP did not hold (runner.py);
- thread-growth: the sampled thread count passed the pair's bound (runner.py);
- hang: a process outlived its deadline, with every thread's stack (stacks.py);
- leaked-thread, lost-cancellation, lost-job: what a server found about itself at
  shutdown (`racelab: finding {...}` lines), a leaked thread with its stack from gdb.
"""

from __future__ import annotations

from typing import Any

from . import frames
from . import patterns as P
from .model import InvariantCheck, LoadResult, Report, Scenario
from .stacks import Capture

SOURCE = "racelab"


def invariant_violation(check: InvariantCheck) -> Report:
    invariant = check.invariant
    return _report("invariant-violation", f"invariant violated: {invariant.description}",
                   f"GET {invariant.path} gave {check.observed}, expected "
                   f"{invariant.op.replace('_', ' ')} {check.expected}",
                   invariant.description)


def thread_growth(scenario: Scenario, load: LoadResult) -> Report | None:
    """When the sampled peak passed the pair's bound."""
    bound, peak = scenario.max_peak_threads, load.peak_threads
    if bound is None or peak is None or peak <= bound:
        return None
    return _report("thread-growth", f"thread growth: peak {peak} threads, bound {bound}",
                   f"the server peaked at {peak} threads under load, more than its bound "
                   f"of {bound}", scenario.name)


def server_report(data: dict[str, Any], captured: Capture | None) -> Report:
    """A `racelab: finding {...}` line of a server, as a finding."""
    kind = str(data.get("kind"))
    if kind == "leaked-thread":
        return _leaked_thread(data, captured)
    what = str(data.get("what", "?"))
    count = data.get("count", "?")
    if kind == "lost-cancellation":
        return _report(kind, f"lost cancellation: {what}",
                       f"{what}: {count} unit(s) of work done after the request was "
                       f"cancelled, up to {data.get('max_after_cancel_ms', '?')} ms after",
                       what)
    if kind == "lost-job":
        return _report(kind, f"lost job: {what}",
                       f"{what}: {count} job(s) accepted and never run", what)
    return _report(P.KIND_SLUG.match(kind) and kind or "unknown", f"{kind}: {what}",
                   str(data), what)


def _leaked_thread(data: dict[str, Any], captured: Capture | None) -> Report:
    name = str(data.get("name", "?"))
    tid = data.get("tid")
    stack = None
    if captured is not None:
        stack = next((s for s in captured.stacks if f"(tid={tid})" in s.title), None)
    stacks_ = [stack] if stack is not None else []
    blocked = frames.top_frame(stacks_)
    where = (f"blocked in {frames.short_function(blocked)}" if blocked is not None
             else f"state {data.get('state', '?')} in {data.get('wchan', '?')}")
    if stack is None and captured is not None and captured.unavailable:
        where += f" ({captured.unavailable})"
    # Numbered siblings ("rl-fetch-3", "rl-fetch-7") are one finding, as are their stacks.
    family = name.rstrip("0123456789").rstrip("-_")
    return Report(kind="leaked-thread", headline=f"leaked thread '{name}'", tool="racelab",
                  summary=f"leaked-thread: thread '{name}' (tid {tid}) outlived the "
                          f"server's shutdown, {where}",
                  stacks=stacks_, top_frame=blocked,
                  fingerprint=frames.harness_fingerprint(
                      "leaked-thread", f"{family}|{frames.short_function(blocked)}"
                      if blocked else family),
                  source=SOURCE)


def _report(kind: str, headline: str, summary: str, subject: str) -> Report:
    return Report(kind=kind, headline=headline, tool="racelab", summary=f"{kind}: {summary}",
                  stacks=[], top_frame=None,
                  fingerprint=frames.harness_fingerprint(kind, subject), source=SOURCE)
