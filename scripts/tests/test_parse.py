"""The TSan / Go race-detector parser, against real clang, GCC and Go output saved in data/
(data/README.md says how each file was produced): one test per report kind and producer,
then fingerprints, names and the ignore list. Messy input, streaming and fuzzing are in
test_parse_messy.py and test_parse_fuzz.py."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from conftest import DATA, data_text
from racelab_cli import frames as frame_rules
from racelab_cli import parse
from racelab_cli.model import Frame, Report, Stack

SRC = "/work/main/scripts/tests/data/src/"  # where the samples were compiled (in the logs)

_HEX = re.compile(r"0x[0-9a-f]+")
_TID = re.compile(r"tid=\d+")
_BUILD_ID = re.compile(r"\(BuildId: [0-9a-f]+\)")


def mask(text: str) -> str:
    """Addresses, tids and build ids of a title or summary as "*"."""
    return _BUILD_ID.sub("(BuildId: *)", _TID.sub("tid=*", _HEX.sub("0x*", text)))


def reports_of(name: str) -> list[Report]:
    """Every report of a data file, which must parse without errors."""
    result = parse.parse_text(data_text(name), name)
    assert result.errors == []
    return result.reports


def only_report(name: str) -> Report:
    [report] = reports_of(name)
    return report


def assert_report(report: Report, *, kind: str, headline: str, tool: str,
                  summary: str | None, titles: list[str],
                  top: tuple[str, str | None, int | None, int | None]) -> None:
    """The one helper that checks a parsed report's fields:
    - kind, headline, tool, and the SUMMARY (addresses and build ids masked by `mask`);
    - the stacks' titles, masked, in order (so their number too);
    - top_frame as (function, file, line, column), a file relative to data/src/;
    - that the fingerprint ignores what it must: other addresses, offsets and build ids,
      line and column numbers, the source directory, tids, the order of the titled stacks
      (the first stack of a report without titles is its main one); and that
      it does follow the functions of the frames that count."""
    assert report.kind == kind
    assert report.headline == headline
    assert report.tool == tool
    assert (mask(report.summary) if report.summary is not None else None) == summary
    assert [mask(s.title) for s in report.stacks] == titles
    function, file, line, column = top
    if file is not None and not file.startswith("/"):
        file = SRC + file
    assert report.top_frame is not None
    assert (report.top_frame.function, report.top_frame.file, report.top_frame.line,
            report.top_frame.column) == (function, file, line, column)
    assert not report.truncated
    assert re.fullmatch(r"[0-9a-f]{16}", report.fingerprint)
    assert frame_rules.fingerprint(report.kind, report.stacks) == report.fingerprint

    def moved(frame: Frame) -> Frame:
        symbolized = frame.function != "<null>"
        return dataclasses.replace(
            frame, line=frame.line + 7 if frame.line else frame.line,
            column=frame.column + 1 if frame.column else frame.column,
            file=frame.file.replace(SRC, "/elsewhere/") if frame.file else None,
            offset=frame.offset if not symbolized else 0x1234)

    stacks = report.stacks
    if stacks and stacks[0].title != report.headline.split("(")[0].strip():
        stacks = stacks[::-1]  # titled stacks: the accesses (or lock edges) in either order
    rebuilt = [Stack(_HEX.sub("0xdead", _TID.sub("tid=99", s.title)),
                     [moved(f) for f in s.frames]) for s in stacks]
    assert frame_rules.fingerprint(report.kind, rebuilt) == report.fingerprint
    renamed = [Stack(s.title, [dataclasses.replace(f, function="Renamed()")
                               if f is report.top_frame else f for f in s.frames])
               for s in report.stacks]
    assert frame_rules.fingerprint(report.kind, renamed) != report.fingerprint
    assert frame_rules.fingerprint("another-kind", report.stacks) != report.fingerprint


def fingerprints(name: str) -> list[str]:
    return [r.fingerprint for r in reports_of(name)]


THREADS = ["Thread T2 (tid=*, running) created by main thread at",
           "Thread T1 (tid=*, finished) created by main thread at"]
BOTH_RUNNING = ["Thread T2 (tid=*, running) created by main thread at",
                "Thread T1 (tid=*, running) created by main thread at"]


# --- data race -----------------------------------------------------------------------------

def test_parse_clang_data_race() -> None:
    report = only_report("tsan_data_race.txt")
    assert_report(report, kind="data-race", headline="data race", tool="clang-tsan",
                  summary=f"data race {SRC}data_race.cc:17:55 in "
                          "(anonymous namespace)::WriterBeta()",
                  titles=["Write of size 4 at 0x* by thread T2",
                          "Previous write of size 4 at 0x* by thread T1", *THREADS],
                  top=("(anonymous namespace)::WriterBeta()", "data_race.cc", 17, 55))
    write, previous = report.stacks[0], report.stacks[1]
    assert write.title == "Write of size 4 at 0x556648e616a8 by thread T2"
    assert len(write.frames) == 8
    assert write.frames[1] == Frame(function="(anonymous namespace)::RunInTurn(void (*)(), int)",
                                    file=SRC + "data_race.cc", line=22, column=3,
                                    module="data_race")
    assert write.frames[7] == Frame(function="<null>", file=None, line=None, column=None,
                                    module="libstdc++.so.6")
    assert previous.frames[0].function == "(anonymous namespace)::WriterAlpha()"
    assert previous.frames[0].line == 16
    assert report.line == 2 and report.pid == 2992


def test_parse_gcc_data_race_has_no_columns_nor_build_ids() -> None:
    report = only_report("gcc_tsan_data_race.txt")
    assert_report(report, kind="data-race", headline="data race", tool="gcc-tsan",
                  summary=f"data race {SRC}data_race.cc:17 in WriterBeta",
                  titles=["Read of size 4 at 0x* by thread T2",
                          "Previous write of size 4 at 0x* by thread T1", *THREADS],
                  top=("WriterBeta", "data_race.cc", 17, None))
    creator = report.stacks[2].frames[0]
    assert creator.module == "libtsan.so.2"
    assert creator.file == "../../../../src/libsanitizer/tsan/tsan_interceptors_posix.cpp"
    assert creator.line == 1001


def test_parse_data_race_fingerprint_ignores_access_order() -> None:
    first = only_report("tsan_data_race.txt")
    other = only_report("tsan_data_race_beta_first.txt")
    assert first.top_frame.function != other.top_frame.function  # the order really differs
    assert first.fingerprint == other.fingerprint


def test_parse_data_race_fingerprint_survives_rebuild_with_shifted_lines() -> None:
    first = only_report("tsan_data_race.txt")
    rebuilt = only_report("tsan_data_race_rebuilt.txt")
    assert rebuilt.top_frame.line != first.top_frame.line
    assert rebuilt.stacks[0].title != first.stacks[0].title  # other address
    assert rebuilt.pid == 3007 and first.pid == 2992
    assert rebuilt.fingerprint == first.fingerprint


def test_parse_clang_data_race_on_heap_between_named_threads() -> None:
    assert_report(only_report("tsan_data_race_heap.txt"), kind="data-race",
                  headline="data race", tool="clang-tsan",
                  summary=f"data race {SRC}data_race_heap.cc:23:10 in "
                          "(anonymous namespace)::Consume(int*)",
                  titles=["Write of size 4 at 0x* by thread T2",
                          "Previous write of size 4 at 0x* by thread T1",
                          "Location is heap block of size 4 at 0x* allocated by main thread",
                          "Thread T2 'consumer' (tid=*, running) created by main thread at",
                          "Thread T1 'producer' (tid=*, finished) created by main thread at"],
                  top=("(anonymous namespace)::Consume(int*)", "data_race_heap.cc", 23, 10))


def test_parse_gcc_data_race_on_heap_between_named_threads() -> None:
    report = only_report("gcc_tsan_data_race_heap.txt")
    assert_report(report, kind="data-race", headline="data race", tool="gcc-tsan",
                  summary=f"data race {SRC}data_race_heap.cc:23 in Consume",
                  titles=["Read of size 4 at 0x* by thread T2",
                          "Previous write of size 4 at 0x* by thread T1",
                          "Location is heap block of size 4 at 0x* allocated by main thread",
                          "Thread T2 'consumer' (tid=*, running) created by main thread at",
                          "Thread T1 'producer' (tid=*, finished) created by main thread at"],
                  top=("Consume", "data_race_heap.cc", 23, None))
    allocation = report.stacks[2].frames
    assert [f.function for f in allocation] == ["operator new(unsigned long)", "main"]


def test_parse_clang_data_race_on_the_stack_of_a_thread() -> None:
    report = only_report("tsan_data_race_stack.txt")
    assert_report(report, kind="data-race", headline="data race", tool="clang-tsan",
                  summary=f"data race {SRC}data_race_stack.cc:24:9 in "
                          "(anonymous namespace)::WriteThroughSlot()",
                  titles=["Write of size 4 at 0x* by thread T2",
                          "Previous write of size 8 at 0x* by thread T1", *BOTH_RUNNING],
                  top=("(anonymous namespace)::WriteThroughSlot()", "data_race_stack.cc",
                       24, 9))
    # "Location is stack of thread T1." is a note, not a stack; the previous access is the
    # runtime's stack initialisation, which counts for nothing.
    assert [f.function for f in report.stacks[1].frames] == ["__tsan_stack_initialization"]
    assert "Location is stack of thread T1." in data_text("tsan_data_race_stack.txt")


def test_parse_gcc_data_race_on_the_stack_of_a_thread() -> None:
    assert_report(only_report("gcc_tsan_data_race_stack.txt"), kind="data-race",
                  headline="data race", tool="gcc-tsan",
                  summary=f"data race {SRC}data_race_stack.cc:24 in WriteThroughSlot",
                  titles=["Write of size 4 at 0x* by thread T2",
                          "Previous write of size 8 at 0x* by thread T1", *BOTH_RUNNING],
                  top=("WriteThroughSlot", "data_race_stack.cc", 24, None))


def test_parse_clang_data_race_as_if_synchronized_via_sleep() -> None:
    report = only_report("tsan_data_race_sleep.txt")
    assert_report(report, kind="data-race", headline="data race", tool="clang-tsan",
                  summary=f"data race {SRC}data_race_sleep.cc:29:9 in "
                          "(anonymous namespace)::WaitBySleeping()",
                  titles=["Write of size 1 at 0x* by thread T2",
                          "Previous write of size 1 at 0x* by thread T1",
                          "As if synchronized via sleep", *BOTH_RUNNING],
                  top=("(anonymous namespace)::WaitBySleeping()", "data_race_sleep.cc", 29, 9))
    assert [f.function for f in report.stacks[2].frames[:2]] == [
        "usleep", "(anonymous namespace)::WaitBySleeping()"]


def test_parse_gcc_data_race_as_if_synchronized_via_sleep() -> None:
    assert_report(only_report("gcc_tsan_data_race_sleep.txt"), kind="data-race",
                  headline="data race", tool="gcc-tsan",
                  summary=f"data race {SRC}data_race_sleep.cc:29 in WaitBySleeping",
                  titles=["Write of size 1 at 0x* by thread T2",
                          "Previous write of size 1 at 0x* by thread T1",
                          "As if synchronized via sleep", *BOTH_RUNNING],
                  top=("WaitBySleeping", "data_race_sleep.cc", 29, None))


def test_parse_clang_data_race_in_lambdas_and_templates() -> None:
    report = only_report("tsan_data_race_lambda.txt")
    assert_report(report, kind="data-race", headline="data race", tool="clang-tsan",
                  summary=f"data race {SRC}data_race_lambda.cc:14:51 in "
                          "(anonymous namespace)::Gauge<long>::Set(long)",
                  titles=["Write of size 8 at 0x* by thread T2",
                          "Previous write of size 8 at 0x* by thread T1", *BOTH_RUNNING],
                  top=("(anonymous namespace)::Gauge<long>::Set(long)", "data_race_lambda.cc",
                       14, 51))
    assert report.stacks[0].frames[1].function == (
        "(anonymous namespace)::RunReporters()::$_1::operator()() const")


def test_parse_gcc_data_race_in_lambdas_and_templates() -> None:
    report = only_report("gcc_tsan_data_race_lambda.txt")
    assert_report(report, kind="data-race", headline="data race", tool="gcc-tsan",
                  summary=f"data race {SRC}data_race_lambda.cc:14 in Set",
                  titles=["Write of size 8 at 0x* by thread T2",
                          "Previous write of size 8 at 0x* by thread T1", *BOTH_RUNNING],
                  top=("Set", "data_race_lambda.cc", 14, None))
    assert report.stacks[0].frames[1].function == "operator()"


def test_parse_clang_data_race_on_vptr() -> None:
    assert_report(only_report("tsan_data_race_on_vptr.txt"), kind="data-race-on-vptr",
                  headline="data race on vptr (ctor/dtor vs virtual call)", tool="clang-tsan",
                  summary="data race on vptr (ctor/dtor vs virtual call) "
                          f"{SRC}data_race_on_vptr.cc:13:22 in "
                          "(anonymous namespace)::Handler::~Handler()",
                  titles=["Write of size 8 at 0x* by main thread",
                          "Previous read of size 8 at 0x* by thread T1",
                          "Location is heap block of size 8 at 0x* allocated by main thread",
                          "Thread T1 (tid=*, finished) created by main thread at"],
                  top=("(anonymous namespace)::Handler::~Handler()", "data_race_on_vptr.cc",
                       13, 22))


def test_parse_gcc_data_race_on_vptr() -> None:
    report = only_report("gcc_tsan_data_race_on_vptr.txt")
    assert_report(report, kind="data-race-on-vptr",
                  headline="data race on vptr (ctor/dtor vs virtual call)", tool="gcc-tsan",
                  summary="data race on vptr (ctor/dtor vs virtual call) "
                          f"{SRC}data_race_on_vptr.cc:13 in ~Handler",
                  titles=["Write of size 8 at 0x* by main thread",
                          "Previous read of size 8 at 0x* by thread T1",
                          "Location is heap block of size 8 at 0x* allocated by main thread",
                          "Thread T1 (tid=*, finished) created by main thread at"],
                  top=("~Handler", "data_race_on_vptr.cc", 13, None))
    # GCC shows the deleting destructor twice; the fingerprint collapses the repeat.
    assert [f.function for f in report.stacks[0].frames[:3]] == [
        "~Handler", "~CountingHandler", "~CountingHandler"]


def test_parse_clang_data_race_without_symbols() -> None:
    report = only_report("tsan_data_race_stripped.txt")
    assert_report(report, kind="data-race", headline="data race", tool="clang-tsan",
                  summary="data race (/tmp/rl-samples/data_race_stripped+0x*) (BuildId: *)",
                  titles=["Write of size 4 at 0x* by thread T2",
                          "Previous write of size 4 at 0x* by thread T1", *THREADS],
                  top=("<null>", None, None, None))
    assert report.top_frame.module == "data_race_stripped"
    assert report.top_frame.offset == 0xd467f
    # The runtime's own exported symbols are still named.
    assert report.stacks[2].frames[0].function == "pthread_create"


def test_parse_darwin_frames_with_null_lines_and_architecture_suffixes() -> None:
    # macOS prints a function without a known file as "f <null>:NNNN" (a bogus line) and
    # each module with its architecture ("libsystem_pthread.dylib:arm64e+0x...").
    report = only_report("tsan_data_race_darwin.txt")
    darwin_src = "/work/wt-parse/scripts/tests/data/src/"
    assert (report.kind, report.tool, report.pid) == ("data-race", "clang-tsan", 31806)
    assert report.top_frame == Frame("(anonymous namespace)::WriterBeta()",
                                     darwin_src + "data_race.cc", 17, 55, "data_race")
    creation = report.stacks[2].frames
    assert creation[0] == Frame("pthread_create", None, None, None, "data_race")
    assert creation[1].function.startswith("std::thread::_M_start_thread(")
    assert (creation[1].file, creation[1].line, creation[1].module) == (
        None, None, "libc++.1.dylib")
    assert creation[2].module == "libsystem_pthread.dylib"
    thread_start = report.stacks[0].frames[7]
    assert thread_start == Frame("<null>", None, None, None, "libc++.1.dylib")
    assert thread_start.offset == 0xd44a2
    assert not any(":" in (f.module or "") for s in report.stacks for f in s.frames)
    assert report.fingerprint == only_report("tsan_data_race.txt").fingerprint


def test_parse_gcc_data_race_without_symbols() -> None:
    report = only_report("gcc_tsan_data_race_stripped.txt")
    assert_report(report, kind="data-race", headline="data race", tool="gcc-tsan",
                  summary="data race (/tmp/rl-samples/data_race_gcc_stripped+0x*)",
                  titles=["Read of size 4 at 0x* by thread T2",
                          "Previous write of size 4 at 0x* by thread T1", *THREADS],
                  top=("<null>", None, None, None))
    assert report.top_frame.offset == 0x12b9


def test_parse_clang_data_race_with_symbolize_0() -> None:
    report = only_report("tsan_data_race_symbolize0.txt")
    assert_report(report, kind="data-race", headline="data race", tool="clang-tsan",
                  summary="data race (/tmp/rl-samples/data_race+0x*) (BuildId: *)",
                  titles=["Write of size 4 at 0x* by thread T2",
                          "Previous write of size 4 at 0x* by thread T1", *THREADS],
                  top=("<null>", None, None, None))
    assert all(f.function == "<null>" for s in report.stacks for f in s.frames)


def test_parse_gcc_data_race_with_symbolize_0() -> None:
    report = only_report("gcc_tsan_data_race_symbolize0.txt")
    assert_report(report, kind="data-race", headline="data race", tool="gcc-tsan",
                  summary="data race (/tmp/rl-samples/data_race_gcc+0x*)",
                  titles=["Read of size 4 at 0x* by thread T2",
                          "Previous write of size 4 at 0x* by thread T1", *THREADS],
                  top=("<null>", None, None, None))


def test_parse_unsymbolized_fingerprint_follows_offsets_not_addresses() -> None:
    stripped = only_report("tsan_data_race_stripped.txt")
    # One binary, two runs (other pid, other addresses, same offsets): one fingerprint.
    text = data_text("tsan_data_race_stripped.txt").replace("pid=31974", "pid=1").replace(
        "0x55d535c9d6a8", "0x7f0000001000")
    again = parse.parse_text(text, "again").reports[0]
    assert again.fingerprint == stripped.fingerprint
    # Another function at another offset: another fingerprint.
    other = parse.parse_text(text.replace("+0xd467f)", "+0xd4000)"), "other").reports[0]
    assert other.fingerprint != stripped.fingerprint


# --- heap-use-after-free, thread leak ------------------------------------------------------

def test_parse_clang_heap_use_after_free() -> None:
    report = only_report("tsan_heap_use_after_free.txt")
    assert_report(report, kind="heap-use-after-free", headline="heap-use-after-free",
                  tool="clang-tsan",
                  summary=f"heap-use-after-free {SRC}heap_use_after_free.cc:21:10 in "
                          "(anonymous namespace)::ReadSession()",
                  titles=["Read of size 4 at 0x* by thread T1",
                          "Previous write of size 8 at 0x* by main thread",
                          "Thread T1 (tid=*, running) created by main thread at"],
                  top=("(anonymous namespace)::ReadSession()", "heap_use_after_free.cc", 21, 10))
    assert report.stacks[1].frames[0].function == "operator delete(void*)"


def test_parse_gcc_heap_use_after_free() -> None:
    assert_report(only_report("gcc_tsan_heap_use_after_free.txt"), kind="heap-use-after-free",
                  headline="heap-use-after-free", tool="gcc-tsan",
                  summary=f"heap-use-after-free {SRC}heap_use_after_free.cc:21 in ReadSession",
                  titles=["Read of size 4 at 0x* by thread T1",
                          "Previous write of size 8 at 0x* by main thread",
                          "Thread T1 (tid=*, running) created by main thread at"],
                  top=("ReadSession", "heap_use_after_free.cc", 21, None))


def test_parse_clang_thread_leak() -> None:
    report = only_report("tsan_thread_leak.txt")
    assert_report(report, kind="thread-leak", headline="thread leak", tool="clang-tsan",
                  summary="thread leak (/tmp/rl-samples/thread_leak+0x*) (BuildId: *) in "
                          "__interceptor_pthread_create",
                  titles=["Thread T1 (tid=*, finished) created by main thread at"],
                  top=("(anonymous namespace)::StartWorkerAndForgetIt()", "thread_leak.cc",
                       23, 3))
    assert report.stacks[0].frames[0].function == "pthread_create"  # skipped as runtime


def test_parse_gcc_thread_leak() -> None:
    report = only_report("gcc_tsan_thread_leak.txt")
    assert_report(report, kind="thread-leak", headline="thread leak", tool="gcc-tsan",
                  summary=f"thread leak {SRC}thread_leak.cc:23 in StartWorkerAndForgetIt",
                  titles=["Thread T1 (tid=*, finished) created by main thread at"],
                  top=("StartWorkerAndForgetIt", "thread_leak.cc", 23, None))
    assert report.stacks[0].frames[0].module == "libtsan.so.2"


# --- mutexes -------------------------------------------------------------------------------

LOCK_EDGES = ["Mutex M1 acquired here while holding mutex M0 in thread T1",
              "Mutex M0 acquired here while holding mutex M1 in thread T2"]
LOCK_THREADS = ["Thread T1 (tid=*, finished) created by main thread at",
                "Thread T2 (tid=*, running) created by main thread at"]
LOCK_SUMMARY = ("lock-order-inversion (potential deadlock) (/tmp/rl-samples/lock_order+0x*) "
                "(BuildId: *) in pthread_mutex_lock")
GCC_LOCK_SUMMARY = ("lock-order-inversion (potential deadlock) /usr/include/x86_64-linux-gnu/"
                    "c++/12/bits/gthr-default.h:749 in __gthread_mutex_lock")


def test_parse_clang_lock_order_inversion_with_second_deadlock_stack() -> None:
    report = only_report("tsan_lock_order_inversion.txt")
    assert_report(report, kind="lock-order-inversion",
                  headline="lock-order-inversion (potential deadlock)", tool="clang-tsan",
                  summary=LOCK_SUMMARY,
                  titles=[LOCK_EDGES[0], "Mutex M0 previously acquired by the same thread here",
                          LOCK_EDGES[1], "Mutex M1 previously acquired by the same thread here",
                          *LOCK_THREADS],
                  top=("(anonymous namespace)::LockFirstThenSecond()", "lock_order.cc", 13, 31))
    assert [f.function for f in report.stacks[0].frames[:4]] == [
        "pthread_mutex_lock", "__gthread_mutex_lock(pthread_mutex_t*)", "std::mutex::lock()",
        "std::lock_guard<std::mutex>::lock_guard(std::mutex&)"]


def test_parse_clang_lock_order_inversion_without_second_deadlock_stack() -> None:
    assert_report(only_report("tsan_lock_order_inversion_one_stack.txt"),
                  kind="lock-order-inversion",
                  headline="lock-order-inversion (potential deadlock)", tool="clang-tsan",
                  summary=LOCK_SUMMARY, titles=[*LOCK_EDGES, *LOCK_THREADS],
                  top=("(anonymous namespace)::LockFirstThenSecond()", "lock_order.cc", 13, 31))


def test_parse_gcc_lock_order_inversion_with_second_deadlock_stack() -> None:
    assert_report(only_report("gcc_tsan_lock_order_inversion.txt"),
                  kind="lock-order-inversion",
                  headline="lock-order-inversion (potential deadlock)", tool="gcc-tsan",
                  summary=GCC_LOCK_SUMMARY,
                  titles=["Mutex M10 acquired here while holding mutex M9 in thread T1",
                          "Mutex M9 previously acquired by the same thread here",
                          "Mutex M9 acquired here while holding mutex M10 in thread T2",
                          "Mutex M10 previously acquired by the same thread here",
                          *LOCK_THREADS],
                  top=("LockFirstThenSecond", "lock_order.cc", 13, None))


def test_parse_gcc_lock_order_inversion_without_second_deadlock_stack() -> None:
    assert_report(only_report("gcc_tsan_lock_order_inversion_one_stack.txt"),
                  kind="lock-order-inversion",
                  headline="lock-order-inversion (potential deadlock)", tool="gcc-tsan",
                  summary=GCC_LOCK_SUMMARY,
                  titles=["Mutex M10 acquired here while holding mutex M9 in thread T1",
                          "Mutex M9 acquired here while holding mutex M10 in thread T2",
                          *LOCK_THREADS],
                  top=("LockFirstThenSecond", "lock_order.cc", 13, None))


def test_parse_lock_order_fingerprint_ignores_second_deadlock_stack_and_edge_order() -> None:
    report = only_report("tsan_lock_order_inversion.txt")
    swapped = [report.stacks[2], report.stacks[3], report.stacks[0], report.stacks[1]]
    assert frame_rules.fingerprint(report.kind, swapped) == report.fingerprint
    assert len({*fingerprints("tsan_lock_order_inversion.txt"),
                *fingerprints("tsan_lock_order_inversion_one_stack.txt"),
                *fingerprints("gcc_tsan_lock_order_inversion.txt"),
                *fingerprints("gcc_tsan_lock_order_inversion_one_stack.txt")}) == 1


def test_parse_clang_destroy_of_a_locked_mutex() -> None:
    report = only_report("tsan_destroy_of_a_locked_mutex.txt")
    assert_report(report, kind="destroy-of-a-locked-mutex", headline="destroy of a locked mutex",
                  tool="clang-tsan",
                  summary="destroy of a locked mutex (/tmp/rl-samples/destroy_of_a_locked_mutex"
                          "+0x*) (BuildId: *) in pthread_mutex_destroy",
                  titles=["destroy of a locked mutex", "and", "Mutex M0 (0x*) created at"],
                  top=("(anonymous namespace)::ShutDownRegistry()",
                       "destroy_of_a_locked_mutex.cc", 11, 3))
    assert report.stacks[1].frames[1].function == "(anonymous namespace)::LockRegistry()"


def test_parse_gcc_destroy_of_a_locked_mutex() -> None:
    assert_report(only_report("gcc_tsan_destroy_of_a_locked_mutex.txt"),
                  kind="destroy-of-a-locked-mutex", headline="destroy of a locked mutex",
                  tool="gcc-tsan",
                  summary=f"destroy of a locked mutex {SRC}destroy_of_a_locked_mutex.cc:11 in "
                          "ShutDownRegistry",
                  titles=["destroy of a locked mutex", "and", "Mutex M9 (0x*) created at"],
                  top=("ShutDownRegistry", "destroy_of_a_locked_mutex.cc", 11, None))


def test_parse_clang_double_lock_of_a_mutex() -> None:
    assert_report(only_report("tsan_double_lock_of_a_mutex.txt"), kind="double-lock-of-a-mutex",
                  headline="double lock of a mutex", tool="clang-tsan",
                  summary="double lock of a mutex (/tmp/rl-samples/double_lock_of_a_mutex+0x*) "
                          "(BuildId: *) in pthread_mutex_lock",
                  titles=["double lock of a mutex", "Mutex M0 (0x*) created at"],
                  top=("(anonymous namespace)::ResetAndLock()", "double_lock_of_a_mutex.cc",
                       17, 3))


def test_parse_gcc_double_lock_of_a_mutex() -> None:
    assert_report(only_report("gcc_tsan_double_lock_of_a_mutex.txt"),
                  kind="double-lock-of-a-mutex", headline="double lock of a mutex",
                  tool="gcc-tsan",
                  summary=f"double lock of a mutex {SRC}double_lock_of_a_mutex.cc:17 in "
                          "ResetAndLock",
                  titles=["double lock of a mutex", "Mutex M9 (0x*) created at"],
                  top=("ResetAndLock", "double_lock_of_a_mutex.cc", 17, None))


def test_parse_clang_unlock_of_an_unlocked_mutex() -> None:
    report = only_report("tsan_unlock_of_an_unlocked_mutex.txt")
    assert_report(report, kind="unlock-of-an-unlocked-mutex",
                  headline="unlock of an unlocked mutex (or by a wrong thread)", tool="clang-tsan",
                  summary="unlock of an unlocked mutex (or by a wrong thread) (/tmp/rl-samples/"
                          "unlock_of_an_unlocked_mutex+0x*) (BuildId: *) in "
                          "__interceptor_pthread_mutex_unlock",
                  titles=["unlock of an unlocked mutex", "Mutex M0 (0x*) created at"],
                  top=("(anonymous namespace)::ReleaseAgain()", "unlock_of_an_unlocked_mutex.cc",
                       17, 13))
    # std::mutex::unlock() in the libstdc++ header is skipped; the user's call is the top.
    assert report.stacks[0].frames[2].function == "std::mutex::unlock()"


def test_parse_gcc_unlock_of_an_unlocked_mutex() -> None:
    assert_report(only_report("gcc_tsan_unlock_of_an_unlocked_mutex.txt"),
                  kind="unlock-of-an-unlocked-mutex",
                  headline="unlock of an unlocked mutex (or by a wrong thread)", tool="gcc-tsan",
                  summary="unlock of an unlocked mutex (or by a wrong thread) /usr/include/"
                          "x86_64-linux-gnu/c++/12/bits/gthr-default.h:779 in "
                          "__gthread_mutex_unlock",
                  titles=["unlock of an unlocked mutex", "Mutex M9 (0x*) created at"],
                  top=("ReleaseAgain", "unlock_of_an_unlocked_mutex.cc", 17, None))


def test_parse_clang_read_lock_of_a_write_locked_mutex() -> None:
    assert_report(only_report("tsan_read_lock_of_a_write_locked_mutex.txt"),
                  kind="read-lock-of-a-write-locked-mutex",
                  headline="read lock of a write locked mutex", tool="clang-tsan",
                  summary="read lock of a write locked mutex (/tmp/rl-samples/read_lock_of_a_"
                          "write_locked_mutex+0x*) (BuildId: *) in pthread_rwlock_rdlock",
                  titles=["read lock of a write locked mutex", "Mutex M0 (0x*) created at"],
                  top=("(anonymous namespace)::LookUpDuringRebuild()",
                       "read_lock_of_a_write_locked_mutex.cc", 14, 3))


def test_parse_gcc_read_lock_of_a_write_locked_mutex() -> None:
    assert_report(only_report("gcc_tsan_read_lock_of_a_write_locked_mutex.txt"),
                  kind="read-lock-of-a-write-locked-mutex",
                  headline="read lock of a write locked mutex", tool="gcc-tsan",
                  summary=f"read lock of a write locked mutex {SRC}read_lock_of_a_write_locked_"
                          "mutex.cc:14 in LookUpDuringRebuild",
                  titles=["read lock of a write locked mutex", "Mutex M9 (0x*) created at"],
                  top=("LookUpDuringRebuild", "read_lock_of_a_write_locked_mutex.cc", 14, None))


def test_parse_clang_read_unlock_of_a_write_locked_mutex() -> None:
    report = only_report("tsan_read_unlock_of_a_write_locked_mutex.txt")
    assert_report(report, kind="read-unlock-of-a-write-locked-mutex",
                  headline="read unlock of a write locked mutex", tool="clang-tsan",
                  summary="read unlock of a write locked mutex (/tmp/rl-samples/read_unlock_of_a_"
                          "write_locked_mutex+0x*) (BuildId: *) in __tsan_mutex_pre_unlock",
                  titles=["read unlock of a write locked mutex", "Mutex M0 (0x*) created at"],
                  top=("(anonymous namespace)::SpinRWLock::ReaderUnlock()",
                       "read_unlock_of_a_write_locked_mutex.cc", 22, 5))
    # A frame with a file but no line ("_GLOBAL__sub_I_x.cc /src/x.cc (mod+0x1)").
    init = report.stacks[1].frames[3]
    assert init.function == "_GLOBAL__sub_I_read_unlock_of_a_write_locked_mutex.cc"
    assert (init.file, init.line) == (SRC + "read_unlock_of_a_write_locked_mutex.cc", None)


def test_parse_gcc_read_unlock_of_a_write_locked_mutex() -> None:
    assert_report(only_report("gcc_tsan_read_unlock_of_a_write_locked_mutex.txt"),
                  kind="read-unlock-of-a-write-locked-mutex",
                  headline="read unlock of a write locked mutex", tool="gcc-tsan",
                  summary=f"read unlock of a write locked mutex {SRC}read_unlock_of_a_write_"
                          "locked_mutex.cc:22 in ReaderUnlock",
                  titles=["read unlock of a write locked mutex", "Mutex M9 (0x*) created at"],
                  top=("ReaderUnlock", "read_unlock_of_a_write_locked_mutex.cc", 22, None))


def test_parse_clang_use_of_an_invalid_mutex_keeps_the_stack_tsan_could_not_restore() -> None:
    report = only_report("tsan_use_of_an_invalid_mutex.txt")
    assert_report(report, kind="use-of-an-invalid-mutex",
                  headline="use of an invalid mutex (e.g. uninitialized or destroyed)",
                  tool="clang-tsan",
                  summary="use of an invalid mutex (e.g. uninitialized or destroyed) "
                          "(/tmp/rl-samples/use_of_an_invalid_mutex+0x*) (BuildId: *) in "
                          "pthread_mutex_lock",
                  titles=["use of an invalid mutex", "Mutex M0 (0x*) created at"],
                  top=("(anonymous namespace)::UseClosedPool()", "use_of_an_invalid_mutex.cc",
                       14, 10))
    assert report.stacks[1].frames == []  # "[failed to restore the stack]"


def test_parse_gcc_use_of_an_invalid_mutex() -> None:
    assert_report(only_report("gcc_tsan_use_of_an_invalid_mutex.txt"),
                  kind="use-of-an-invalid-mutex",
                  headline="use of an invalid mutex (e.g. uninitialized or destroyed)",
                  tool="gcc-tsan",
                  summary="use of an invalid mutex (e.g. uninitialized or destroyed) "
                          f"{SRC}use_of_an_invalid_mutex.cc:14 in UseClosedPool",
                  titles=["use of an invalid mutex", "Mutex M0 (0x*) created at"],
                  top=("UseClosedPool", "use_of_an_invalid_mutex.cc", 14, None))


# --- signals, external objects, deadly signals ---------------------------------------------

def test_parse_clang_signal_unsafe_call_inside_of_a_signal() -> None:
    malloc, free = reports_of("tsan_signal_unsafe_call_inside_of_a_signal.txt")
    assert_report(malloc, kind="signal-unsafe-call-inside-of-a-signal",
                  headline="signal-unsafe call inside of a signal", tool="clang-tsan",
                  summary="signal-unsafe call inside of a signal (/tmp/rl-samples/signal_unsafe_"
                          "call_inside_of_a_signal+0x*) (BuildId: *) in malloc",
                  titles=["signal-unsafe call inside of a signal"],
                  top=("(anonymous namespace)::OnReload(int)",
                       "signal_unsafe_call_inside_of_a_signal.cc", 14, 37))
    # "__tsan::CallUserSignalHandler(...) tsan_interceptors_posix.cpp.o (mod+0x1)": an
    # object file for a location, and a runtime frame.
    handler = malloc.stacks[0].frames[2]
    assert handler.file == "tsan_interceptors_posix.cpp.o" and handler.line is None
    assert frame_rules.is_runtime_frame(handler)
    assert free.stacks[0].frames[0].function == "free"
    assert free.line == 11 and malloc.fingerprint == free.fingerprint  # one handler's calls


def test_parse_gcc_signal_unsafe_call_inside_of_a_signal() -> None:
    malloc, free = reports_of("gcc_tsan_signal_unsafe_call_inside_of_a_signal.txt")
    assert_report(malloc, kind="signal-unsafe-call-inside-of-a-signal",
                  headline="signal-unsafe call inside of a signal", tool="gcc-tsan",
                  summary="signal-unsafe call inside of a signal "
                          f"{SRC}signal_unsafe_call_inside_of_a_signal.cc:14 in OnReload",
                  titles=["signal-unsafe call inside of a signal"],
                  top=("OnReload", "signal_unsafe_call_inside_of_a_signal.cc", 14, None))
    assert free.top_frame.line == 15


def test_parse_clang_signal_handler_spoils_errno() -> None:
    assert_report(only_report("tsan_signal_handler_spoils_errno.txt"),
                  kind="signal-handler-spoils-errno", headline="signal handler spoils errno",
                  tool="clang-tsan",
                  summary=f"signal handler spoils errno {SRC}signal_handler_spoils_errno.cc:15 "
                          "in (anonymous namespace)::OnUsr1(int)",
                  titles=["signal handler spoils errno"],
                  top=("(anonymous namespace)::OnUsr1(int)", "signal_handler_spoils_errno.cc",
                       15, None))


def test_parse_gcc_signal_handler_spoils_errno_is_gcc_by_its_columnless_lines() -> None:
    # No libtsan frame in this report: no column anywhere (and no BuildId) says GCC.
    report = only_report("gcc_tsan_signal_handler_spoils_errno.txt")
    assert not any(f.module and "libtsan" in f.module for f in report.stacks[0].frames)
    assert_report(report, kind="signal-handler-spoils-errno",
                  headline="signal handler spoils errno", tool="gcc-tsan",
                  summary=f"signal handler spoils errno {SRC}signal_handler_spoils_errno.cc:15 "
                          "in OnUsr1",
                  titles=["signal handler spoils errno"],
                  top=("OnUsr1", "signal_handler_spoils_errno.cc", 15, None))


def test_parse_clang_race_on_external_object() -> None:
    # The headline names the object type the program registered ("Document"); the kind
    # stays race-on-external-object whatever the type (docs/reference.md).
    report = only_report("tsan_race_on_external_object.txt")
    assert_report(report, kind="race-on-external-object", headline="race on Document",
                  tool="clang-tsan",
                  summary=f"race on Document {SRC}race_on_external_object.cc:16:5 in "
                          "(anonymous namespace)::Document::Append(int)",
                  titles=["Modifying access of Document at 0x* by thread T2",
                          "Previous modifying access of Document at 0x* by thread T1", *THREADS],
                  top=("(anonymous namespace)::Document::Append(int)",
                       "race_on_external_object.cc", 16, 5))


def test_parse_gcc_race_on_external_object() -> None:
    assert_report(only_report("gcc_tsan_race_on_external_object.txt"),
                  kind="race-on-external-object",
                  headline="race on Document", tool="gcc-tsan",
                  summary=f"race on Document {SRC}race_on_external_object.cc:16 in Append",
                  titles=["Modifying access of Document at 0x* by thread T2",
                          "Previous modifying access of Document at 0x* by thread T1", *THREADS],
                  top=("Append", "race_on_external_object.cc", 16, None))


def test_parse_clang_deadly_signal() -> None:
    report = only_report("tsan_deadly_signal.txt")
    assert_report(report, kind="deadly-signal",
                  headline="SEGV on unknown address 0x000000000000 (pc 0x55e1e456a38a "
                           "bp 0x000000000001 sp 0x7ffd1bbc93a0 T3021)",
                  tool="clang-tsan",
                  summary=f"SEGV {SRC}segv.cc:7:67 in (anonymous namespace)::WriteThrough(int*)",
                  titles=["SEGV on unknown address 0x*"],
                  top=("(anonymous namespace)::WriteThrough(int*)", "segv.cc", 7, 67))
    assert len(report.stacks[0].frames) == 5 and report.pid == 3021


def test_parse_gcc_deadly_signal() -> None:
    report = only_report("gcc_tsan_deadly_signal.txt")
    assert_report(report, kind="deadly-signal",
                  headline="SEGV on unknown address 0x000000000000 (pc 0x55b7222951aa "
                           "bp 0x000000000001 sp 0x7ffe4f840ac0 T31960)",
                  tool="gcc-tsan", summary=f"SEGV {SRC}segv.cc:7 in WriteThrough",
                  titles=["SEGV on unknown address 0x*"],
                  top=("WriteThrough", "segv.cc", 7, None))


# --- Go's race detector --------------------------------------------------------------------

def test_parse_go_race_on_a_counter() -> None:
    report = only_report("go_race_counter.txt")
    assert_report(report, kind="data-race", headline="DATA RACE", tool="go-race", summary=None,
                  titles=["Read at 0x* by goroutine 7", "Previous write at 0x* by goroutine 8",
                          "Goroutine 7 (running) created at",
                          "Goroutine 8 (finished) created at"],
                  top=("main.(*Stats).Hit()", "go_race_counter.go", 18, None))
    assert report.stacks[0].frames == [
        Frame("main.(*Stats).Hit()", SRC + "go_race_counter.go", 18),
        Frame("main.main.func1()", SRC + "go_race_counter.go", 28)]
    assert report.pid is None


def test_parse_go_race_on_a_map_skips_runtime_frames() -> None:
    report = only_report("go_race_map.txt")
    assert_report(report, kind="data-race", headline="DATA RACE", tool="go-race", summary=None,
                  titles=["Write at 0x* by goroutine 7", "Previous read at 0x* by main goroutine",
                          "Goroutine 7 (running) created at"],
                  top=("main.Remember()", "go_race_map.go", 12, None))
    assert report.stacks[0].frames[0] == Frame(
        "runtime.mapassign_faststr()", "/usr/lib/go-1.19/src/runtime/map_faststr.go", 203)
    assert frame_rules.is_runtime_frame(report.stacks[0].frames[0])


def test_parse_go_test_race_between_test_output() -> None:
    result = parse.parse_text(data_text("go_race_slice_test.txt"), "go test")
    assert result.errors == []
    [report] = result.reports
    assert_report(report, kind="data-race", headline="DATA RACE", tool="go-race", summary=None,
                  titles=["Write at 0x* by goroutine 9", "Previous read at 0x* by goroutine 8",
                          "Goroutine 9 (running) created at",
                          "Goroutine 8 (finished) created at"],
                  top=("command-line-arguments.(*Log).Add()", "go_race_slice_test.go", 17, None))
    assert report.line == 3
    creation = report.stacks[2].frames
    assert [frame_rules.is_runtime_frame(f) for f in creation] == [False, True, True]  # testing.*


def test_parse_go_fingerprint_ignores_closure_numbers_and_access_order() -> None:
    report = only_report("go_race_counter.txt")
    text = data_text("go_race_counter.txt")
    renumbered = text.replace("main.main.func1()", "main.main.func3()").replace(":18 ", ":25 ")
    assert parse.parse_text(renumbered, "x").reports[0].fingerprint == report.fingerprint
    swapped = text.replace("Read at", "Xread at").replace("Previous write at", "Read at")
    swapped = swapped.replace("Xread at", "Previous write at")
    assert parse.parse_text(swapped, "x").reports[0].fingerprint == report.fingerprint
    other = text.replace("main.(*Stats).Hit()", "main.(*Stats).Miss()")
    assert parse.parse_text(other, "x").reports[0].fingerprint != report.fingerprint


# --- One race, two compilers ---------------------------------------------------------------

@pytest.mark.parametrize("kind", [
    "data_race", "data_race_heap", "data_race_stack", "data_race_sleep", "data_race_lambda",
    "data_race_on_vptr", "heap_use_after_free", "thread_leak", "lock_order_inversion",
    "lock_order_inversion_one_stack", "destroy_of_a_locked_mutex", "double_lock_of_a_mutex",
    "unlock_of_an_unlocked_mutex", "read_lock_of_a_write_locked_mutex",
    "read_unlock_of_a_write_locked_mutex", "use_of_an_invalid_mutex",
    "signal_unsafe_call_inside_of_a_signal", "signal_handler_spoils_errno",
    "race_on_external_object", "deadly_signal"])
def test_parse_clang_and_gcc_give_one_fingerprint_for_one_bug(kind: str) -> None:
    clang = reports_of(f"tsan_{kind}.txt")
    gcc = reports_of(f"gcc_tsan_{kind}.txt")
    assert [r.kind for r in clang] == [r.kind for r in gcc]
    assert [r.tool for r in clang + gcc] == ["clang-tsan"] * len(clang) + ["gcc-tsan"] * len(gcc)
    assert [r.fingerprint for r in clang] == [r.fingerprint for r in gcc]


def test_parse_different_bugs_have_different_fingerprints() -> None:
    names = [p.name for p in sorted(DATA.glob("tsan_*.txt"))
             if not any(w in p.name for w in ("truncated", "beta_first", "rebuilt", "_ci",
                                              "gitlab", "syslog", "one_stack", "interleaved",
                                              "symbolize0", "pasted", "glued", "darwin"))]
    seen: dict[str, str] = {}
    for name in names:
        for report in reports_of(name):
            if report.kind == "signal-unsafe-call-inside-of-a-signal":
                continue  # two reports of one handler: one fingerprint by design
            assert seen.setdefault(report.fingerprint, name) == name, (name, seen)


# --- Files, JSON, slugs --------------------------------------------------------------------

def test_parse_finds_every_report_in_a_concatenated_log() -> None:
    names = ["tsan_data_race.txt", "tsan_thread_leak.txt", "tsan_lock_order_inversion.txt",
             "tsan_deadly_signal.txt", "go_race_map.txt"]
    text = "program output\n" + "\n".join(data_text(n) for n in names)
    result = parse.parse_text(text, "all.txt")
    assert result.errors == []
    assert [r.kind for r in result.reports] == ["data-race", "thread-leak",
                                                "lock-order-inversion", "deadly-signal",
                                                "data-race"]
    assert [r.tool for r in result.reports][-1] == "go-race"
    assert len({r.fingerprint for r in result.reports}) == 5


def test_parse_binary_input_gives_an_error_not_an_exception(tmp_path: Path) -> None:
    blob = tmp_path / "core"
    blob.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 8)
    result, readable = parse.parse_file(blob)
    assert readable
    assert result.reports == []
    assert len(result.errors) == 1 and "binary" in result.errors[0].message
    assert result.errors[0].line == 1


def test_parse_unreadable_file_gives_an_error(tmp_path: Path, monkeypatch) -> None:
    locked = tmp_path / "locked.txt"
    locked.write_text("x")

    def refuse(self, *args, **kwargs):  # root reads any file, so the refusal is simulated
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", refuse)
    result, readable = parse.parse_file(locked)
    assert not readable
    assert result.errors[0].message == "cannot read: Permission denied"


def test_parse_directory_and_missing_file_give_errors(tmp_path: Path) -> None:
    result, readable = parse.parse_file(tmp_path)
    assert not readable and result.errors[0].message == "is a directory"
    result, readable = parse.parse_file(tmp_path / "nope.txt")
    assert not readable and result.errors[0].message == "no such file"


def test_parse_json_shape_is_the_reports_schema() -> None:
    result = parse.parse_text(data_text("tsan_data_race_stripped.txt"), "x.txt")
    data = json.loads(json.dumps(result.to_json()))
    assert data["schema"] == "racelab.reports/1"
    assert data["errors"] == []
    report = data["reports"][0]
    assert set(report) == {"kind", "headline", "tool", "summary", "stacks", "top_frame",
                           "fingerprint", "source"}
    assert set(report["stacks"][0]) == {"title", "frames"}
    assert set(report["top_frame"]) == {"function", "file", "line", "column", "module"}
    assert report["top_frame"] == {"function": "<null>", "file": None, "line": None,
                                   "column": None, "module": "data_race_stripped"}
    assert report["source"] == "x.txt"


@pytest.mark.parametrize("headline, slug", [
    ("data race", "data-race"),
    ("lock-order-inversion (potential deadlock)", "lock-order-inversion"),
    ("data race on vptr (ctor/dtor vs virtual call)", "data-race-on-vptr"),
    ("unlock of an unlocked mutex (or by a wrong thread)", "unlock-of-an-unlocked-mutex"),
    ("use of an invalid mutex (e.g. uninitialized or destroyed)", "use-of-an-invalid-mutex"),
    ("heap-use-after-free (virtual call vs free)", "heap-use-after-free"),
    ("signal-unsafe call inside of a signal", "signal-unsafe-call-inside-of-a-signal"),
    ("race on external object", "race-on-external-object"),
    ("DATA RACE", "data-race"),
    ("  Thread Leak!! ", "thread-leak"),
    ("(", "unknown"),
])
def test_kind_slug_follows_the_design_rule(headline: str, slug: str) -> None:
    assert parse.kind_slug(headline) == slug


# --- Names and the ignore list -------------------------------------------------------------

@pytest.mark.parametrize("raw, normal", [
    ("(anonymous namespace)::RunInTurn(void (*)(), int)", "RunInTurn"),
    ("void std::__invoke_impl<void, void (*)()>(std::__invoke_other, void (*&&)())",
     "std::__invoke_impl"),
    ("std::vector<int, std::allocator<int> >::operator[](unsigned long) const",
     "std::vector::operator[]"),
    ("ns::Widget::operator<<(int)", "ns::Widget::operator<<"),
    ("operator new(unsigned long)", "operator new"),
    ("HandleHit+0x1a", "HandleHit"),
    ("racelab::(anonymous namespace)::HandleHit(racelab::http::Request const&)",
     "racelab::HandleHit"),
    # lambdas, as clang and GCC name them
    ("Foo::Bar()::$_0::operator()() const", "Foo::Bar::lambda::operator()"),
    ("main::'lambda'(int)::operator()(int) const", "main::lambda::operator()"),
    ("main::'lambda0'()::operator()() const", "main::lambda::operator()"),
    ("main::{lambda(int)#1}::operator()(int) const", "main::lambda::operator()"),
    ("void std::__invoke_impl<void, main()::<lambda()> >()", "std::__invoke_impl"),
    ("Outer::{unnamed type#1}::Get() const", "Outer::unnamed::Get"),
    # clones and ABI tags
    ("Parse(char const*) [clone .constprop.0]", "Parse"),
    ("Handle.cold", "Handle"),
    ("Encode.isra.0", "Encode"),
    ("Name[abi:cxx11]() const", "Name"),
    ("std::__cxx11::basic_string<char>::append[abi:cxx11](char const*)",
     "std::__cxx11::basic_string::append"),
    # Go keeps package and receiver; closures lose their numbers
    ("main.(*Stats).Hit()", "main.(*Stats).Hit"),
    ("main.main.func1()", "main.main.func"),
    ("example.com/app/store.(*Map[...]).Get()", "example.com/app/store.(*Map).Get"),
    ("main.main.gowrap2()", "main.main.gowrap"),
])
def test_normalize_function_strips_noise(raw: str, normal: str) -> None:
    assert frame_rules.normalize_function(raw) == normal


@pytest.mark.parametrize("frame, runtime", [
    (Frame("__tsan_write4", None, None, None, "server"), True),
    (Frame("__interceptor_pthread_mutex_unlock", None, None, None, "server"), True),
    (Frame("pthread_create", None, None, None, "server"), True),
    (Frame("<null>", None, None, None, "libstdc++.so.6"), True),
    (Frame("<null>", None, None, None, None), True),
    (Frame("<null>", None, None, None, "server", 0x1a), False),  # the program, unsymbolized
    (Frame("__libc_start_call_main", "csu/../sysdeps/nptl/x.h", 58, 16, "libc.so.6"), True),
    (Frame("__cxx_global_var_init", "/src/x.cc", 3, 1, "server"), True),
    # std:: internals by name, std:: headers by file, std:: with no source of the user's
    (Frame("std::thread::_State_impl<X>::_M_run()", None, None, None, "server"), True),
    (Frame("std::_Function_handler<void ()>::_M_invoke(std::_Any_data const&)",
           "/src/x.cc", 1, 1, "server"), True),
    (Frame("std::function<void ()>::operator()() const", None, None, None, "server"), True),
    (Frame("std::mutex::lock()", "/usr/include/c++/12/bits/std_mutex.h", 100, 17, "s"), True),
    (Frame("__gthread_mutex_lock", "/usr/include/x86_64-linux-gnu/c++/12/bits/gthr-default.h",
           749, None, "s"), True),
    (Frame("_M_run", "/usr/include/c++/12/bits/std_thread.h", 210, None, "s"), True),
    (Frame("std::vector<int>::push_back(int const&)", None, None, None, "server"), True),
    (Frame("std::hash<Key>::operator()(Key const&) const", "/src/key.h", 9, 5, "server"), False),
    (Frame("HandleHit()", "/src/counter.cc", 18, 3, "counter_bad"), False),
    (Frame("main", "/src/main.cc", 3, 1, "counter_bad"), False),
    (Frame("runtime.mapassign_faststr()", "/usr/lib/go/src/runtime/map_faststr.go", 203), True),
    (Frame("sync.(*WaitGroup).Add()", "/usr/lib/go/src/sync/waitgroup.go", 80), True),
    (Frame("testing.tRunner()", "/usr/lib/go/src/testing/testing.go", 1446), True),
    (Frame("main.main.func1()", "/src/x.go", 12), False),
    # Darwin: the system libraries, the dynamic TSan runtime and the loader
    (Frame("_pthread_start", None, None, None, "libsystem_pthread.dylib"), True),
    (Frame("<null>", None, None, None, "libsystem_pthread.dylib", 0x6f94), True),
    (Frame("__tsan::MemoryAccess(__tsan::ThreadState*)", None, None, None,
           "libclang_rt.tsan_osx_dynamic.dylib"), True),
    (Frame("start", None, None, None, "dyld"), True),
    (Frame("<null>", None, None, None, "a.out", 0x3f54), False),
])
def test_runtime_frames_are_recognised(frame: Frame, runtime: bool) -> None:
    assert frame_rules.is_runtime_frame(frame) is runtime


def test_top_frame_is_the_first_frame_not_ignored_even_in_std() -> None:
    frames = [Frame("std::__invoke_impl<void>()", "/usr/include/c++/12/bits/invoke.h", 61),
              Frame("std::hash<Key>::operator()(Key const&) const", "/src/key.h", 9, 5, "s"),
              Frame("Lookup(Key const&)", "/src/map.cc", 20, 3, "s")]
    assert frame_rules.top_frame([Stack("Read of size 8", frames)]) == frames[1]


def test_fingerprint_depends_on_kind_and_functions() -> None:
    stack = Stack("Write of size 4 at 0x1 by thread T1", [Frame("A()", "/a.cc", 1, 1, "x")])
    other = Stack("Write of size 4 at 0x1 by thread T1", [Frame("B()", "/a.cc", 1, 1, "x")])
    assert frame_rules.fingerprint("data-race", [stack]) != frame_rules.fingerprint("data-race", [other])
    assert frame_rules.fingerprint("data-race", [stack]) != frame_rules.fingerprint("thread-leak", [stack])


def test_fingerprint_uses_only_the_top_three_counting_frames() -> None:
    frames = [Frame(f"F{i}()", "/a.cc", i, 1, "x") for i in range(5)]
    deeper = frames[:3] + [Frame("Other()", "/b.cc", 9, 9, "x")]
    a = Stack("Read of size 1 at 0x1 by thread T1", frames)
    b = Stack("Read of size 1 at 0x1 by thread T1", deeper)
    c = Stack("Read of size 1 at 0x1 by thread T1", frames[1:])
    assert frame_rules.fingerprint("data-race", [a]) == frame_rules.fingerprint("data-race", [b])
    assert frame_rules.fingerprint("data-race", [a]) != frame_rules.fingerprint("data-race", [c])


@pytest.mark.parametrize("clang_name, gcc_name", [
    ("(anonymous namespace)::Gauge<long>::Set(long)", "Set"),
    ("(anonymous namespace)::RunReporters()::$_1::operator()() const", "operator()"),
    ("Handler::~Handler()", "~Handler"),
    ("Codec::Encode(Buffer&) [clone .isra.0]", "Encode"),
    ("Table::Name[abi:cxx11]() const", "Name"),
])
def test_fingerprint_agrees_on_clang_and_gcc_spellings(clang_name: str, gcc_name: str) -> None:
    def report_with(name: str, file_line: tuple[str, int, int | None]) -> str:
        frames = [Frame(name, file_line[0], file_line[1], file_line[2], "m"),
                  Frame("main", "/src/main.cc", 3, file_line[2], "m")]
        return frame_rules.fingerprint("data-race", [Stack("Write of size 8 at 0x1 by T1", frames)])

    assert report_with(clang_name, ("/src/g.h", 14, 51)) == \
        report_with(gcc_name, ("/src/g.h", 14, None))


def test_parse_frame_with_a_non_ascii_digit_in_its_line_keeps_the_report() -> None:
    # "¹9".isdigit() is True but int() refuses it: found by the fuzz test.
    text = data_text("tsan_data_race.txt").replace("data_race.cc:16:56", "data_race.cc:¹9",
                                                   1)
    result = parse.parse_text(text, "t")
    assert [r.kind for r in result.reports] == ["data-race"]


def test_parse_asan_heap_use_after_free() -> None:
    report = only_report("asan_heap_use_after_free.txt")
    assert_report(report, kind="heap-use-after-free",
                  headline="heap-use-after-free on address 0x602000000010 at pc "
                           "0x5618693dd5a6 bp 0x7ffeb0361cc0 sp 0x7ffeb0361cb8",
                  tool="clang-asan",
                  summary=f"heap-use-after-free {SRC}heap_use_after_free_asan.cc:6:23 in main",
                  titles=["READ of size 4 at 0x* thread T0", "freed by thread T0 here",
                          "previously allocated by thread T0 here"],
                  top=("main", "heap_use_after_free_asan.cc", 6, 23))


def test_parse_lsan_detected_memory_leaks() -> None:
    # LeakSanitizer's report ends at its SUMMARY: no ABORTING line follows.
    result = parse.parse_text(data_text("lsan_detected_memory_leaks.txt"), "lsan.14118")
    assert result.errors == []
    [report] = result.reports
    assert (report.kind, report.tool, report.summary) == (
        "detected-memory-leaks", "clang-asan", "64 byte(s) leaked in 1 allocation(s).")
    assert [s.title for s in report.stacks] == [
        "Direct leak of 64 byte(s) in 1 object(s) allocated from"]
    assert report.top_frame is not None and report.top_frame.function == "main"
