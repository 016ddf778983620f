"""The TSan log parser, against real clang/GCC output saved in data/ (see data/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import DATA, data_text
from racelab_cli import parse
from racelab_cli.model import Frame, Report, Stack

SRC = "/work/main/scripts/tests/data/src/"


def only_report(name: str) -> Report:
    result = parse.parse_text(data_text(name), name)
    assert result.errors == []
    assert len(result.reports) == 1
    return result.reports[0]


def assert_report(report: Report, *, kind: str, headline: str, tool: str,
                  top_function: str, top_file: str | None, top_line: int | None,
                  top_column: int | None, stack_titles: list[str]) -> None:
    """The one helper that checks a parsed report's fields."""
    assert report.kind == kind
    assert report.headline == headline
    assert report.tool == tool
    assert report.top_frame is not None
    assert report.top_frame.function == top_function
    assert report.top_frame.file == top_file
    assert report.top_frame.line == top_line
    assert report.top_frame.column == top_column
    assert [s.title.split(" at 0x")[0] if s.title.startswith(("Write", "Previous", "Read"))
            else s.title.split(" (")[0] for s in report.stacks] == stack_titles
    assert len(report.fingerprint) == 16
    int(report.fingerprint, 16)
    assert not report.truncated


def test_parse_clang_data_race() -> None:
    report = only_report("tsan_data_race.txt")
    assert_report(report, kind="data-race", headline="data race", tool="clang-tsan",
                  top_function="(anonymous namespace)::WriterBeta()",
                  top_file=SRC + "data_race.cc", top_line=17, top_column=55,
                  stack_titles=["Write of size 4", "Previous write of size 4",
                                "Thread T2", "Thread T1"])
    assert report.summary == (f"data race {SRC}data_race.cc:17:55 in "
                              "(anonymous namespace)::WriterBeta()")
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
    assert report.line == 2


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
    assert "pid=3007" in data_text("tsan_data_race_rebuilt.txt")
    assert rebuilt.fingerprint == first.fingerprint


def test_parse_gcc_data_race_is_gcc_tsan_without_columns() -> None:
    report = only_report("gcc_tsan_data_race.txt")
    assert_report(report, kind="data-race", headline="data race", tool="gcc-tsan",
                  top_function="WriterBeta", top_file=SRC + "data_race.cc", top_line=17,
                  top_column=None, stack_titles=["Read of size 4", "Previous write of size 4",
                                                 "Thread T2", "Thread T1"])
    creator = report.stacks[2].frames[0]
    assert creator.module == "libtsan.so.2"
    assert creator.file == "../../../../src/libsanitizer/tsan/tsan_interceptors_posix.cpp"
    assert creator.line == 1001
    # GCC drops "(anonymous namespace)::"; the normalised names, so the fingerprint, agree.
    assert report.fingerprint == only_report("tsan_data_race.txt").fingerprint


def test_parse_thread_leak() -> None:
    report = only_report("tsan_thread_leak.txt")
    assert_report(report, kind="thread-leak", headline="thread leak", tool="clang-tsan",
                  top_function="(anonymous namespace)::StartWorkerAndForgetIt()",
                  top_file=SRC + "thread_leak.cc", top_line=20, top_column=3,
                  stack_titles=["Thread T1"])
    assert report.stacks[0].frames[0].function == "pthread_create"  # skipped as runtime
    assert report.summary.startswith("thread leak (/tmp/rl-samples/thread_leak+0x533bd)")


def test_parse_lock_order_inversion_skips_mutex_runtime_frames() -> None:
    report = only_report("tsan_lock_order_inversion.txt")
    assert_report(report, kind="lock-order-inversion",
                  headline="lock-order-inversion (potential deadlock)", tool="clang-tsan",
                  top_function="(anonymous namespace)::LockFirstThenSecond()",
                  top_file=SRC + "lock_order.cc", top_line=13, top_column=31,
                  stack_titles=["Mutex M1 acquired here while holding mutex M0 in thread T1",
                                "Mutex M0 previously acquired by the same thread here",
                                "Mutex M0 acquired here while holding mutex M1 in thread T2",
                                "Mutex M1 previously acquired by the same thread here",
                                "Thread T1", "Thread T2"])
    assert [f.function for f in report.stacks[0].frames[:4]] == [
        "pthread_mutex_lock", "__gthread_mutex_lock(pthread_mutex_t*)", "std::mutex::lock()",
        "std::lock_guard<std::mutex>::lock_guard(std::mutex&)"]


def test_parse_lock_order_fingerprint_ignores_which_edge_comes_first() -> None:
    report = only_report("tsan_lock_order_inversion.txt")
    swapped = [report.stacks[2], report.stacks[3], report.stacks[0], report.stacks[1]]
    assert parse.fingerprint(report.kind, swapped) == report.fingerprint


def test_parse_deadly_signal() -> None:
    report = only_report("tsan_deadly_signal.txt")
    assert_report(report, kind="deadly-signal",
                  headline="SEGV on unknown address 0x000000000000 (pc 0x55e1e456a38a "
                           "bp 0x000000000001 sp 0x7ffd1bbc93a0 T3021)",
                  tool="clang-tsan", top_function="(anonymous namespace)::WriteThrough(int*)",
                  top_file=SRC + "segv.cc", top_line=7, top_column=67,
                  stack_titles=["SEGV on unknown address 0x000000000000"])
    assert report.summary == f"SEGV {SRC}segv.cc:7:67 in (anonymous namespace)::WriteThrough(int*)"
    assert len(report.stacks[0].frames) == 5


def test_parse_tolerates_ci_timestamps_and_ansi_colours() -> None:
    noisy_text = data_text("tsan_data_race_ci.txt")
    assert "\x1b[" in noisy_text and noisy_text.startswith("2024-05-01T12:00:00")
    noisy = only_report("tsan_data_race_ci.txt")
    plain = only_report("tsan_data_race.txt")
    assert noisy.fingerprint == plain.fingerprint
    assert noisy.summary == plain.summary
    assert noisy.top_frame == plain.top_frame
    assert [len(s.frames) for s in noisy.stacks] == [len(s.frames) for s in plain.stacks]


def test_parse_truncated_report_is_kept_and_flagged() -> None:
    result = parse.parse_text(data_text("tsan_data_race_truncated.txt"), "cut.txt")
    assert len(result.reports) == 1
    report = result.reports[0]
    assert report.truncated and report.kind == "data-race" and report.summary is None
    assert report.top_frame.function == "(anonymous namespace)::WriterBeta()"
    assert len(result.errors) == 1
    assert result.errors[0].source == "cut.txt"
    assert result.errors[0].line == 2
    assert "truncated" in result.errors[0].message


def test_parse_report_cut_by_the_next_headline_is_flagged() -> None:
    text = data_text("tsan_data_race.txt")
    cut = text[:text.index("SUMMARY:")]  # no SUMMARY, no closing separator
    result = parse.parse_text(cut + data_text("tsan_thread_leak.txt"), "two.txt")
    assert [r.kind for r in result.reports] == ["data-race", "thread-leak"]
    assert [r.truncated for r in result.reports] == [True, False]
    assert [e.line for e in result.errors] == [2]


def test_parse_finds_every_report_in_a_concatenated_log() -> None:
    names = ["tsan_data_race.txt", "tsan_thread_leak.txt", "tsan_lock_order_inversion.txt",
             "tsan_deadly_signal.txt"]
    text = "program output\n" + "\n".join(data_text(n) for n in names)
    result = parse.parse_text(text, "all.txt")
    assert result.errors == []
    assert [r.kind for r in result.reports] == ["data-race", "thread-leak",
                                                "lock-order-inversion", "deadly-signal"]
    assert len({r.fingerprint for r in result.reports}) == 4


def test_parse_binary_input_gives_an_error_not_an_exception(tmp_path: Path) -> None:
    blob = tmp_path / "core"
    blob.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 8)
    result, readable = parse.parse_file(blob)
    assert readable
    assert result.reports == []
    assert len(result.errors) == 1 and "binary" in result.errors[0].message


def test_parse_unreadable_file_gives_an_error(tmp_path: Path, monkeypatch) -> None:
    locked = tmp_path / "locked.txt"
    locked.write_text("x")

    def refuse(self):  # root reads any file, so the refusal is simulated
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    result, readable = parse.parse_file(locked)
    assert not readable
    assert result.errors[0].message == "cannot read: Permission denied"


def test_parse_directory_and_missing_file_give_errors(tmp_path: Path) -> None:
    result, readable = parse.parse_file(tmp_path)
    assert not readable and result.errors[0].message == "is a directory"
    result, readable = parse.parse_file(tmp_path / "nope.txt")
    assert not readable and result.errors[0].message == "no such file"


def test_parse_json_shape_is_the_reports_schema() -> None:
    result = parse.parse_text(data_text("tsan_data_race.txt"), "x.txt")
    data = json.loads(json.dumps(result.to_json()))
    assert data["schema"] == "racelab.reports/1"
    assert data["errors"] == []
    report = data["reports"][0]
    assert set(report) == {"kind", "headline", "tool", "summary", "stacks", "top_frame",
                           "fingerprint", "source"}
    assert set(report["stacks"][0]) == {"title", "frames"}
    assert set(report["top_frame"]) == {"function", "file", "line", "column", "module"}
    assert report["source"] == "x.txt"


@pytest.mark.parametrize("headline, slug", [
    ("data race", "data-race"),
    ("lock-order-inversion (potential deadlock)", "lock-order-inversion"),
    ("data race on vptr (ctor/dtor vs virtual call)", "data-race-on-vptr"),
    ("unlock of an unlocked mutex (or by a wrong thread)", "unlock-of-an-unlocked-mutex"),
    ("heap-use-after-free", "heap-use-after-free"),
    ("signal-unsafe call inside of a signal", "signal-unsafe-call-inside-of-a-signal"),
    ("  Thread Leak!! ", "thread-leak"),
    ("(", "unknown"),
])
def test_kind_slug_follows_the_design_rule(headline: str, slug: str) -> None:
    assert parse.kind_slug(headline) == slug


def test_kind_slug_of_any_warning_headline_in_a_block() -> None:
    text = ("==================\n"
            "WARNING: ThreadSanitizer: data race on vptr (ctor/dtor vs virtual call) (pid=7)\n"
            "  Write of size 8 at 0x7b08 by thread T1:\n"
            "    #0 Base::~Base() /src/v.cc:9:3 (v+0x1)\n"
            "SUMMARY: ThreadSanitizer: data race on vptr (ctor/dtor vs virtual call) x\n"
            "==================\n")
    report = parse.parse_text(text, "v.txt").reports[0]
    assert report.kind == "data-race-on-vptr"
    assert report.headline == "data race on vptr (ctor/dtor vs virtual call)"
    assert report.top_frame.function == "Base::~Base()"


@pytest.mark.parametrize("raw, normal", [
    ("(anonymous namespace)::RunInTurn(void (*)(), int)", "RunInTurn"),
    ("void std::__invoke_impl<void, void (*)()>(std::__invoke_other, void (*&&)())",
     "std::__invoke_impl"),
    ("std::vector<int, std::allocator<int> >::operator[](unsigned long) const",
     "std::vector::operator[]"),
    ("Foo::Bar()::$_0::operator()() const", "Foo::Bar::$_0::operator()"),
    ("ns::Widget::operator<<(int)", "ns::Widget::operator<<"),
    ("operator new(unsigned long)", "operator new"),
    ("HandleHit+0x1a", "HandleHit"),
    ("racelab::(anonymous namespace)::HandleHit(racelab::http::Request const&)",
     "racelab::HandleHit"),
])
def test_normalize_function_strips_types_args_and_addresses(raw: str, normal: str) -> None:
    assert parse.normalize_function(raw) == normal


@pytest.mark.parametrize("frame, runtime", [
    (Frame("__tsan_write4", None, None, None, "server"), True),
    (Frame("pthread_create", None, None, None, "server"), True),
    (Frame("<null>", None, None, None, "libstdc++.so.6"), True),
    (Frame("__libc_start_call_main", "csu/../sysdeps/nptl/x.h", 58, 16, "libc.so.6"), True),
    (Frame("std::thread::_State_impl<X>::_M_run()", "/usr/include/c++/12/x.h", 1, 1, "s"), True),
    (Frame("HandleHit()", "/src/counter.cc", 18, 3, "counter_bad"), False),
    (Frame("main", "/src/main.cc", 3, 1, "counter_bad"), False),
])
def test_runtime_frames_are_recognised(frame: Frame, runtime: bool) -> None:
    assert parse.is_runtime_frame(frame) is runtime


def test_fingerprint_depends_on_kind_and_functions() -> None:
    stack = Stack("Write of size 4 at 0x1 by thread T1", [Frame("A()", "/a.cc", 1, 1, "x")])
    other = Stack("Write of size 4 at 0x1 by thread T1", [Frame("B()", "/a.cc", 1, 1, "x")])
    assert parse.fingerprint("data-race", [stack]) != parse.fingerprint("data-race", [other])
    assert parse.fingerprint("data-race", [stack]) != parse.fingerprint("thread-leak", [stack])


def test_fingerprint_uses_only_the_top_three_non_runtime_frames() -> None:
    frames = [Frame(f"F{i}()", "/a.cc", i, 1, "x") for i in range(5)]
    deeper = frames[:3] + [Frame("Other()", "/b.cc", 9, 9, "x")]
    a = Stack("Read of size 1 at 0x1 by thread T1", frames)
    b = Stack("Read of size 1 at 0x1 by thread T1", deeper)
    c = Stack("Read of size 1 at 0x1 by thread T1", frames[1:])
    assert parse.fingerprint("data-race", [a]) == parse.fingerprint("data-race", [b])
    assert parse.fingerprint("data-race", [a]) != parse.fingerprint("data-race", [c])


SAMPLE_LINES = [line for name in sorted(DATA.glob("*.txt"))
                for line in name.read_text(encoding="utf-8").splitlines()]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_parse_never_raises_on_random_text(text: str) -> None:
    result = parse.parse_text(text, "random")
    assert all(r.kind for r in result.reports)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.sampled_from(SAMPLE_LINES), st.text(max_size=80)), max_size=60))
def test_parse_never_raises_on_shuffled_report_lines(lines: list[str]) -> None:
    result = parse.parse_text("\n".join(lines), "shuffled")
    for report in result.reports:
        assert report.kind and len(report.fingerprint) == 16
        json.dumps(report.to_json())
    truncated = [r for r in result.reports if r.truncated]
    assert len([e for e in result.errors if "truncated" in e.message]) == len(truncated)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2000))
def test_parse_file_never_raises_on_random_bytes(tmp_path_factory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("bytes") / "blob"
    path.write_bytes(data)
    result, readable = parse.parse_file(path)
    assert readable
    assert (b"\x00" in data) == any("binary" in e.message for e in result.errors)
