"""`racelab gate --self-check`: prove the gate can fail, here, before trusting it to pass.

A planted race and its atomic twin are built with the user's compiler and flags (CXX and
CXXFLAGS, as their build uses them; clang++-14 with -fsanitize=thread -g -O1 when unset)
and each is run through the gate's own pipeline. The race must be reported and the twin
must be clean, both by instrumented processes; otherwise the check says what is broken:
no sanitizer runtime in the build, a runtime that cannot start in this environment (high
ASLR entropy), frames without a symbolizer, or a runtime that reports a race-free program.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from . import frames, gate
from .model import ProblemKind, Results, Verdict

DEFAULT_CXX = "clang++-14"
DEFAULT_FLAGS = "-fsanitize=thread -g -O1"
COMPILE_TIMEOUT_S = 300.0
RUN_TIMEOUT_S = 120.0
PLANTED_FUNCTION = "PlantedWriter"

# Two threads, each named, write one int; the twin makes it atomic. Joined before exit,
# so the only thing TSan can say about the race program is the race.
_PROGRAM = r"""// racelab self-check: {what}
#include <pthread.h>
{include}
#include <cstdio>
#include <thread>

namespace {{
{counter}

__attribute__((noinline)) void {function}(int rounds) {{
  for (int i = 0; i < rounds; ++i) {write}
}}

void Run(const char* name) {{
  pthread_setname_np(pthread_self(), name);
  {function}(100000);
}}
}}  // namespace

int main() {{
  std::thread a(Run, "rl-planted-a");
  std::thread b(Run, "rl-planted-b");
  a.join();
  b.join();
  std::printf("%d\n", {read});
  return 0;
}}
"""

RACE_SOURCE = _PROGRAM.format(what="a planted data race (two unsynchronized writers)",
                              include="", counter="int counter = 0;",
                              function=PLANTED_FUNCTION, write="++counter;", read="counter")
TWIN_SOURCE = _PROGRAM.format(what="the race-free twin of the planted race",
                              include="#include <atomic>",
                              counter="std::atomic<int> counter{0};",
                              function=PLANTED_FUNCTION,
                              write="counter.fetch_add(1, std::memory_order_relaxed);",
                              read="counter.load()")


@dataclass
class CheckOutcome:
    passed: bool
    lines: list[str]      # what to print, one finding per line
    race: Results | None = None
    twin: Results | None = None


def run(out: Path, env: Mapping[str, str]) -> CheckOutcome:
    """Build and gate both programs under OUT/self-check/."""
    folder = out / "self-check"
    folder.mkdir(parents=True, exist_ok=True)
    cxx = env.get("CXX") or (DEFAULT_CXX if shutil.which(DEFAULT_CXX) else "c++")
    flags = shlex.split(env.get("CXXFLAGS") or DEFAULT_FLAGS)
    link = shlex.split(env.get("LDFLAGS") or "")
    lines = [f"racelab: self-check: {cxx} {' '.join(flags)}"]
    binaries = {}
    for name, source in (("planted_race", RACE_SOURCE), ("atomic_twin", TWIN_SOURCE)):
        path = folder / f"{name}.cc"
        path.write_text(source, encoding="utf-8")
        binary = folder / name
        error = _compile(cxx, [*flags, str(path), "-o", str(binary), "-pthread", *link], env)
        if error is not None:
            return CheckOutcome(False, lines + [f"racelab: self-check: cannot build the "
                                                f"{name.replace('_', ' ')}: {error}"])
        binaries[name] = binary
    race = _gate(binaries["planted_race"], folder / "race", env)
    twin = _gate(binaries["atomic_twin"], folder / "twin", env)
    broken = _diagnose(race, twin)
    if broken:
        return CheckOutcome(False, lines + [f"racelab: self-check: {b}" for b in broken],
                            race, twin)
    [finding] = [f for f in race.findings if f.report.kind == "data-race"]
    top = frames.short_function(finding.report.top_frame)
    return CheckOutcome(True, lines + [
        f"racelab: self-check: pass: the planted race was reported (data-race in {top}) "
        f"and its atomic twin was clean; {race.instrumented + twin.instrumented} "
        "instrumented processes"], race, twin)


def _compile(cxx: str, args: list[str], env: Mapping[str, str]) -> str | None:
    try:
        done = subprocess.run([cxx, *args], capture_output=True, env=dict(env),
                              timeout=COMPILE_TIMEOUT_S, check=False)
    except FileNotFoundError:
        return f"compiler {cxx} not found (set CXX)"
    except subprocess.TimeoutExpired:
        return f"{cxx} took more than {COMPILE_TIMEOUT_S:g}s"
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        return f"{cxx} exited with status {done.returncode}: " + " | ".join(tail)
    return None


def _gate(binary: Path, out: Path, env: Mapping[str, str]) -> Results:
    config = gate.GateConfig(out=out, command=[str(binary)], env=dict(env),
                             timeout_s=RUN_TIMEOUT_S)
    return gate.run_gate(config)


def _diagnose(race: Results, twin: Results) -> list[str]:
    """What is broken, in words a person can act on; empty when the gate can be trusted."""
    broken = []
    kinds = {p.kind for p in race.problems + twin.problems}
    if ProblemKind.ASLR_INCOMPATIBLE in kinds:
        broken.append("the sanitizer runtime cannot start in this environment "
                      "(unexpected memory mapping): lower the address-space randomisation "
                      "with 'sudo sysctl vm.mmap_rnd_bits=28', or run under 'setarch "
                      "$(uname -m) -R'")
    elif race.instrumented == 0:
        broken.append("no sanitizer runtime: the planted race ran without "
                      "ThreadSanitizer (are -fsanitize=thread in CXXFLAGS and the runtime "
                      "installed, e.g. libclang-rt-14-dev?)")
    elif not any(f.report.kind == "data-race" for f in race.findings):
        broken.append("ThreadSanitizer ran but did not report the planted race: its "
                      "reports cannot be trusted here")
    elif not any(frames.short_function(f.report.top_frame).endswith(PLANTED_FUNCTION)
                 for f in race.findings):
        broken.append("the planted race was reported without its function name: no "
                      "working symbolizer (install llvm, or set "
                      "TSAN_OPTIONS=external_symbolizer_path=...), so frames and "
                      "fingerprints cannot be trusted")
    if twin.verdict != Verdict.PASS or twin.findings:
        broken.append("the race-free twin was not clean: "
                      + "; ".join([f.report.kind for f in twin.findings]
                                  + [p.one_line() for p in twin.problems]))
    return broken
