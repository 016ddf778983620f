"""What every writer needs: the context (where the sources are), repo-relative locations,
the frames worth showing, a report rendered as text, and what counts against the verdict.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..frames import app_frames, short_function
from ..model import Frame, Report, Results, Verdict

__all__ = ["MAX_FRAMES_SHOWN", "ReportContext", "Results", "app_frames", "counts_line",
           "findings_line", "frame_text", "kind_description", "report_text",
           "short_function", "verdict_line"]

MAX_FRAMES_SHOWN = 8    # non-runtime frames per stack in summary.md and index.html
MAX_SOURCE_BYTES = 2 << 20

# One line per kind for people (SARIF rules, headings); unknown kinds use their headline.
KIND_DESCRIPTIONS = {
    "data-race": "Two threads access the same memory without synchronization, at least "
                 "one of them writing.",
    "data-race-on-vptr": "An object's vtable pointer is read (virtual call) while its "
                         "constructor or destructor writes it.",
    "heap-use-after-free": "Memory is used by one thread after another freed it.",
    "thread-leak": "A thread was neither joined nor detached before the program ended.",
    "lock-order-inversion": "Two mutexes are taken in opposite orders by different "
                            "threads: a potential deadlock.",
    "destroy-of-a-locked-mutex": "A mutex is destroyed while it is held.",
    "double-lock-of-a-mutex": "A non-recursive mutex is locked twice by one thread.",
    "use-of-an-invalid-mutex": "A mutex is used before initialization or after "
                               "destruction.",
    "unlock-of-an-unlocked-mutex": "A mutex is unlocked while not held, or by a thread "
                                   "that does not hold it.",
    "read-lock-of-a-write-locked-mutex": "A read lock is taken on a mutex the same thread "
                                         "holds for writing.",
    "read-unlock-of-a-write-locked-mutex": "A read unlock of a mutex held for writing.",
    "signal-unsafe-call-inside-of-a-signal": "A function that is not async-signal-safe "
                                             "is called in a signal handler.",
    "signal-handler-spoils-errno": "A signal handler changes errno without restoring it.",
    "deadly-signal": "The process died of a signal (SEGV, BUS, ...).",
    "leaked-thread": "A thread outlived the server's shutdown (harness leak check).",
    "thread-growth": "The thread count grew without bound under load.",
    "hang": "A process did not finish in time.",
    "lost-cancellation": "Cancellation did not reach work that should have stopped.",
    "lost-job": "Accepted work was never done.",
    "invariant-violation": "A harness invariant check failed.",
    "crash": "The process crashed.",
}


@dataclass
class ReportContext:
    """Where the writers find sources. `source_root` is the repository root: locations in
    SARIF and summary.md are relative to it. `scenario_root` (run only) holds scenarios/
    and fixes/, whose sources index.html shows side by side."""

    source_root: Path
    scenario_root: Path | None = None
    _sources: dict[str, list[str] | None] = field(default_factory=dict)

    def relative(self, file: str | None) -> str | None:
        """`file` relative to the source root (POSIX separators), or None when it lies
        outside it (a system header, another checkout)."""
        if not file:
            return None
        path = Path(os.path.normpath(file))
        if not path.is_absolute():
            candidate = PurePosixPath(path.as_posix())
            return None if ".." in candidate.parts else str(candidate)
        root = Path(os.path.normpath(self.source_root))
        for base in (root, root.resolve()):
            try:
                return path.relative_to(base).as_posix()
            except ValueError:
                pass
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except (ValueError, OSError):
            return None

    def display_path(self, file: str | None) -> str:
        """Repo-relative when possible, else the path as printed."""
        return self.relative(file) or (file or "?")

    def location(self, frame: Frame | None) -> str:
        """"scenarios/counter/counter.cc:18" (or the path as printed outside the repo)."""
        if frame is None or not frame.file:
            return "?"
        text = self.display_path(frame.file)
        return f"{text}:{frame.line}" if frame.line is not None else text

    def source_lines(self, file: str | None) -> list[str] | None:
        """The lines of a source file (None when unreadable), cached."""
        if not file:
            return None
        if file in self._sources:
            return self._sources[file]
        lines = None
        for candidate in self._candidates(file):
            try:
                if candidate.is_file() and candidate.stat().st_size <= MAX_SOURCE_BYTES:
                    lines = candidate.read_bytes().decode("utf-8", "replace").splitlines()
                    break
            except OSError:
                continue
        self._sources[file] = lines
        return lines

    def _candidates(self, file: str) -> list[Path]:
        path = Path(file)
        out = [path] if path.is_absolute() else [self.source_root / path]
        relative = self.relative(file)
        if relative is not None:
            out.append(self.source_root / relative)
        return out


# --- Frames and reports --------------------------------------------------------------------

def frame_text(frame: Frame | None) -> str:
    if frame is None:
        return "no non-runtime frame"
    text = frame.function
    if frame.file:
        text += f" {frame.file}"
        if frame.line is not None:
            text += f":{frame.line}"
            if frame.column is not None:
                text += f":{frame.column}"
    return text


def report_text(report: Report, limit_frames: int | None = None) -> str:
    """The report laid out as TSan prints it (headline, stacks, SUMMARY)."""
    lines = [f"WARNING: ThreadSanitizer: {report.headline}"]
    for stack in report.stacks:
        lines.append(f"  {stack.title}:")
        frames = stack.frames if limit_frames is None else stack.frames[:limit_frames]
        for index, frame in enumerate(frames):
            module = f" ({frame.module})" if frame.module else ""
            lines.append(f"    #{index} {frame_text(frame)}{module}")
        if len(frames) < len(stack.frames):
            lines.append(f"    ... {len(stack.frames) - len(frames)} more frames")
        lines.append("")
    if report.summary:
        lines.append(f"SUMMARY: ThreadSanitizer: {report.summary}")
    return "\n".join(lines).rstrip("\n") + "\n"


def kind_description(kind: str, headline: str | None = None) -> str:
    if kind in KIND_DESCRIPTIONS:
        return KIND_DESCRIPTIONS[kind]
    if kind == "race-on-external-object":
        return ("Unsynchronized use of an object that its library annotated for TSan "
                f"({headline or kind}).")
    return f"ThreadSanitizer: {headline}." if headline else f"racelab finding '{kind}'."


# --- The verdict in words ------------------------------------------------------------------

def counts_line(results: Results) -> str:
    """"2 scenarios: 1 passed, 1 failed, 0 errors"."""
    verdicts = [s.verdict for s in results.scenarios or []]
    n = len(verdicts)
    errors = verdicts.count(Verdict.ERROR)
    return (f"{n} scenario{'s' if n != 1 else ''}: {verdicts.count(Verdict.PASS)} passed, "
            f"{verdicts.count(Verdict.FAIL)} failed, {errors} error{'s' if errors != 1 else ''}")


def findings_line(results: Results) -> str:
    """"3 findings: 1 new, 1 known, 1 suppressed" (and "expected" for a run's bad ones)."""
    labels = [f.label for f in results.findings]
    parts = [f"{labels.count(label)} {label}"
             for label in ("new", "known", "suppressed", "expected") if label in labels]
    n = len(labels)
    head = f"{n} finding{'s' if n != 1 else ''}"
    return head + (f": {', '.join(parts)}" if parts else "")


def verdict_line(results: Results) -> str:
    """The one line that says what was decided, for every writer, with how many
    instrumented processes it rests on."""
    n = results.instrumented
    proof = f"{n} instrumented process{'es' if n != 1 else ''}"
    if results.scenarios is not None:
        return f"{counts_line(results)}; {findings_line(results)}; {proof}"
    return f"{findings_line(results)}; {proof}"
