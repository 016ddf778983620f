"""The sanitizer options racelab gives every process it runs (`racelab run` and `racelab gate`).

docs/reference.md, "TSAN_OPTIONS and GORACE". C and C++ programs read TSAN_OPTIONS:
`log_path=<folder>/tsan halt_on_error=0 history_size=7 second_deadlock_stack=1
detect_deadlocks=1 report_thread_leaks=1 exitcode=66 verbosity=1`. Go's race detector (the
same runtime, built into every `go test -race` / `go build -race` binary) reads GORACE:
`log_path=<folder>/tsan halt_on_error=0 exitcode=66 verbosity=1`. The asan build reads
ASAN_OPTIONS (`asan_options`). Each is merged into the user's own value of its variable:
the user's other keys are kept, ours win on the keys we set (a higher verbosity of the
user's is kept). verbosity=1 makes the runtimes write their start-up mark into the log
("***** Running under ThreadSanitizer v3 (pid N) *****" for TSan and Go alike): the proof
that a process was instrumented (collect.py counts them).
racelab's suppressions file is never handed to the runtime (racelab applies it to the
parsed reports); a user's own `suppressions=` stays, with `print_suppressions=1` so the
log says what it hid. A symbolizer is added to TSAN_OPTIONS unless the user chose one (Go
symbolizes by itself).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from . import patterns as P

TSAN_EXIT_CODE = 66
SYMBOLIZERS = ("/usr/bin/llvm-symbolizer", "/usr/lib/llvm-14/bin/llvm-symbolizer")


def tsan_options(log_prefix: Path, user: str | None,
                 symbolizers: Sequence[str] = SYMBOLIZERS,
                 exit_code: int = TSAN_EXIT_CODE) -> str:
    """The TSAN_OPTIONS value for a process whose logs go to `<log_prefix>.<pid>`.
    `exit_code` 0 is for ctest's tests (collect.instrumented_env)."""
    merged = _merge(user, {
        "log_path": str(log_prefix),
        "halt_on_error": "0",
        "history_size": "7",
        "second_deadlock_stack": "1",
        "detect_deadlocks": "1",
        "report_thread_leaks": "1",
        "exitcode": str(exit_code),
    })
    if "suppressions" in merged and "print_suppressions" not in merged:
        merged["print_suppressions"] = "1"
    if "external_symbolizer_path" not in merged:
        for candidate in symbolizers:
            if os.access(candidate, os.X_OK):
                merged["external_symbolizer_path"] = _quote(candidate)
                break
    return _join(merged)


def gorace_options(log_prefix: Path, user: str | None,
                   exit_code: int = TSAN_EXIT_CODE) -> str:
    """The GORACE value for a Go program built with -race whose logs go to
    `<log_prefix>.<pid>` (Go's race runtime appends the pid as TSan does). `exit_code` as
    for tsan_options."""
    return _join(_merge(user, {
        "log_path": str(log_prefix),
        "halt_on_error": "0",
        "exitcode": str(exit_code),
    }))


def asan_options(log_prefix: Path, user: str | None) -> str:
    """ASAN_OPTIONS for `racelab run --sanitizer asan`: reports (and LeakSanitizer's) to
    `<log_prefix>.<pid>`, leaks checked at exit, TSan's exit code so a report is never
    mistaken for a clean exit, and verbosity=1 for the runtime's "Init done" start mark."""
    return _join(_merge(user, {"log_path": str(log_prefix), "detect_leaks": "1",
                               "exitcode": str(TSAN_EXIT_CODE)}))


def parse_options(text: str | None) -> dict[str, str]:
    """A TSAN_OPTIONS, GORACE or ASAN_OPTIONS string as key -> value (values as written,
    quotes included); the runtimes separate options by blanks, ':' or ','."""
    return {m["key"]: m["value"] for m in P.TSAN_OPTION.finditer(text or "")}


def _merge(user: str | None, ours: dict[str, str]) -> dict[str, str]:
    """The user's options with ours over them, and verbosity at least 1: the runtime then
    writes its start-up mark into the log, the proof that a process was instrumented
    (collect.py counts them)."""
    merged = parse_options(user)
    merged.update({k: _quote(v) for k, v in ours.items()})
    if not merged.get("verbosity", "").isdigit() or int(merged["verbosity"]) < 1:
        merged["verbosity"] = "1"
    return merged


def _join(options: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in options.items())


def _quote(value: str) -> str:
    return f'"{value}"' if any(c.isspace() or c in ":," for c in value) else value
