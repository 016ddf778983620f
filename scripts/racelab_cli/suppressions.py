"""TSan suppression files: validate them, read what TSan says matched, tie reports to them.

The file format is TSan's own (compiler-rt's sanitizer_suppressions.cpp): one
`type:pattern` per line, `#` starts a comment line, leading blanks and trailing blanks are
ignored. Types: race, race_top, mutex, thread, signal, deadlock, called_from_lib. A pattern
matches a frame's function, file or module by substring; `*` matches anything, a leading
`^` anchors at the start, a trailing `$` at the end. TSan dies at start-up on a line it
cannot parse, so racelab validates the file first and names the line.

racelab passes the file to the runtime (`suppressions=<abs path> print_suppressions=1`);
at exit TSan writes into its log

    ThreadSanitizer: Matched 3 suppressions (pid=4242):
    2 race:BumpHits
    1 deadlock:LegacyLocks

(N is the total hit count; patterns that matched nothing are not listed). Reports TSan
suppressed never reach the log, so they cannot be tied to a finding. With
`racelab gate --logs`, the logs usually come from a run without the file, and racelab
applies the patterns itself (`tie`), marking the findings they match "suppressed".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from . import textfile
from .model import (Finding, MatchedSuppression, Report, Suppression, SuppressionCheck,
                    SuppressionFile)

KNOWN_TYPES = ("race", "race_top", "mutex", "thread", "signal", "deadlock",
               "called_from_lib")

# Report kinds (DESIGN.md's slugs of TSan's headlines) -> the suppression type TSan
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
}



def suppression_type(kind: str) -> str | None:
    """The suppression type TSan checks a report of `kind` against, or None (a deadly
    signal, a harness finding). A race on an annotated external object is headed
    "race on <its tag>" ("race-on-document")."""
    if kind in KIND_TYPES:
        return KIND_TYPES[kind]
    return "race" if kind.startswith("race-on-") else None


# The patterns below belong in patterns.py; they live here while patterns.py is being
# rewritten with the parser, and move there afterwards.

# The line that opens TSan's list of matched suppressions (print_suppressions=1), e.g.
# "ThreadSanitizer: Matched 3 suppressions (pid=4242):"; searched, so a CI timestamp or
# other prefix may stand before it.
#   hits: the total hit count over all matched suppressions.
#   pid:  the process.
MATCHED_HEADER = re.compile(
    r"ThreadSanitizer: Matched (?P<hits>\d+) suppressions \(pid=(?P<pid>\d+)\):\s*$")

# One line of that list: "2 race:BumpHits" (a prefix such as a CI timestamp may precede).
#   count:   hits of this suppression.
#   type:    its type (one of KNOWN_TYPES).
#   pattern: its pattern, as written in the file (TSan trims trailing blanks).
MATCHED_LINE = re.compile(
    r"(?:^|\s)(?P<count>\d+) (?P<type>race_top|race|mutex|thread|signal|deadlock"
    r"|called_from_lib):(?P<pattern>.*?)\s*$")


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
        if MATCHED_HEADER.search(line):
            in_block = True
            continue
        if in_block:
            match = MATCHED_LINE.search(line)
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
    anchored = template.startswith("^")
    if anchored:
        template = template[1:]
    if template.endswith("$"):
        body, at_end = template[:-1], True
    else:
        body, at_end = template, False
    regex = "".join(".*" if c == "*" else re.escape(c) for c in body)
    regex = ("^" if anchored else "") + regex + ("$" if at_end else "")
    return re.search(regex, text, re.DOTALL) is not None


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
                finding.status = "suppressed"
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
        if finding.status == "suppressed" and finding.suppressed_by in texts:
            key = finding.suppressed_by
            result.counts[key] = result.counts.get(key, 0) + finding.count
    return result
