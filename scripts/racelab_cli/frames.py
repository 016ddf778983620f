"""Frames: which are the program's own, what a function is called, and fingerprints.

The parser (parse.py) builds frames; this module decides what they mean. The report
writers, the judge and the CLI import it, never the parser.

Fingerprint recipe (`fingerprint`):
  1. The report's primary stacks: the conflicting accesses ("Write of size 4 ...",
     "Previous read ...", "Modifying access of ...", Go's "Write at ..."), or the edges of a
     lock-order cycle ("Mutex M1 acquired here while holding mutex M0 ..."); for every other
     kind, the first stack that has frames.
  2. Per stack, the frames that count (`is_runtime_frame` is False: not the sanitizer
     runtime, its interceptors, libc, the static-initialiser glue, standard-library
     internals or headers, Go's runtime/sync/testing packages; the list is the six patterns
     under "Frames that do not count" in patterns.py). Each becomes a token:
       C++: `normalize_function` (no return type, arguments, template arguments,
            "(anonymous namespace)", clone suffixes, ABI tags; lambdas and unnamed types
            become "lambda" / "unnamed"), then only its last "::" component, because GCC's
            symbolizer often prints "Set" where clang prints "Gauge<long>::Set(long)";
       Go:  the function without arguments and type parameters, closures "func1" -> "func";
       unsymbolized: "<module basename>+0x<offset>" (stable across runs and ASLR, not
            across rebuilds: nothing better is printed).
     Consecutive equal tokens collapse (GCC repeats a deleting destructor, the external
     API repeats the caller); the first FINGERPRINT_FRAMES tokens are the stack's signature.
  3. sha1 of the kind and the sorted signatures, 16 hex digits. Sorting makes the two
     accesses of a race (or the two edges of a cycle) give one fingerprint in either order.
Never in it: addresses, offsets of symbolized frames, pids, thread and mutex ids, tids,
line and column numbers, file paths, build ids, timestamps. So a rebuild, ASLR, another
process, or code added elsewhere in a file leave it unchanged, and clang and GCC agree on
the same race when their frames agree. The price of name-only tokens: two races whose top
frames have the same unqualified names in two classes share a fingerprint.
"""

from __future__ import annotations

import functools
import hashlib

from . import patterns as P
from .model import Frame, Report, Stack

FINGERPRINT_FRAMES = 3       # counting frames per stack in a signature (as ClusterFuzz)
CACHE_SIZE = 20_000          # entries per memo (a few MB): names and frames repeat a lot


# --- Public API ----------------------------------------------------------------------------

@functools.lru_cache(maxsize=CACHE_SIZE)
def normalize_function(name: str) -> str:
    """A function name without return type, template and argument lists, qualifiers,
    clone suffixes, ABI tags, addresses or line numbers, with lambdas named "lambda":
    "void ns::f<int>(int) const" -> "ns::f", "main::{lambda()#1}::operator()() const" ->
    "main::lambda::operator()". A Go name keeps its package and receiver:
    "main.(*Stats).Hit()" -> "main.(*Stats).Hit", "main.main.func1()" -> "main.main.func"."""
    return _normalize(name)


def is_runtime_frame(frame: Frame) -> bool:
    """True for a frame that top_frame and fingerprints skip: the sanitizer runtime and its
    interceptors, libc, static-initialiser glue, the standard library's internals and
    headers, Go's runtime/sync/testing packages (patterns.py, "Frames that do not count").
    An unsymbolized frame counts when it is in the program's own module."""
    if frame.function == "<null>" or not frame.function.strip():
        return not frame.module or bool(P.RUNTIME_MODULE.search(frame.module))
    return _is_runtime(frame)


def fingerprint(kind: str, stacks: list[Stack]) -> str:
    """Hex digest of the kind and the signatures of the report's primary stacks; the
    recipe is in this module's docstring."""
    signatures = sorted(" > ".join(_signature(s)) for s in _primary_stacks(stacks))
    text = kind + "\n" + "\n".join(signatures)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def top_frame(stacks: list[Stack]) -> Frame | None:
    """The first frame, over the stacks in order, that is not a runtime frame."""
    for stack in stacks:
        for frame in stack.frames:
            if not is_runtime_frame(frame):
                return frame
    return None


def _is_go_name(text: str) -> bool:
    return "::" not in text and "." in text.split("(", 1)[0]


def _normalize(name: str) -> str:
    text = name.strip()
    if "[" in text:
        text = P.FUNCTION_TAG.sub("", text)
    if "." in text:
        text = P.CLONE_SUFFIX.sub("", text)
        if _is_go_name(text):
            text = P.GO_ARGUMENTS.sub("", text)
            text = P.GO_TYPE_PARAMS.sub("", text)
            return P.GO_CLOSURE_NUMBER.sub(lambda m: "." + m["word"], text)
    if "lambda" in text or "$_" in text or "unnamed" in text:
        text = P.LAMBDA_NAME.sub(_lambda_word, text)
    text = P.ANONYMOUS_NAMESPACE.sub("", text)
    operators: list[str] = []

    def protect(match) -> str:
        operators.append(match.group(0).replace(" ", ""))
        return f"\x01{len(operators) - 1}\x01"

    if "operator" in text:
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


def _lambda_word(match) -> str:
    return match["kind"] or match["kind2"] or match["kind3"] or match["kind4"] or "lambda"


@functools.lru_cache(maxsize=CACHE_SIZE)
def _is_runtime(frame: Frame) -> bool:
    file = frame.file
    if file and file.endswith(".go"):
        return bool(P.GO_RUNTIME_FUNCTION.match(frame.function.strip()))
    if frame.module and P.RUNTIME_MODULE.search(frame.module):
        return True
    if file and P.RUNTIME_FILE.search(file):
        return True
    name = normalize_function(frame.function)
    if not name or P.RUNTIME_FUNCTION.match(name) or P.INTERCEPTED_LIBC_FUNCTION.match(name):
        return True
    std = P.STD_FUNCTION.match(name)
    if std:
        # A library internal, or std:: code with no source of the user's: skipped.
        return bool(std["internal"]) or not file
    return False


def _token(frame: Frame) -> str:
    """The frame's part of a signature (see the module docstring)."""
    if frame.function == "<null>" or not frame.function.strip():
        module = (frame.module or "?").rsplit("/", 1)[-1]
        return f"{module}+0x{frame.offset:x}" if frame.offset is not None else module
    return _named_token(frame)


@functools.lru_cache(maxsize=CACHE_SIZE)
def _named_token(frame: Frame) -> str:
    name = normalize_function(frame.function)
    if not (frame.file and frame.file.endswith(".go")) and not _is_go_name(name):
        name = name.rsplit("::", 1)[-1]
    return name


def _primary_stacks(stacks: list[Stack]) -> list[Stack]:
    chosen = [s for s in stacks
              if P.ACCESS_TITLE.match(s.title) or P.LOCK_EDGE_TITLE.match(s.title)]
    if chosen:
        return chosen
    return [s for s in stacks if s.frames][:1]


def _signature(stack: Stack) -> tuple[str, ...]:
    names: list[str] = []
    for frame in stack.frames:
        if is_runtime_frame(frame):
            continue
        token = _token(frame)
        if names and names[-1] == token:
            continue
        names.append(token)
        if len(names) == FINGERPRINT_FRAMES:
            break
    return tuple(names)


def app_frames(stack: Stack) -> list[Frame]:
    """The frames of a stack that are not the sanitizer runtime, libc or libstdc++."""
    return [f for f in stack.frames if not is_runtime_frame(f)]


def access_top_frames(report: Report) -> list[Frame]:
    """The top user frame of each primary stack (the conflicting accesses, the edges of a
    lock cycle; else the first stack with frames): where the report says the bug is."""
    out = []
    for stack in _primary_stacks(report.stacks):
        frames = app_frames(stack)
        if frames:
            out.append(frames[0])
    return out


def short_function(frame: Frame | None) -> str:
    """The function without its argument list, for one-line listings."""
    if frame is None:
        return "?"
    return normalize_function(frame.function) or frame.function


def harness_fingerprint(kind: str, key: str) -> str:
    """The fingerprint of a finding of racelab's own (no stacks): its kind and what it is
    about (an invariant's description, a thread's name), hashed like a report's."""
    return hashlib.sha1(f"{kind}\nracelab:{key}".encode("utf-8")).hexdigest()[:16]
