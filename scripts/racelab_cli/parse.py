"""Find ThreadSanitizer and Go race-detector reports in logs; give each a stable fingerprint.

Grammar. clang's runtime (clang++ -fsanitize=thread) and GCC's libtsan print one shape:

    ==================
    WARNING: ThreadSanitizer: <headline> (pid=N)
      <stack title>:
        #0 <function> <file>:<line>[:<column>] (<module>+0x<offset>) [(BuildId: <hex>)]
        ...
      Location is global 'counter' of size 4 at 0x... (<module>+0x...)
      Thread T1 'name' (tid=7, running) created by main thread at:
        #0 pthread_create ...
    SUMMARY: ThreadSanitizer: <summary>
    ==================

Stack titles: "Write of size 4 at 0x... by thread T2", "Previous read of size 8 ...",
"Mutex M1 acquired here while holding mutex M0 in thread T1", "Mutex M0 (0x...) created
at", "Location is heap block of size 4 at 0x... allocated by main thread", "As if
synchronized via sleep", "and", ... Some kinds (destroy of a locked mutex, signal-unsafe
call, ...) start with frames and no title: that stack is titled by the headline. "[failed
to restore the stack]" leaves a titled stack empty. Notes ("Location is stack of thread
T1.", "Cycle in lock order graph: ...", "Hint: ...") are skipped.

A process that dies of a signal prints

    ThreadSanitizer:DEADLYSIGNAL
    ==PID==ERROR: ThreadSanitizer: SEGV on unknown address 0x0 (pc ... T1)
        #0 ...
    SUMMARY: ThreadSanitizer: SEGV x.cc:7:67 in f
    ==PID==ABORTING

(kind `deadly-signal`), and Go's race detector (`go run -race`, `go test -race`) prints
two-line frames, titles at column 0 and no SUMMARY (tool `go-race`, kind `data-race`); its
lines are told apart by their shape, not their indentation, so a report pasted without it
(Markdown, a book) or re-indented in a doc comment ("//\tmain.f()") reads the same:

    ==================
    WARNING: DATA RACE
    Write at 0x00c000012345 by goroutine 7:
      main.main.func1()
          /src/x.go:12 +0x44
    ...
    ==================

Frames: clang prints columns and BuildIds, GCC neither; unsymbolized frames are
"<null> <null> (module+0xoffset)"; Darwin prints an unknown file with a bogus line
("f <null>:2147483648", file and line become None) and each module with its architecture
("libsystem_pthread.dylib:arm64e+0x6f94", module "libsystem_pthread.dylib"). A frame's
function, file, line, column and module are split from the right with string methods. The
tool is "gcc-tsan" when a frame is in libtsan.so, "clang-tsan" when one has a column or a
BuildId, and "gcc-tsan" when frames have lines but never a column.

Messy input. CI timestamps (GitHub/Azure, GitLab, ISO, "[12:00:01]") and ANSI colours are
removed from every line; "\\r" keeps what a terminal would show. Another process's output
glued to the end of a headline (after "(pid=N)") or of a separator (after its 18 "=") is
ignored: a runner that forwards output in chunks leaves that. `go test -json` puts every line
in the "Output" string of a JSON event: such a line is decoded and its text read in its
place; the event's "Test" stays with the report (`Report.test`). Whatever precedes a headline
("3: " from ctest, "server_1  | " from compose) is that report's line prefix: its lines are
the ones that start with it (digits may differ, so syslog-style timestamps still match; "//"
alone stands for "// " on a line whose blanks were trimmed).
Reports of several processes in one stream are told apart by that prefix, by pid ("(pid=N)",
"==N=="), by frame numbers that continue a stack, and by a separator that is immediately
followed by a headline (it opens the other process's report, it does not close this one).
Each log_path file ("tsan.1234") is one process: its name gives the pid. A report that
reached its SUMMARY line is whole, with or without the closing line after it (pasted into an
issue up to its SUMMARY, a log cut right after it). One cut before its SUMMARY (process
killed, log cut), one closed without it, and a Go report (no SUMMARY) that never reached its
closing line are kept with `truncated=True` and an error naming source and line; one with
more than MAX_REPORT_FRAMES frames keeps the first ones and gets an error. Fewer reports than a
process announced ("ThreadSanitizer: reported 3 warnings", "Found 2 data race(s)") is an
error, and so is a runtime failure ("ThreadSanitizer: CHECK failed: ..."). Nothing here
raises on bad input: NUL bytes, random text or bytes come back as `Problem`s at worst.

Streaming. `iter_stream` reads a file object in chunks and yields each report as soon as
it closes: memory is bounded by the largest report (lines are cut at MAX_LINE_CHARS).
`parse_file` / `parse_text` collect everything into a `ParseResult`, reports in order of
their headline. Most lines of a log are not report lines: outside a report a line costs
three substring tests.

Frames are normalised and fingerprinted by frames.py (its docstring has the recipe).
"""

from __future__ import annotations

import codecs
import functools
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from . import patterns as P
from .frames import fingerprint, top_frame
from .model import Frame, ParseResult, Problem, ProblemKind, Report, Stack

MAX_REPORT_FRAMES = 5000     # a report with more is a runaway: the rest is dropped
MAX_REPORT_STACKS = 1000     # likewise for titled stacks
MAX_LINE_CHARS = 64 * 1024   # longer lines are cut (a report line is a few hundred chars)
MAX_OPEN_REPORTS = 16        # reports of different processes open at once in one stream
CHUNK_BYTES = 256 * 1024     # what iter_stream reads at a time
CACHE_SIZE = 20_000          # memoised frame bodies (a few MB)

_SEPARATOR = "=" * 18  # what TSan and Go print above and below a report
_TSAN = "WARNING: ThreadSanitizer: "
_GO = "WARNING: DATA RACE"
_SUMMARY = "SUMMARY: ThreadSanitizer: "
_FAILED_STACK = "[failed to restore the stack]"
_DIGITS_TO_ZERO = str.maketrans("123456789", "000000000")
_CLEAN_FIRST = "[0123456789"  # first characters of a CI timestamp (and "", harmlessly)
_GO_SLOW_FIRST = "[0123456789{"  # ... and of a go test -json event


# --- Public API ----------------------------------------------------------------------------

def parse_text(text: str, source: str) -> ParseResult:
    """Every report in `text`; `source` names where it came from (a file path)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    items = list(iter_reports(lines, source))
    nul = text.find("\x00")
    if nul >= 0:
        items.append(_nul_error(source, text.count("\n", 0, nul) + 1))
    return _collect(items)


def parse_file(path: Path | str, source: str | None = None) -> tuple[ParseResult, bool]:
    """Parse one file, streamed (named `source` in the result, default its path). Returns
    the result and whether the file could be read at all."""
    source = str(path) if source is None else source
    try:
        stream = Path(path).open("rb")
    except FileNotFoundError:
        return ParseResult(errors=[_unreadable(source, "no such file")]), False
    except IsADirectoryError:
        return ParseResult(errors=[_unreadable(source, "is a directory")]), False
    except OSError as err:
        problem = _unreadable(source, f"cannot read: {err.strerror or err}")
        return ParseResult(errors=[problem]), False
    with stream:
        pid = P.LOG_PATH_PID.search(Path(path).name)
        return parse_stream(stream, source, pid=int(pid["pid"]) if pid else None), True


def parse_stream(stream: IO[bytes] | IO[str], source: str,
                 pid: int | None = None) -> ParseResult:
    """Every report in a file object (binary or text), read in chunks. `pid` is the
    process that wrote it when known (a log_path file), for reports that do not say."""
    return _collect(iter_stream(stream, source, pid=pid))


def iter_stream(stream: IO[bytes] | IO[str], source: str,
                pid: int | None = None) -> Iterator[Report | Problem]:
    """Reports and errors of a file object, each yielded as soon as it is complete; the
    parser never holds more than the reports still open (one, unless processes
    interleave). A read error ends the stream with a Problem."""
    lines = _ChunkedLines(stream)
    yield from iter_reports(lines, source, pid=pid)
    if lines.read_error is not None:
        yield Problem(ProblemKind.UNREADABLE, f"cannot read: {lines.read_error}", source,
                      lines.count or None)
    if lines.nul_line is not None:
        yield _nul_error(source, lines.nul_line)


def iter_reports(lines: Iterable[str], source: str,
                 pid: int | None = None) -> Iterator[Report | Problem]:
    """Reports and errors found in `lines` (without line ends), in the order they close."""
    return _Parser(source, pid).run(lines)


def kind_slug(headline: str) -> str:
    """The rule of docs/reference.md, "Finding kinds": cut at the first "(", lowercase,
    turn runs of non-alphanumerics into "-"."""
    head = headline.split("(", 1)[0].lower()
    slug = "".join(c if c.isascii() and c.isalnum() else "-" for c in head)
    while "--" in slug:
        slug = slug.replace("--", "-")
    return slug.strip("-") or "unknown"


def asan_kind(headline: str) -> str:
    """An AddressSanitizer / LeakSanitizer report's kind: its headline before " on " (the
    address and registers follow), slugged: "heap-use-after-free on address 0x60 at pc ..."
    is `heap-use-after-free`, "detected memory leaks" is `detected-memory-leaks`."""
    return kind_slug(headline.split(" on ", 1)[0])


def report_kind(headline: str) -> str:
    """The kind of a TSan warning: its slug, except that a race on an object a library
    annotated for TSan ("race on Document") is `race-on-external-object` whatever the
    registered type; the type stays in the headline."""
    kind = kind_slug(headline)
    return EXTERNAL_RACE if kind.startswith("race-on-") else kind


EXTERNAL_RACE = "race-on-external-object"


def clean_line(raw: str) -> str:
    """A line without ANSI escapes, a CI timestamp prefix, what a carriage return
    overwrote, or a trailing CR."""
    line = raw
    if "\x1b" in line:
        line = P.ANSI_ESCAPE.sub("", line)
    if "\r" in line:
        line = line.rstrip("\r")
        cut = line.rfind("\r")
        if cut >= 0:
            line = line[cut + 1:]
    first = line[:1]
    if first == "[" or first.isdigit():
        line = P.CI_TIMESTAMP.sub("", line, count=1)
    return line


def parse_frame(line: str) -> Frame | None:
    """A `Frame` from a "#N ..." line, or None when the line is not a frame."""
    found = P.FRAME.match(line)
    return _split_frame(found["body"])[0] if found else None


# --- Frames, names and fingerprints --------------------------------------------------------

# Evidence of the producer that a frame carries (bits, OR-ed over a report's frames).
_HAS_BUILD_ID = 1   # "(BuildId: ...)": LLVM's runtime
_HAS_COLUMN = 2     # "x.cc:4:11": llvm-symbolizer
_HAS_LINE = 4       # "x.cc:4"
_IN_LIBTSAN = 8     # a frame of libtsan.so / libsanitizer: GCC's runtime


def _split_frame(body: str) -> tuple[Frame, int]:
    """A frame body ("f() /x.cc:4:11 (mod+0x1a) (BuildId: ab)") -> the Frame and its
    evidence bits. Split from the right: BuildId, module, then (memoised per module, so
    the same function at another offset costs no more) location and function."""
    text = body.strip()
    evidence = 0
    module = offset = None
    if text.endswith(")"):
        cut = text.rfind(" (BuildId: ")
        if cut >= 0:
            text = text[:cut].rstrip()
            evidence = _HAS_BUILD_ID
        open_at = text.rfind("(")
        if text.endswith(")") and open_at >= 0 and (open_at == 0 or text[open_at - 1] == " "):
            inner = text[open_at + 1:-1]
            found = P.FRAME_MODULE.match(inner)
            if found:
                module = found["module"] or None
                offset = int(found["offset"], 16)
                text = text[:open_at].rstrip()
            elif inner == "<unknown module>":
                text = text[:open_at].rstrip()
    head = _split_head(text, module)
    frame = head[0]
    if frame.function == "<null>" and offset is not None:
        # Unsymbolized: the offset names the frame (in fingerprints), so it is kept.
        frame = Frame(function="<null>", file=frame.file, line=frame.line,
                      column=frame.column, module=module, offset=offset)
    return frame, evidence | head[1]


@functools.lru_cache(maxsize=CACHE_SIZE)
def _split_head(text: str, module: str | None) -> tuple[Frame, int]:
    """"f() /x.cc:4:11" (a frame body without its module and BuildId) -> the Frame (no
    offset) and its evidence bits."""
    evidence = 0
    if text.startswith("0x"):
        text = P.FRAME_PC_PREFIX.sub("", text, count=1)
    file = line = column = None
    space = text.rfind(" ")
    if space >= 0:
        token = text[space + 1:]
        if token == "<null>" or (token[:7] == "<null>:" and token[7:].isdigit()):
            # No file; Darwin adds a bogus line ("<null>:2147483648"): no line either.
            text = text[:space].rstrip()
        else:
            # "file:line:column", "file:line" or "file".
            head, colon, tail = token.rpartition(":")
            if colon and tail.isascii() and tail.isdigit():
                file, colon, middle = head.rpartition(":")
                if colon and middle.isascii() and middle.isdigit():
                    line, column = int(middle), int(tail)
                else:
                    file, line = head, int(tail)
            else:
                file = token
            if ("/" in file or "." in file) and not P.NOT_A_PATH.search(file):
                text = text[:space].rstrip()
            else:  # "f(int)", "a:12": part of the function, not a location
                file = line = column = None
    if line is not None:
        evidence |= _HAS_COLUMN if column is not None else _HAS_LINE
    if (module and "libtsan" in module and P.GCC_TSAN_MODULE.search(module)) or \
            (file and "libsanitizer" in file and P.GCC_TSAN_MODULE.search(file)):
        evidence |= _IN_LIBTSAN
    return Frame(function=text or "<null>", file=file, line=line, column=column,
                 module=module), evidence


_frame_from_body = functools.lru_cache(maxsize=CACHE_SIZE)(_split_frame)


@functools.lru_cache(maxsize=CACHE_SIZE)
def _go_frame(function: str, location: str) -> Frame | None:
    """The Frame of a Go function line and the location line under it ("/src/x.go:12
    +0x44", stripped), or None when that is no location. Memoised: a log repeats them."""
    found = P.GO_LOCATION.match(location)
    if found is None:
        return None
    return Frame(function=function, file=found["file"], line=int(found["line"]))


def _is_separator(stripped: str) -> bool:
    """The line above and below a report: a run of "=" (18 as TSan and Go print it; a
    shorter or longer run when a log was edited), or TSan's 18 "=" with another process's
    output glued after them. A longer run followed by text (pytest's "=====... test session
    starts ===...") is not one."""
    if stripped.startswith(_SEPARATOR):
        return stripped[18:19] != "=" or not stripped.strip("=")
    return stripped.startswith("==========") and not stripped.strip("=")


def _nul_error(source: str, line: int) -> Problem:
    return Problem(ProblemKind.BINARY_INPUT, "binary data (NUL bytes) in the input", source,
                   line)


def _unreadable(source: str, message: str) -> Problem:
    return Problem(ProblemKind.UNREADABLE, message, source)


def _collect(items: Iterable[Report | Problem]) -> ParseResult:
    result = ParseResult()
    for item in items:
        if isinstance(item, Report):
            result.reports.append(item)
        else:
            result.errors.append(item)
    result.reports.sort(key=lambda r: r.line)
    result.errors.sort(key=lambda e: e.line or 0)
    return result


# --- Reading a stream ----------------------------------------------------------------------

class _ChunkedLines:
    """The lines of a file object (bytes decoded as UTF-8 with replacement), read
    CHUNK_BYTES at a time; a line longer than MAX_LINE_CHARS is cut there. Remembers the
    first line with a NUL byte and a read error, so the caller can report them."""

    def __init__(self, stream: IO[bytes] | IO[str]) -> None:
        self.stream = stream
        self.count = 0                    # lines yielded so far
        self.nul_line: int | None = None  # first line holding a NUL byte
        self.read_error: str | None = None

    def __iter__(self) -> Iterator[str]:
        decoder = None
        pending = ""      # the start of a line whose end was not read yet
        overlong = False  # pending was cut: drop the rest of that line
        while True:
            try:
                chunk = self.stream.read(CHUNK_BYTES)
            except (OSError, ValueError) as err:
                self.read_error = getattr(err, "strerror", None) or str(err)
                break
            if not chunk:
                break
            if isinstance(chunk, bytes):
                if decoder is None:
                    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
                chunk = decoder.decode(chunk)
            if self.nul_line is None and "\x00" in chunk:
                self.nul_line = self.count + 1 + chunk.count("\n", 0, chunk.find("\x00"))
            pieces = chunk.split("\n")
            if len(pieces) == 1:
                if not overlong:
                    pending += chunk
                    if len(pending) > MAX_LINE_CHARS:
                        pending, overlong = pending[:MAX_LINE_CHARS], True
                continue
            first = pending if overlong else pending + pieces[0]
            last = pieces.pop()
            pieces[0] = first[:MAX_LINE_CHARS]
            self.count += len(pieces)
            yield from pieces
            pending, overlong = last, False
            if len(pending) > MAX_LINE_CHARS:
                pending, overlong = pending[:MAX_LINE_CHARS], True
        if decoder is not None and not overlong:
            pending += decoder.decode(b"", final=True)
        if pending:
            self.count += 1
            yield pending


# --- The parser ----------------------------------------------------------------------------

class _Block:
    """A report being read."""

    __slots__ = ("style", "headline", "kind", "start", "pid", "prefix", "shape", "core",
                 "summary", "test",
                 "stacks", "frames", "last_index", "evidence", "go_function", "failed",
                 "capped")

    def __init__(self, style: str, headline: str, kind: str, start: int, pid: int | None,
                 prefix: str) -> None:
        self.style = style              # "warning" (TSan), "error" (deadly signal), "go"
        self.headline = headline
        self.kind = kind
        self.start = start              # line number of the headline
        self.pid = pid
        self.prefix = prefix            # what precedes the headline on its line
        self.shape = prefix.translate(_DIGITS_TO_ZERO)
        self.core = prefix.rstrip()     # the prefix of a blank line ("//" for "// ")
        self.summary: str | None = None
        self.test: str | None = None    # the Go test running when it opened (go test -json)
        self.stacks: list[Stack] = []
        self.frames = 0
        self.last_index = -1            # number of the last "#N" frame read
        self.evidence = 0               # _HAS_* / _IN_LIBTSAN bits of its frames
        self.go_function: str | None = None  # a Go frame's function awaiting its file line
        self.failed: set[int] = set()   # id() of stacks TSan could not restore
        self.capped = False             # MAX_REPORT_FRAMES / MAX_REPORT_STACKS reached


class _Parser:
    """Line-at-a-time state machine over one source; `run` drives it."""

    def __init__(self, source: str, pid: int | None) -> None:
        self.source = source
        self.file_pid = pid
        self.out: list[Report | Problem] = []
        self.open: list[_Block] = []       # reports being read, oldest first
        self.pending: tuple[int, _Block] | None = None  # separator that may open a report
        self.deadly_marker = False
        self.tool_by_pid: dict[int | None, str] = {}
        self.announced = {"tsan": 0, "go": 0}
        self.announced_line = 0
        self.found = {"tsan": 0, "go": 0}
        self.test: str | None = None       # "Test" of the go test -json event being read
        self.last_frame_block: _Block | None = None  # took the last "#N" line (slow path)
        self.fast: _Block | None = None    # the only open report, when run() may take
        #                                    its frame lines directly (no prefix, not Go)
        self.fast_go: _Block | None = None  # the same for a Go report, and all its lines

    def run(self, lines: Iterable[str]) -> Iterator[Report | Problem]:
        out = self.out
        feed = self.feed
        frame_from_body = _frame_from_body
        number = 0
        for number, line in enumerate(lines, 1):
            block = self.fast
            if block is not None:
                # The hot path inside a report: a "#N ..." frame of the only open report
                # (what _frame_line does, inlined).
                stripped = line.strip()
                if stripped[:1] == "#" and "\x1b" not in line and len(line) <= MAX_LINE_CHARS:
                    space = stripped.find(" ")
                    digits = stripped[1:space]
                    if space >= 2 and digits.isascii() and digits.isdigit():
                        body = stripped[space + 1:]
                        entry = frame_from_body(body)
                        block.evidence |= entry[1]
                        if block.stacks and block.frames < MAX_REPORT_FRAMES:
                            block.stacks[-1].frames.append(entry[0])
                            block.frames += 1
                        else:
                            self._add_frame(number, block, entry[0])
                        block.last_index = int(digits)
                        if out:
                            yield from out
                            out.clear()
                        continue
            elif self.fast_go is not None:
                # The hot path inside a Go report: a line that needs no cleaning or JSON
                # decoding, and can hold no headline or count, goes straight to _go_line.
                if (not line or line[0] not in _GO_SLOW_FIRST) and "\x1b" not in line \
                        and "\r" not in line and "RACE" not in line \
                        and "Sanitizer" not in line and "data race" not in line \
                        and len(line) <= MAX_LINE_CHARS:
                    self._go_line(number, self.fast_go, line)
                    if not self.open:
                        self.fast_go = None
                    if out:
                        yield from out
                        out.clear()
                    continue
            elif not self.open and not self.deadly_marker and "Sanitizer" not in line \
                    and "RACE" not in line and "data race" not in line:
                continue  # the hot path outside reports: noise
            feed(number, line)
            if out:
                yield from out
                out.clear()
        self.finish(number)
        yield from out
        out.clear()

    # --- One line ---

    def feed(self, number: int, line: str) -> None:
        if len(line) > MAX_LINE_CHARS:
            line = line[:MAX_LINE_CHARS]
        if "\x1b" in line or "\r" in line or line[:1] in _CLEAN_FIRST:
            line = clean_line(line)
        if line[:2] == '{"' and '"Output":' in line:
            self._feed_json(number, line)
        else:
            self._feed(number, line)
        blocks = self.open
        only = blocks[0] if (len(blocks) == 1 and self.pending is None
                             and not blocks[0].prefix) else None
        go = only is not None and only.style == "go"
        self.fast = None if go else only
        self.fast_go = only if go else None

    def _feed(self, number: int, line: str) -> None:
        if self.pending is not None and not self._is_headline(line):
            self._resolve_pending()
        if ("Sanitizer" in line or "RACE" in line or "data race" in line) and \
                self._outside_line(number, line):
            return
        if not self.open:
            self.deadly_marker = self.deadly_marker and not line.strip()
            return
        block, text = self._route(line)
        if block is None:
            return
        if block.style == "go":
            self._go_line(number, block, text)
        else:
            self._tsan_line(number, block, text)

    def _feed_json(self, number: int, line: str) -> None:
        """A `go test -json` event: the text of its "Output" is read as lines of the log
        (each remembering the event's "Test"); any other JSON is read as it stands."""
        try:
            event = json.loads(line)
        except ValueError:
            event = None
        output = event.get("Output") if isinstance(event, dict) else None
        if not isinstance(output, str):
            self._feed(number, line)
            return
        test = event.get("Test")
        self.test = test if isinstance(test, str) else None
        pieces = output.split("\n")
        if len(pieces) > 1 and not pieces[-1]:
            pieces.pop()
        for piece in pieces:
            if "\x1b" in piece or "\r" in piece or piece[:1] in _CLEAN_FIRST:
                piece = clean_line(piece)
            self._feed(number, piece)
        self.test = None

    def _outside_line(self, number: int, line: str) -> bool:
        """Headlines, markers and counts; True when the line was one of them."""
        at = line.find(_TSAN)
        if at >= 0:
            found = P.WARNING_HEADLINE.match(line, at)
            if found:
                headline = found["headline"]
                self._open(_Block("warning", headline, report_kind(headline), number,
                                  int(found["pid"]), line[:at]))
                return True
        at = line.find(_GO)
        if at >= 0 and P.GO_HEADLINE.match(line, at):
            self._open(_Block("go", "DATA RACE", "data-race", number, None, line[:at]))
            return True
        if "ERROR: ThreadSanitizer: " in line:
            found = P.ERROR_HEADLINE.search(line)
            if found:
                headline = found["headline"]
                deadly = self.deadly_marker or P.DEADLY_SIGNAL_HEADLINE.match(headline)
                kind = "deadly-signal" if deadly else kind_slug(headline)
                self.deadly_marker = False
                self._open(_Block("error", headline, kind, number, int(found["pid"]),
                                  line[:found.start()]))
                return True
        if "Sanitizer: " in line and "==ERROR: " in line:
            found = P.ASAN_HEADLINE.search(line)
            if found:
                headline = found["headline"]
                kind = "deadly-signal" if P.DEADLY_SIGNAL_HEADLINE.match(headline) \
                    else asan_kind(headline)
                self._open(_Block("asan", headline, kind, number, int(found["pid"]),
                                  line[:found.start()]))
                return True
        if "ThreadSanitizer:DEADLYSIGNAL" in line:
            self.deadly_marker = True
            return True
        if "reported" in line or "Found" in line:
            found = P.REPORTED_COUNT.search(line)
            if found:
                which = "tsan" if found["tsan"] else "go"
                self.announced[which] += int(found[which])
                self.announced_line = number
                return True
        if "ThreadSanitizer" in line and ("CHECK failed" in line or "FATAL" in line
                                          or "failed to" in line):
            found = P.RUNTIME_FAILURE.search(line)
            if found:
                failure = found["failure"]
                if P.UNEXPECTED_MAPPING.search(failure):
                    self.out.append(Problem(
                        ProblemKind.ASLR_INCOMPATIBLE,
                        f"the sanitizer runtime cannot start here: {failure}; lower the "
                        "address-space randomisation (sudo sysctl vm.mmap_rnd_bits=28) or "
                        "run without ASLR (setarch $(uname -m) -R)", self.source, number))
                else:
                    self.out.append(Problem(ProblemKind.RUNTIME_FAILURE,
                                            f"sanitizer runtime failure: {failure}",
                                            self.source, number))
                return True
        return False

    def _is_headline(self, line: str) -> bool:
        at = line.find(_TSAN)
        if at >= 0 and P.WARNING_HEADLINE.match(line, at):
            return True
        at = line.find(_GO)
        return at >= 0 and bool(P.GO_HEADLINE.match(line, at))

    def _route(self, line: str) -> tuple[_Block | None, str]:
        """The open report a line belongs to (by its prefix), and the line without it."""
        blocks = self.open
        if len(blocks) == 1:
            block = blocks[0]
            prefix = block.prefix
            if not prefix:
                return block, line
            if line.startswith(prefix):
                return block, line[len(prefix):]
            if line[:len(prefix)].translate(_DIGITS_TO_ZERO) == block.shape:
                return block, line[len(prefix):]
            core = block.core
            if core and line.startswith(core):
                return block, line[len(core):]
            return None, line
        for block in reversed(blocks):
            if block.prefix and line.startswith(block.prefix):
                return block, line[len(block.prefix):]
        for block in reversed(blocks):
            size = len(block.prefix)
            if size and line[:size].translate(_DIGITS_TO_ZERO) == block.shape:
                return block, line[size:]
        for block in reversed(blocks):
            if block.core and line.startswith(block.core):
                return block, line[len(block.core):]
        for block in reversed(blocks):
            if not block.prefix:
                return block, line
        return None, line

    def _siblings(self, block: _Block) -> list[_Block]:
        """Other open reports that share this one's prefix, newest first."""
        return [b for b in reversed(self.open) if b is not block and b.prefix == block.prefix]

    def _tsan_line(self, number: int, block: _Block, text: str) -> None:
        stripped = text.strip()
        if not stripped:
            return
        first = stripped[0]
        if first == "#":
            self._frame_line(number, block, stripped)
        elif first == "=":
            if _is_separator(stripped):
                self._separator(number, block)
            elif stripped.endswith("==ABORTING"):
                found = P.ABORTING.match(stripped)
                if found:
                    pid = int(found["pid"])
                    for candidate in [block, *self._siblings(block)]:
                        if candidate.style == "error" and candidate.pid == pid:
                            self._close(candidate, truncated=False)
                            return
        elif block.style == "asan":
            self._asan_line(number, block, text, stripped)
        elif stripped.startswith(_SUMMARY):
            self._summary(block, stripped[len(_SUMMARY):].strip())
        elif stripped[-1] == ":" and block.style == "warning" and text.startswith("  ") \
                and len(text) - len(text.lstrip(" ")) <= 4:
            self._add_stack(number, block, stripped[:-1].rstrip())
        elif stripped.startswith(_FAILED_STACK) and block.stacks:
            block.failed.add(id(block.stacks[-1]))

    def _asan_line(self, number: int, block: _Block, text: str, stripped: str) -> None:
        """AddressSanitizer / LeakSanitizer: stack titles at column 0 ("READ of size 4 at
        0x... thread T0", "freed by thread T0 here:", "Direct leak of 64 byte(s) in 1
        object(s) allocated from:"); the SUMMARY line closes the report."""
        found = P.ASAN_SUMMARY.match(stripped)
        if found:
            block.summary = found["summary"]
            self._close(block, truncated=False)
        elif not text.startswith(" ") and (stripped.endswith(":")
                                           or P.ACCESS_TITLE.match(stripped)):
            self._add_stack(number, block, stripped.rstrip(":").rstrip())

    def _frame_line(self, number: int, block: _Block, stripped: str) -> None:
        space = stripped.find(" ")
        digits = stripped[1:space]
        if space < 2 or not (digits.isascii() and digits.isdigit()):
            return
        index = int(digits)
        if index and len(self.open) > 1:
            # Interleaved processes: the open report whose stack this frame continues,
            # preferring the one that took the previous frame line.
            previous = self.last_frame_block
            candidates = [previous] if previous is not None and previous in self.open else []
            for candidate in [*candidates, block, *self._siblings(block)]:
                if candidate.last_index == index - 1 and candidate.style != "go" and \
                        candidate.prefix == block.prefix:
                    block = candidate
                    break
        self.last_frame_block = block
        frame, evidence = _frame_from_body(stripped[space + 1:])
        block.evidence |= evidence
        if block.stacks and block.frames < MAX_REPORT_FRAMES:
            block.stacks[-1].frames.append(frame)
            block.frames += 1
        else:
            self._add_frame(number, block, frame)
        block.last_index = index

    def _summary(self, block: _Block, summary: str) -> None:
        if block.summary is not None or not summary.startswith(block.headline.split("(")[0]):
            for sibling in self._siblings(block):
                if sibling.summary is None and \
                        summary.startswith(sibling.headline.split("(")[0]):
                    block = sibling
                    break
        if block.summary is None:
            block.summary = summary

    def _separator(self, number: int, block: _Block) -> None:
        if block.style != "warning":
            return
        if block.summary is None:
            for sibling in self._siblings(block):
                if sibling.style == "warning" and sibling.summary is not None:
                    block = sibling
                    break
        if block.summary is not None:
            self._close(block, truncated=False)
        else:
            # Either the end of a report printed without SUMMARY, or the opening line of
            # another process's report: the next line tells.
            self.pending = (number, block)

    def _go_line(self, number: int, block: _Block, text: str) -> None:
        """A line of a Go report, told by its shape rather than its indentation (which a
        paste into Markdown, a book or a doc comment loses or changes): a title ends with
        ":", a function is "name(...)", its location "file:line +0x..." follows it."""
        stripped = text.strip()
        if not stripped:
            return
        if stripped[:1] == "=" and _is_separator(stripped):
            self._close(block, truncated=False)
            return
        if block.go_function is not None:
            frame = _go_frame(block.go_function, stripped)
            if frame is not None:
                block.go_function = None
                self._add_frame(number, block, frame)
                return
        if stripped[-1] == ":":
            self._flush_go_function(number, block)
            self._add_stack(number, block, stripped[:-1].rstrip())
        elif stripped.startswith(_FAILED_STACK):
            self._flush_go_function(number, block)
            if block.stacks:
                block.failed.add(id(block.stacks[-1]))
        elif block.stacks and P.GO_FUNCTION.match(stripped):
            self._flush_go_function(number, block)
            block.go_function = stripped

    def _flush_go_function(self, number: int, block: _Block) -> None:
        if block.go_function is not None:
            function, block.go_function = block.go_function, None
            self._add_frame(number, block, Frame(function=function))

    # --- Building a report ---

    def _add_stack(self, number: int, block: _Block, title: str) -> None:
        if len(block.stacks) >= MAX_REPORT_STACKS:
            self._cap(number, block, f"more than {MAX_REPORT_STACKS} stacks")
            return
        block.stacks.append(Stack(title=title))

    def _add_frame(self, number: int, block: _Block, frame: Frame) -> None:
        if block.frames >= MAX_REPORT_FRAMES:
            self._cap(number, block, f"more than {MAX_REPORT_FRAMES} frames")
            return
        if not block.stacks:
            block.stacks.append(Stack(title=block.headline.split("(", 1)[0].strip()))
        block.stacks[-1].frames.append(frame)
        block.frames += 1

    def _cap(self, number: int, block: _Block, what: str) -> None:
        if not block.capped:
            block.capped = True
            self.out.append(Problem(
                ProblemKind.RUNAWAY_REPORT,
                f"runaway report: '{block.headline}' (line {block.start}) has {what}; "
                "the rest of it is dropped", self.source, number))

    def _open(self, block: _Block) -> None:
        self.pending = None  # a separator right before a headline opened it
        block.test = self.test
        for other in list(self.open):
            if other.pid == block.pid and other.prefix == block.prefix:
                self._close(other, truncated=True)  # the same process cannot print two
        if len(self.open) >= MAX_OPEN_REPORTS:
            self._close(self.open[0], truncated=True)
        self.open.append(block)
        if block.style in ("warning", "go"):  # only warnings are among the announced ones
            self.found["go" if block.style == "go" else "tsan"] += 1

    def _resolve_pending(self) -> None:
        assert self.pending is not None
        _number, block = self.pending
        self.pending = None
        if block in self.open:
            self._close(block, truncated=False)

    def _close(self, block: _Block, truncated: bool) -> None:
        self.open.remove(block)
        if self.pending is not None and self.pending[1] is block:
            self.pending = None
        self._flush_go_function(block.start, block)
        stacks = [s for s in block.stacks if s.frames or id(s) in block.failed]
        # TSan prints SUMMARY (print_summary=1, the default) as the last line before the
        # closing one: a report that reached it is whole, with or without its closing line
        # (a report pasted up to its SUMMARY, a log cut right after it); one closed without
        # it was cut. Go's reports have no SUMMARY: only their closing line ends them.
        truncated = truncated and block.summary is None
        cut_short = not truncated and block.summary is None and block.style != "go"
        pid = block.pid if block.pid is not None else self.file_pid
        self.out.append(Report(
            kind=block.kind,
            headline=block.headline,
            tool=self._tool(block),
            summary=block.summary,
            stacks=stacks,
            top_frame=top_frame(stacks),
            fingerprint=fingerprint(block.kind, stacks),
            source=self.source,
            line=block.start,
            truncated=truncated or cut_short,
            pid=pid,
            test=block.test,
        ))
        if cut_short:
            self.out.append(Problem(
                ProblemKind.TRUNCATED_REPORT,
                f"truncated report: '{block.headline}' closed without its SUMMARY line",
                self.source, block.start))
        elif truncated:
            closers = {"error": "==PID==ABORTING", "asan": "SUMMARY"}
            closer = closers.get(block.style, "==================")
            self.out.append(Problem(
                ProblemKind.TRUNCATED_REPORT,
                f"truncated report: '{block.headline}' never reached its closing "
                f"{closer} line", self.source, block.start))

    def _tool(self, block: _Block) -> str:
        """go-race for Go, clang-asan for AddressSanitizer and LeakSanitizer; else gcc-tsan
        or clang-tsan by the frames' evidence (module docstring), remembered per process
        for reports that carry none."""
        if block.style == "go":
            return "go-race"
        if block.style == "asan":
            return "clang-asan"
        evidence = block.evidence
        if evidence & _IN_LIBTSAN:
            tool = "gcc-tsan"
        elif evidence & (_HAS_COLUMN | _HAS_BUILD_ID):
            tool = "clang-tsan"
        elif evidence & _HAS_LINE:
            tool = "gcc-tsan"
        else:
            return self.tool_by_pid.get(block.pid, "clang-tsan")
        self.tool_by_pid[block.pid] = tool
        return tool

    def finish(self, last_line: int) -> None:
        if self.pending is not None:
            self._resolve_pending()
        for block in list(self.open):
            self._close(block, truncated=True)
        for which, name in (("tsan", "ThreadSanitizer reported"), ("go", "Go reported")):
            if self.announced[which] > self.found[which]:
                self.out.append(Problem(
                    ProblemKind.LOST_REPORTS,
                    f"{name} {self.announced[which]} warning(s) but only "
                    f"{self.found[which]} report(s) were found: some were lost or garbled",
                    self.source, self.announced_line or last_line or None))
