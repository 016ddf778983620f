"""Find sanitizer reports in text and turn them into `Report`s with stable fingerprints.

Block structure (clang's and GCC's ThreadSanitizer print the same shape):

    ==================
    WARNING: ThreadSanitizer: <headline> (pid=N)
      <stack title>:
        #0 <function> <file>:<line>:<column> (<module>+0x<offset>) (BuildId: ...)
        ...
      <other notes: "Location is global ...", "Cycle in lock order graph: ...">
    SUMMARY: ThreadSanitizer: <summary>
    ==================

and, for a process that dies of a signal:

    ThreadSanitizer:DEADLYSIGNAL
    ==PID==ERROR: ThreadSanitizer: SEGV on unknown address 0x0 (pc ... T1)
        #0 ...
    SUMMARY: ThreadSanitizer: SEGV x.cc:7:67 in f
    ==PID==ABORTING

A block whose closing line never comes (the process was killed mid-report, or the log was
cut), or that closes without its SUMMARY line, is still returned, and an error names it: a truncated log is something the gate must
not ignore. Nothing in here raises on bad input: unreadable, binary or random text comes
back as `ParseError`s.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from . import patterns as P
from .model import Frame, ParseError, ParseResult, Report, Stack

FINGERPRINT_FRAMES = 3  # non-runtime frames per stack that make a signature (as ClusterFuzz)


# --- Public API ----------------------------------------------------------------------------

def parse_text(text: str, source: str) -> ParseResult:
    """Every report in `text`; `source` names where it came from (a file path)."""
    parser = _BlockParser(source)
    for number, raw in enumerate(text.splitlines(), start=1):
        parser.feed(number, clean_line(raw))
    parser.finish()
    result = ParseResult(parser.reports, parser.errors)
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        result.errors.append(ParseError(source, line, "binary data (NUL bytes) in the input"))
    return result


def parse_file(path: Path | str, source: str | None = None) -> tuple[ParseResult, bool]:
    """Parse one file (named `source` in the result, default its path). Returns the result
    and whether the file could be read at all."""
    source = str(path) if source is None else source
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return ParseResult(errors=[ParseError(source, None, "no such file")]), False
    except IsADirectoryError:
        return ParseResult(errors=[ParseError(source, None, "is a directory")]), False
    except OSError as err:
        return ParseResult(errors=[ParseError(source, None,
                                              f"cannot read: {err.strerror or err}")]), False
    return parse_text(data.decode("utf-8", errors="replace"), source), True


def kind_slug(headline: str) -> str:
    """DESIGN.md's rule: cut at the first "(", lowercase, runs of non-alphanumerics -> "-"."""
    head = headline.split("(", 1)[0].lower()
    slug = "".join(c if c.isascii() and c.isalnum() else "-" for c in head)
    while "--" in slug:
        slug = slug.replace("--", "-")
    return slug.strip("-") or "unknown"


def normalize_function(name: str) -> str:
    """A function name without return type, template and argument lists, qualifiers,
    addresses or line numbers: "void ns::f<int>(int) const" -> "ns::f"."""
    text = P.ANONYMOUS_NAMESPACE.sub("", name)
    operators: list[str] = []

    def protect(match) -> str:
        operators.append(match.group(0).replace(" ", ""))
        return f"\x01{len(operators) - 1}\x01"

    text = P.OPERATOR_NAME.sub(protect, text)
    previous = None
    while previous != text:
        previous = text
        text = P.INNERMOST_ANGLES.sub("", text)
        text = P.INNERMOST_PARENS.sub("", text)
    text = P.TRAILING_QUALIFIERS.sub("", text)
    text = P.ADDRESS_OR_LINE.sub("", text)
    tokens = text.split()
    if not tokens:
        return ""
    last = tokens[-1]
    # "operator new" / "operator bool": the operator word and its name belong together.
    if len(tokens) >= 2 and tokens[-2].endswith("operator"):
        last = tokens[-2] + " " + last
    for index, op in enumerate(operators):
        last = last.replace(f"\x01{index}\x01", op)
    return last


def is_runtime_frame(frame: Frame) -> bool:
    """True for frames of the sanitizer runtime, libc or libstdc++ (see patterns.py:
    RUNTIME_FUNCTION, INTERCEPTED_LIBC_FUNCTION, RUNTIME_MODULE, RUNTIME_FILE)."""
    function = normalize_function(frame.function)
    if not function or P.RUNTIME_FUNCTION.match(function):
        return True
    if P.INTERCEPTED_LIBC_FUNCTION.match(function):
        return True
    if frame.module and P.RUNTIME_MODULE.search(frame.module):
        return True
    return bool(frame.file and P.RUNTIME_FILE.search(frame.file))


def fingerprint(kind: str, stacks: list[Stack]) -> str:
    """Hex digest of the kind and the top non-runtime functions of the report's primary
    stacks (the racing accesses, or the lock-order edges, or else the first stack). The
    stacks' signatures are sorted, so the order in which two threads reached a race does
    not change the fingerprint; addresses, pids, lines and build ids never enter it."""
    signatures = sorted(_signature(s) for s in _primary_stacks(stacks))
    text = kind + "\n" + "\n".join(" > ".join(sig) for sig in signatures)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def clean_line(raw: str) -> str:
    """A line without ANSI colours, a CI timestamp prefix or a trailing CR."""
    line = P.ANSI_ESCAPE.sub("", raw).rstrip("\r")
    return P.CI_TIMESTAMP.sub("", line, count=1)


def parse_frame(line: str) -> Frame | None:
    """A `Frame` from a "#N ..." line, or None when the line is not a frame."""
    match = P.FRAME.match(line)
    if not match:
        return None
    body = P.FRAME_PC_PREFIX.sub("", match["body"], count=1)
    body = P.FRAME_BUILD_ID.sub("", body)
    module = None
    found = P.FRAME_MODULE.search(body)
    if found:
        module = found["module"] or None
        body = body[:found.start()]
    file = line_no = column = None
    found = P.FRAME_LOCATION.search(" " + body)
    if found:
        location = found["location"]
        body = (" " + body)[:found.start()]
        parts = P.LOCATION_PARTS.match(location)
        if parts:
            file = parts["file"]
            line_no = int(parts["line"])
            column = int(parts["column"]) if parts["column"] else None
    function = body.strip() or "<null>"
    return Frame(function=function, file=file, line=line_no, column=column, module=module)


def top_frame(stacks: list[Stack]) -> Frame | None:
    """The first frame of the first stack that has one outside the runtime."""
    for stack in stacks:
        for frame in stack.frames:
            if not is_runtime_frame(frame):
                return frame
    return None


# --- Internals -----------------------------------------------------------------------------

def _primary_stacks(stacks: list[Stack]) -> list[Stack]:
    chosen = [s for s in stacks
              if P.ACCESS_TITLE.match(s.title) or P.LOCK_EDGE_TITLE.match(s.title)]
    if chosen:
        return chosen
    return [s for s in stacks if s.frames][:1]


def _signature(stack: Stack) -> tuple[str, ...]:
    names = [normalize_function(f.function) for f in stack.frames if not is_runtime_frame(f)]
    return tuple(names[:FINGERPRINT_FRAMES])


@dataclass
class _Block:
    style: str                 # "warning" (closed by a separator) or "error" (by ABORTING)
    headline: str
    kind: str
    start_line: int
    pid: str
    summary: str | None = None
    stacks: list[Stack] = field(default_factory=list)


class _BlockParser:
    """Line-at-a-time state machine; `feed` every cleaned line, then `finish`."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.reports: list[Report] = []
        self.errors: list[ParseError] = []
        self._block: _Block | None = None
        self._deadly_marker = False

    def feed(self, number: int, line: str) -> None:
        opened = self._open(number, line)
        if opened is not None:
            if self._block is not None:
                self._close(truncated=True)
            self._block = opened
            return
        block = self._block
        if block is None:
            self._deadly_marker = bool(P.DEADLY_SIGNAL_MARKER.match(line)) or (
                self._deadly_marker and not line.strip())
            return
        if block.style == "warning" and P.SEPARATOR.match(line):
            self._close(truncated=False)
            return
        if block.style == "error":
            closing = P.ABORTING.match(line)
            if closing and closing["pid"] == block.pid:
                self._close(truncated=False)
                return
        summary = P.SUMMARY.match(line)
        if summary:
            block.summary = summary["summary"]
            return
        frame = parse_frame(line)
        if frame is not None:
            if not block.stacks:
                block.stacks.append(Stack(title=block.headline.split("(", 1)[0].strip()))
            block.stacks[-1].frames.append(frame)
            return
        if block.style == "warning":
            title = P.STACK_TITLE.match(line)
            if title:
                block.stacks.append(Stack(title=title["title"]))

    def finish(self) -> None:
        if self._block is not None:
            self._close(truncated=True)

    def _open(self, number: int, line: str) -> _Block | None:
        warning = P.WARNING_HEADLINE.match(line)
        if warning:
            headline = warning["headline"]
            return _Block("warning", headline, kind_slug(headline), number, warning["pid"])
        error = P.ERROR_HEADLINE.match(line)
        if error:
            headline = error["headline"]
            deadly = self._deadly_marker or P.DEADLY_SIGNAL_HEADLINE.match(headline)
            kind = "deadly-signal" if deadly else kind_slug(headline)
            self._deadly_marker = False
            return _Block("error", headline, kind, number, error["pid"])
        return None

    def _close(self, truncated: bool) -> None:
        block = self._block
        self._block = None
        if block is None:
            return
        # TSan prints SUMMARY (print_summary=1, the default) right before the closing line;
        # a block closed without one was cut, e.g. by a separator of the next report.
        cut_short = not truncated and block.summary is None
        frames = [f for s in block.stacks for f in s.frames]
        gcc = any((f.module and P.GCC_TSAN_MODULE.search(f.module)) or
                  (f.file and P.GCC_TSAN_MODULE.search(f.file)) for f in frames)
        report = Report(
            kind=block.kind,
            headline=block.headline,
            tool="gcc-tsan" if gcc else "clang-tsan",
            summary=block.summary,
            stacks=block.stacks,
            top_frame=top_frame(block.stacks),
            fingerprint=fingerprint(block.kind, block.stacks),
            source=self.source,
            line=block.start_line,
            truncated=truncated or cut_short,
        )
        self.reports.append(report)
        if cut_short:
            self.errors.append(ParseError(
                self.source, block.start_line,
                f"truncated report: '{block.headline}' closed without its SUMMARY line"))
        elif truncated:
            closer = "==================" if block.style == "warning" else "==PID==ABORTING"
            self.errors.append(ParseError(
                self.source, block.start_line,
                f"truncated report: '{block.headline}' never reached its closing "
                f"{closer} line"))
