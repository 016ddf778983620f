"""Where each thread of a live process is blocked: gdb's "thread apply all bt", parsed.

Used when a process outlives its deadline (a `hang` finding shows every thread's stack)
and by leak checks. gdb attaches with ptrace; where the system forbids it (a container
without CAP_SYS_PTRACE, yama's ptrace_scope) or gdb is missing, the capture says so
instead of failing the run.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from . import frames
from . import patterns as P
from .model import Frame, Report, Stack

GDB_TIMEOUT_S = 60.0


@dataclass
class Capture:
    """Every thread's stack, or why none could be taken."""

    stacks: list[Stack] = field(default_factory=list)
    unavailable: str | None = None  # "cannot attach: ..." when nothing could be captured


def capture(pid: int) -> Capture:
    """Attach to `pid` (briefly: it is stopped while gdb reads it), read every thread's
    stack, detach. Never raises for a process that cannot be read."""
    gdb = shutil.which("gdb")
    if gdb is None:
        return Capture(unavailable="no stacks: gdb is not installed")
    try:
        done = subprocess.run([gdb, "-p", str(pid), "-batch", "-nx", "-ex",
                               "set pagination off", "-ex", "thread apply all bt"],
                              capture_output=True, timeout=GDB_TIMEOUT_S, check=False,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return Capture(unavailable=f"no stacks: gdb did not finish in {GDB_TIMEOUT_S:g}s")
    text = done.stdout.decode("utf-8", "replace")
    stacks = parse_backtraces(text)
    if not stacks:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["?"]
        return Capture(unavailable=f"no stacks: cannot attach to pid {pid} ({why[0]}); "
                                   "the system may forbid ptrace here")
    return Capture(stacks=stacks)


def parse_backtraces(text: str) -> list[Stack]:
    """gdb's "thread apply all bt" output -> one titled Stack per thread."""
    stacks: list[Stack] = []
    for line in text.splitlines():
        thread = P.GDB_THREAD.match(line)
        if thread:
            name = thread["name"]
            title = (f"Thread {thread['number']} '{name}' (tid={thread['tid']})" if name
                     else f"Thread {thread['number']} (tid={thread['tid']})")
            stacks.append(Stack(title=title))
            continue
        frame = P.GDB_FRAME.match(line)
        if frame and stacks:
            stacks[-1].frames.append(_frame(frame["body"]))
    return stacks


def _frame(body: str) -> Frame:
    file = module = None
    line = None
    where = P.GDB_LOCATION.search(body)
    if where:
        body = body[:where.start()]
        file, module = where["file"], where["module"]
        line = int(where["line"]) if where["line"] else None
    function = _without_arguments(body.strip())
    return Frame(function=function or "??", file=file, line=line, module=module)


def _without_arguments(text: str) -> str:
    """"ns::f (x=1, y=...)" -> "ns::f": drop the final balanced "(...)" group."""
    if not text.endswith(")"):
        return text
    depth = 0
    for index in range(len(text) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(text[index], 0)
        if depth == 0:
            return text[:index].rstrip()
    return text


def hang_report(what: str, capture: Capture, source: str) -> Report:
    """A `hang` finding (tool racelab): every thread's stack, or why there are none. Its
    fingerprint is the set of user functions the threads are blocked in."""
    blocked = sorted({frames.short_function(f) for s in capture.stacks
                      for f in frames.app_frames(s)[:1]})
    summary = (f"hang: {what}; " + (f"threads blocked in {', '.join(blocked)}" if blocked
                                    else capture.unavailable or "no user frame"))
    return Report(kind="hang", headline=f"hang: {what}", tool="racelab", summary=summary,
                  stacks=capture.stacks, top_frame=frames.top_frame(capture.stacks),
                  fingerprint=frames.harness_fingerprint("hang", "|".join(blocked) or what),
                  source=source)


def write(capture: Capture, path: Path) -> None:
    """The captured stacks as text beside the logs."""
    lines = [capture.unavailable] if capture.unavailable else []
    for stack in capture.stacks:
        lines.append(stack.title + ":")
        lines += [f"  #{i} {f.function} {f.file or f.module or '?'}"
                  + (f":{f.line}" if f.line else "") for i, f in enumerate(stack.frames)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
