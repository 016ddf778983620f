"""TSan suppression files: validate them, read what TSan says matched, tie reports to them.

The file format is TSan's own (compiler-rt's sanitizer_suppressions.cpp): one
`type:pattern` per line, `#` starts a comment line, leading blanks and trailing blanks are
ignored. Types: race, race_top, mutex, thread, signal, deadlock, called_from_lib. A pattern
matches a frame's function, file or module by substring; `*` matches anything, a leading
`^` anchors at the start, a trailing `$` at the end. TSan dies at start-up on a line it
cannot parse, so racelab validates the file first and names the line.

racelab applies the file itself, to the parsed reports (`tie`): the runtime is never told
to drop anything, so a suppressed finding stays in every output with status "suppressed"
and the line that matched it, for a reader to see what the team chose to accept.

A user may still hand the runtime a file of their own (suppressions= in TSAN_OPTIONS);
with print_suppressions=1 TSan then writes into its log

    ThreadSanitizer: Matched 3 suppressions (pid=4242):
    2 race:BumpHits
    1 deadlock:LegacyLocks

Those reports never reach the log; `matched_in_text` reads the block so the results can at
least count them (SuppressionCheck.other, or the file's own lines when they are the same).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from . import patterns as P
from . import textfile
from .model import (Finding, MatchedSuppression, Report, Status, Suppression,
                    SuppressionCheck, SuppressionFile)

KNOWN_TYPES = ("race", "race_top", "mutex", "thread", "signal", "deadlock",
               "called_from_lib")

# Report kinds (the slugs of TSan's headlines, docs/reference.md) -> the suppression type TSan
# checks them against (tsan_suppressions.cpp, conv()).
KIND_TYPES = {
    "data-race": "race",
    "data-race-on-vptr": "race",
    "heap-use-after-free": "race",
    "thread-leak": "thread",
    "destroy-of-a-locked-mutex": "mutex",
    "double-lock-of-a-mutex": "mutex",
    "use-of-an-invalid-mutex": "mutex",
    "unlock-of-an-unlocked-mutex": "mutex",
    "read-lock-of-a-write-locked-mutex": "mutex",
    "read-unlock-of-a-write-locked-mutex": "mutex",
    "mutex-held-in-the-wrong-context": "mutex",
    "signal-unsafe-call-inside-of-a-signal": "signal",
    "signal-handler-spoils-errno": "signal",
    "lock-order-inversion": "deadlock",
    "race-on-external-object": "race",
}


def suppression_type(kind: str) -> str | None:
    """The suppression type TSan checks a report of `kind` against, or None (a deadly
    signal, a harness finding). A race on an annotated external object is headed
    "race on <its tag>", kind race-on-external-object."""
    return KIND_TYPES.get(kind)


class SuppressionError(Exception):
    """A suppressions file that cannot be used; str() is "FILE[:LINE]: problem"."""


# --- The file ------------------------------------------------------------------------------

def load(path: Path) -> SuppressionFile:
    """Read and validate a suppressions file. Raises SuppressionError."""
    text = textfile.read_text(path, SuppressionError, "suppressions file")
    return SuppressionFile(Path(path), parse_text(text, str(path)))


def parse_text(text: str, source: str) -> list[Suppression]:
    """The suppressions in `text`, in file order. Raises SuppressionError naming the first
    line TSan would refuse (or that would silently suppress everything)."""
    found: list[Suppression] = []
    if "\x00" in text:
        raise SuppressionError(f"{source}: binary data (NUL bytes), not a suppressions file")
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.lstrip(" \t").rstrip(" \t\r")
        if not line or line.startswith("#"):
            continue
        kind, colon, pattern = line.partition(":")
        if not colon:
            raise SuppressionError(f"{source}:{number}: expected TYPE:PATTERN (types: "
                                   f"{', '.join(KNOWN_TYPES)}), got {line!r}")
        if kind not in KNOWN_TYPES:
            raise SuppressionError(f"{source}:{number}: unknown suppression type {kind!r} "
                                   f"(TSan knows {', '.join(KNOWN_TYPES)})")
        if not pattern.strip("*^$ \t"):
            raise SuppressionError(f"{source}:{number}: {kind}:{pattern} would suppress "
                                   f"every {kind} report; name a function, file or module")
        found.append(Suppression(kind, pattern, number))
    return found


# --- What TSan says matched ----------------------------------------------------------------

def matched_in_text(text: str, source: str) -> list[MatchedSuppression]:
    """Every "<count> <type>:<pattern>" line of the Matched blocks in `text`."""
    found: list[MatchedSuppression] = []
    in_block = False
    for line in text.splitlines():
        if P.MATCHED_HEADER.search(line):
            in_block = True
            continue
        if in_block:
            match = P.MATCHED_LINE.search(line)
            if match:
                found.append(MatchedSuppression(match["type"], match["pattern"],
                                                int(match["count"]), source))
                continue
            in_block = False
    return found


def matched_in_file(path: Path, source: str) -> list[MatchedSuppression]:
    try:
        data = Path(path).read_bytes()
    except OSError:
        return []  # the parser reports unreadable files
    return matched_in_text(data.decode("utf-8", errors="replace"), source)


# --- Applying the patterns ourselves -------------------------------------------------------

def template_match(template: str, text: str | None) -> bool:
    """TSan's TemplateMatch: substring match with `*` wildcards, `^` and `$` anchors."""
    if not text:
        return False
    return P.suppression_regex(template).search(text) is not None


def report_matches(suppression: Suppression, report: Report) -> bool:
    """Would TSan have suppressed `report` with `suppression`? Every frame of every stack
    (the accesses, the mutex and thread-creation stacks) is tried by function, file and
    module; race_top tries only each stack's first frame."""
    stype = suppression_type(report.kind)
    if stype is None:
        return False
    if suppression.type == stype:
        frames = [f for s in report.stacks for f in s.frames]
    elif suppression.type == "race_top" and stype == "race":
        frames = [s.frames[0] for s in report.stacks if s.frames]
    else:
        return False
    return any(template_match(suppression.pattern, value)
               for f in frames for value in (f.function, f.file, f.module))


def tie(suppression_file: SuppressionFile, findings: Iterable[Finding]) -> None:
    """Mark every finding that one of the file's patterns matches as suppressed."""
    for finding in findings:
        for suppression in suppression_file.suppressions:
            if report_matches(suppression, finding.report):
                finding.status = Status.SUPPRESSED
                finding.suppressed_by = suppression.text
                break


def check(suppression_file: SuppressionFile, matched: Sequence[MatchedSuppression],
          findings: Sequence[Finding]) -> SuppressionCheck:
    """Hit counts per suppression: TSan's own, plus the occurrences of findings tied to
    it. Matches of patterns the file does not hold are listed apart."""
    texts = {s.text for s in suppression_file.suppressions}
    result = SuppressionCheck(str(suppression_file.path), list(suppression_file.suppressions))
    for hit in matched:
        bucket = result.counts if hit.text in texts else result.other
        bucket[hit.text] = bucket.get(hit.text, 0) + hit.count
    for finding in findings:
        if finding.status == Status.SUPPRESSED and finding.suppressed_by in texts:
            key = finding.suppressed_by
            result.counts[key] = result.counts.get(key, 0) + finding.count
    return result
