"""The parser on real, messy logs: CI timestamps and colours, test-runner output around and
between reports, several processes in one stream or in log_path files, reports cut short,
runaways, and logs too big to hold: streamed with bounded memory."""

from __future__ import annotations

import io
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

from conftest import DATA, data_text
from racelab_cli import parse
from racelab_cli.model import Frame, Report
from test_parse import assert_report, mask, only_report, reports_of

# --- CI decorations ------------------------------------------------------------------------


def same_report(noisy: Report, plain: Report) -> None:
    assert noisy.fingerprint == plain.fingerprint
    assert (noisy.kind, noisy.headline, noisy.tool) == (plain.kind, plain.headline, plain.tool)
    assert noisy.top_frame == plain.top_frame
    assert [mask(s.title) for s in noisy.stacks] == [mask(s.title) for s in plain.stacks]
    assert [s.frames for s in noisy.stacks] == [s.frames for s in plain.stacks]


def test_parse_github_actions_timestamps_and_ansi_colours() -> None:
    text = data_text("tsan_data_race_ci.txt")
    assert "\x1b[" in text and text.startswith("2024-05-01T12:00:00.0001234Z ")
    noisy = only_report("tsan_data_race_ci.txt")
    plain = only_report("tsan_data_race.txt")
    assert noisy.summary == plain.summary
    assert [len(s.frames) for s in noisy.stacks] == [len(s.frames) for s in plain.stacks]
    assert noisy.fingerprint == plain.fingerprint and noisy.top_frame == plain.top_frame


def test_parse_gitlab_timestamps_stream_tags_and_section_markers() -> None:
    path = DATA / "tsan_heap_use_after_free_gitlab.txt"
    raw = path.read_bytes().decode()  # as is: read_text() would turn the "\r" into "\n"
    assert " 00O section_start:" in raw and "\r\x1b[0K" in raw
    result, _readable = parse.parse_file(path)
    assert result.errors == []
    [report] = result.reports
    assert report.line == 3 and report.pid == 13975
    plain = only_report("tsan_heap_use_after_free.txt")
    assert report.summary == plain.summary
    same_report(report, plain)


def test_parse_jenkins_bracket_times_with_colours() -> None:
    text = data_text("gcc_tsan_thread_leak_jenkins.txt")
    assert text.startswith("[12:00:01] ") and "\x1b[1m" in text
    same_report(only_report("gcc_tsan_thread_leak_jenkins.txt"),
                only_report("gcc_tsan_thread_leak.txt"))


def test_parse_syslog_prefix_whose_timestamp_changes_every_line() -> None:
    # "May 01 12:00:02 ci-host lock_order[4242]: " precedes every line: the headline's
    # prefix, matched again on later lines with other digits.
    report = only_report("tsan_lock_order_inversion_syslog.txt")
    plain = only_report("tsan_lock_order_inversion_one_stack.txt")
    same_report(report, plain)
    assert [len(s.frames) for s in report.stacks] == [11, 11, 3, 3]


def test_parse_crlf_line_ends_and_carriage_return_overwrites() -> None:
    text = data_text("tsan_thread_leak.txt").replace("\n", "\r\n")
    text = text.replace("WARNING:", "progress 50%\rWARNING:", 1)
    result = parse.parse_text(text, "crlf.txt")
    assert result.errors == []
    same_report(result.reports[0], only_report("tsan_thread_leak.txt"))


# --- Test runners --------------------------------------------------------------------------

def test_parse_gtest_lines_around_a_report() -> None:
    text = data_text("gtest_tsan_data_race.txt")
    assert "[ RUN      ] HitCounterTest.ConcurrentBumpsRace" in text
    assert "LLVMSymbolizer: error reading file" in text
    report = only_report("gtest_tsan_data_race.txt")
    assert_report(report, kind="data-race", headline="data race", tool="clang-tsan",
                  summary="data race /work/main/scripts/tests/data/src/gtest_race.cc:14:48 in "
                          "(anonymous namespace)::HitCounter::Bump()",
                  titles=["Write of size 4 at 0x* by thread T2",
                          "Previous write of size 4 at 0x* by thread T1",
                          "Thread T2 (tid=*, running) created by main thread at",
                          "Thread T1 (tid=*, running) created by main thread at"],
                  top=("(anonymous namespace)::HitCounter::Bump()", "gtest_race.cc", 14, 48))
    assert report.line == 8


def test_parse_ctest_prefixed_output_of_two_test_processes() -> None:
    # ctest -V prefixes each test's lines with "N: "; the prefix is part of no report line.
    first, second = reports_of("ctest_tsan_two_processes.txt")
    assert (first.pid, second.pid) == (13425, 13426)
    assert (first.line, second.line) == (34, 83)
    gtest = only_report("gtest_tsan_data_race.txt")
    for report in (first, second):
        assert report.fingerprint == gtest.fingerprint
        assert report.summary == gtest.summary
        assert [len(s.frames) for s in report.stacks] == [8, 8, 3, 3]
        assert report.top_frame == gtest.top_frame


def test_parse_go_test_output_keeps_only_the_race() -> None:
    text = data_text("go_race_slice_test.txt")
    assert "--- FAIL: TestConcurrentAppend" in text
    [report] = reports_of("go_race_slice_test.txt")
    assert report.tool == "go-race"


# --- Reports quoted in documents ---------------------------------------------------------

def test_parse_go_race_whose_indentation_was_lost() -> None:
    # Pasted into Markdown (or a book) without its indentation: titles, functions and
    # locations are told apart by their shape.
    text = data_text("go_race_counter_unindented.txt")
    assert not any(line[:1].isspace() for line in text.splitlines())
    report = only_report("go_race_counter_unindented.txt")
    same_report(report, only_report("go_race_counter_glued.txt"))  # the same run, indented
    assert report.top_frame.line == 18 and not report.truncated


def test_parse_go_race_quoted_in_a_go_doc_comment() -> None:
    # gofmt turned the quoted output into a doc comment: "// " before the text, "//" alone
    # for a blank line, "//\t" before what was indented (a code block).
    text = data_text("go_race_map_comment.txt")
    assert "// WARNING: DATA RACE\n// Read at " in text and "\n//\tmain.Lookup()\n" in text
    result = parse.parse_text(text, "comment.go")
    assert result.errors == []  # "// Found 2 data race(s)" is met
    runtime, user = result.reports
    go_src = "/work/wt-parse/scripts/tests/data/src/go_race_map.go"
    assert [mask(s.title) for s in runtime.stacks] == [
        "Read at 0x* by main goroutine", "Previous write at 0x* by goroutine 7",
        "Goroutine 7 (finished) created at"]
    assert [[f.function for f in s.frames] for s in runtime.stacks] == [
        ["runtime.mapaccess1_faststr()", "main.Lookup()", "main.main()"],
        ["runtime.mapassign_faststr()", "main.Remember()", "main.main.func1()"],
        ["main.main()"]]
    assert runtime.top_frame == Frame("main.Lookup()", go_src, 17)
    assert runtime.fingerprint == only_report("go_race_map.txt").fingerprint
    assert [[f.function for f in s.frames] for s in user.stacks] == [
        ["main.Lookup()", "main.main()"], ["main.Remember()", "main.main.func1()"],
        ["main.main()"]]
    assert [r.tool for r in result.reports] == ["go-race", "go-race"]


def test_parse_go_test_json_reads_the_report_inside_the_output_strings(tmp_path: Path) -> None:
    # `go test -json`: each line of the report is the "Output" of a JSON event, which also
    # names the test that was running.
    text = data_text("go_test_json_race.txt")
    assert all(line.startswith('{"Time":') for line in text.splitlines())
    result = parse.parse_text(text, "go-test.json")
    assert result.errors == []
    [report] = result.reports
    assert (report.kind, report.tool, report.test, report.line) == (
        "data-race", "go-race", "TestRacyHits", 4)
    assert [mask(s.title) for s in report.stacks] == [
        "Read at 0x* by goroutine 8", "Previous write at 0x* by goroutine 11",
        "Goroutine 8 (running) created at", "Goroutine 11 (finished) created at"]
    assert report.stacks[0].frames == [
        Frame("racelab.test/hits.(*Racy).Hit()", "/tmp/rl-go/hits/hits.go", 15),
        Frame("racelab.test/hits.(*Racy).Hit-fm()", "<autogenerated>", 1),
        Frame("racelab.test/hits.hitFromWorkers.func1()", "/tmp/rl-go/hits/hits_test.go", 17)]
    assert report.top_frame == report.stacks[0].frames[0] and not report.truncated
    # Streamed from a file it is the same; a report of plain output names no test.
    path = tmp_path / "go-test.json"
    path.write_text(text, encoding="utf-8")
    streamed, _ = parse.parse_file(path, source="go-test.json")
    assert streamed.to_json() == result.to_json() and streamed.reports[0].test == "TestRacyHits"
    assert only_report("go_race_counter.txt").test is None


def test_parse_go_test_json_with_ci_timestamps_and_other_events() -> None:
    # A CI timestamp before each JSON line, and a JSON line that is not test2json's: the
    # first is read through, the second stays text.
    lines = data_text("go_test_json_race.txt").splitlines()
    stamped = [f"2024-05-01T12:00:{i % 60:02d}.0000000Z {line}" for i, line in enumerate(lines)]
    stamped.insert(3, '{"Output": 7, "note": "WARNING: DATA RACE is not here"}')
    result = parse.parse_text("\n".join(stamped), "ci.json")
    assert result.errors == []
    [report] = result.reports
    assert report.fingerprint == parse.parse_text("\n".join(lines), "x").reports[0].fingerprint


# --- Several processes ---------------------------------------------------------------------

def test_parse_reports_of_two_processes_interleaved_in_one_stream() -> None:
    # A real capture: pid 2830's report (GCC) is cut by the whole of pid 2829's (clang),
    # then goes on. Both come out whole, each with its own pid and producer.
    result = parse.parse_text(data_text("tsan_interleaved_two_processes.txt"), "both.txt")
    assert result.errors == []
    heap, lambdas = result.reports
    assert (heap.pid, heap.tool, heap.line) == (2830, "gcc-tsan", 2)
    assert (lambdas.pid, lambdas.tool, lambdas.line) == (2829, "clang-tsan", 33)
    assert [len(s.frames) for s in heap.stacks] == [7, 7, 2, 3, 3]
    assert heap.stacks[4].frames[2].line == 30  # the frame printed after the other report
    assert not heap.truncated and not lambdas.truncated
    assert heap.fingerprint == only_report("gcc_tsan_data_race_heap.txt").fingerprint
    assert lambdas.fingerprint == only_report("tsan_data_race_lambda.txt").fingerprint


def test_parse_frames_interleaved_line_by_line_follow_their_stacks() -> None:
    # Two real reports, mixed in the middle of a stack: frame numbers tell whose each is.
    leak = data_text("tsan_thread_leak.txt").splitlines()
    race = data_text("gcc_tsan_data_race_heap.txt").splitlines()
    mixed = leak[:4] + race[:5] + leak[4:] + race[5:]   # leak: ..#0 | race: ..#1 | ...
    result = parse.parse_text("\n".join(mixed), "mixed.txt")
    assert result.errors == []
    by_kind = {r.kind: r for r in result.reports}
    for kind, name in (("thread-leak", "tsan_thread_leak.txt"),
                       ("data-race", "gcc_tsan_data_race_heap.txt")):
        alone = only_report(name)
        assert [s.frames for s in by_kind[kind].stacks] == [s.frames for s in alone.stacks]
        assert by_kind[kind].fingerprint == alone.fingerprint


def test_parse_reports_of_two_processes_with_their_own_prefixes() -> None:
    # compose-style prefixes, lines alternating between the two processes.
    a = ["api_1     | " + line for line in data_text("tsan_data_race.txt").splitlines()]
    b = ["worker_1  | " + line for line in data_text("tsan_thread_leak.txt").splitlines()]
    mixed = [line for pair in zip(a, b + [""] * len(a)) for line in pair if line]
    result = parse.parse_text("\n".join(mixed), "compose.txt")
    assert result.errors == []
    race, leak = result.reports
    same_report(race, only_report("tsan_data_race.txt"))
    same_report(leak, only_report("tsan_thread_leak.txt"))


def test_parse_log_path_files_name_their_process(tmp_path: Path) -> None:
    files = sorted((DATA / "log_path").iterdir())
    assert [f.name for f in files] == ["tsan.13737", "tsan.13742"]
    race, _ = parse.parse_file(files[0])
    leak, _ = parse.parse_file(files[1])
    assert [(r.kind, r.tool, r.pid, r.source) for r in race.reports + leak.reports] == [
        ("data-race", "clang-tsan", 13737, str(files[0])),
        ("thread-leak", "gcc-tsan", 13742, str(files[1]))]
    # A report that names no process (Go's) takes the pid from the file name.
    go_log = tmp_path / "race.4242"
    go_log.write_text(data_text("go_race_map.txt"), encoding="utf-8")
    result, _ = parse.parse_file(go_log)
    assert [r.pid for r in result.reports] == [4242]


def lines_until(lines: list[str], stop: int) -> Iterator[str]:
    """The first `stop` lines, then a failure: whatever the parser yields by then, it
    yielded without reading further."""
    yield from lines[:stop]
    raise AssertionError(f"the parser read past line {stop}")


def test_parse_headline_and_separator_with_another_process_output_glued_on() -> None:
    # A runner that forwards output in chunks glued another process's output to the end
    # of the headline and of the closing separator.
    text = data_text("tsan_data_race_glued.txt")
    lines = text.splitlines()
    assert lines[1].endswith(")[ 41%] Built target bench_util")
    closing = lines.index("==================PASS: cache_test 12/40") + 1
    report = next(parse.iter_reports(lines_until(lines, closing), "glued.txt"))
    assert isinstance(report, Report)
    assert (report.headline, report.pid, report.truncated) == ("data race", 31806, False)
    plain = only_report("tsan_data_race.txt")
    assert report.fingerprint == plain.fingerprint and report.summary is not None
    assert [len(s.frames) for s in report.stacks] == [len(s.frames) for s in plain.stacks]
    assert parse.parse_text(text, "glued.txt").errors == []  # the count of 1 is met


def test_parse_go_report_whose_closing_separator_has_output_glued_on() -> None:
    # Go's reports have no SUMMARY: only the closing separator ends them.
    text = data_text("go_race_counter_glued.txt")
    assert "\n==================PASS: cache_test 12/40\n" in text
    result = parse.parse_text(text, "glued.txt")
    assert result.errors == []
    [report] = result.reports
    assert not report.truncated
    assert report.fingerprint == only_report("go_race_counter.txt").fingerprint
    assert [len(s.frames) for s in report.stacks] == [2, 2, 1, 1]


def test_parse_a_line_of_more_equals_signs_is_no_separator() -> None:
    # pytest's banner inside an open report does not end it; TSan's separator is 18 "=".
    text = data_text("tsan_thread_leak.txt")
    banner = "=" * 29 + " test session starts " + "=" * 30
    at = text.index("SUMMARY:")
    result = parse.parse_text(text[:at] + banner + "\n" + text[at:], "banner.txt")
    assert result.errors == []
    same_report(result.reports[0], only_report("tsan_thread_leak.txt"))


# --- Reports that are cut, garbled or runaway ----------------------------------------------

def test_parse_truncated_report_is_kept_and_flagged() -> None:
    result = parse.parse_text(data_text("tsan_data_race_truncated.txt"), "cut.txt")
    [report] = result.reports
    assert report.truncated and report.kind == "data-race" and report.summary is None
    assert report.top_frame.function == "(anonymous namespace)::WriterBeta()"
    [error] = result.errors
    assert (error.source, error.line) == ("cut.txt", 2)
    assert "truncated" in error.message and "never reached" in error.message


def test_parse_report_cut_by_the_next_headline_is_flagged() -> None:
    text = data_text("tsan_data_race.txt")
    cut = text[:text.index("SUMMARY:")]  # no SUMMARY, no closing separator
    result = parse.parse_text(cut + data_text("tsan_thread_leak.txt"), "two.txt")
    assert [r.kind for r in result.reports] == ["data-race", "thread-leak"]
    assert [r.truncated for r in result.reports] == [True, False]
    assert [e.line for e in result.errors] == [2]


def test_parse_report_closed_without_summary_is_flagged() -> None:
    text = data_text("tsan_thread_leak.txt")
    start = text.index("SUMMARY:")
    result = parse.parse_text(text[:start] + text[text.index("\n", start) + 1:], "x")
    assert [r.truncated for r in result.reports] == [True]
    assert "closed without its SUMMARY line" in result.errors[0].message


def test_parse_report_that_reached_its_summary_is_whole_without_its_closing_line() -> None:
    # Pasted into an issue up to its SUMMARY line: the closing separator (and the
    # "reported 1 warnings" line) never made it, but every part of the report did.
    text = data_text("tsan_heap_use_after_free_pasted.txt")
    assert text.splitlines()[-1].startswith("SUMMARY: ThreadSanitizer: heap-use-after-free ")
    result = parse.parse_text(text, "pasted.txt")
    assert result.errors == []
    [report] = result.reports
    assert not report.truncated
    plain = only_report("tsan_heap_use_after_free.txt")
    assert report.fingerprint == plain.fingerprint
    assert [len(s.frames) for s in report.stacks] == [len(s.frames) for s in plain.stacks]
    # The same report followed by another of its process: the next headline ends it, whole.
    race = data_text("tsan_data_race.txt").replace("(pid=2992)", "(pid=13975)")
    pid = report.pid
    assert pid is not None
    result = parse.parse_text(text.replace(f"(pid={pid})", "(pid=13975)") + race, "two.txt")
    assert result.errors == []
    assert [(r.kind, r.truncated) for r in result.reports] == [
        ("heap-use-after-free", False), ("data-race", False)]


def test_parse_report_cut_by_a_deadly_signal_of_its_own_process() -> None:
    race = data_text("tsan_data_race.txt")
    segv = data_text("tsan_deadly_signal.txt").replace("3021", "2992")  # the same process
    result = parse.parse_text(race[:race.index("  Previous write")] + segv, "crash.txt")
    assert [(r.kind, r.truncated) for r in result.reports] == [
        ("data-race", True), ("deadly-signal", False)]
    assert [e.line for e in result.errors] == [2]


def test_parse_go_report_without_its_closing_separator_is_flagged() -> None:
    text = data_text("go_race_map.txt")
    result = parse.parse_text(text[:text.rindex("==================")], "go.txt")
    assert [r.truncated for r in result.reports] == [True]
    assert "truncated" in result.errors[0].message


def test_parse_runaway_report_is_capped_with_an_error() -> None:
    frame = "    #{} Recurse(int) /src/r.cc:3:5 (r+0x1234) (BuildId: ab)"
    lines = ["==================", "WARNING: ThreadSanitizer: data race (pid=7)",
             "  Write of size 4 at 0x1 by thread T1:"]
    lines += [frame.format(i) for i in range(parse.MAX_REPORT_FRAMES + 500)]
    lines += ["SUMMARY: ThreadSanitizer: data race /src/r.cc:3:5 in Recurse(int)",
              "=================="]
    result = parse.parse_text("\n".join(lines), "deep.txt")
    [report] = result.reports
    assert len(report.stacks[0].frames) == parse.MAX_REPORT_FRAMES
    assert not report.truncated and report.summary is not None
    [error] = result.errors
    assert "runaway report" in error.message and error.line == 4 + parse.MAX_REPORT_FRAMES


def test_parse_fewer_reports_than_the_process_announced_is_an_error() -> None:
    text = data_text("tsan_data_race.txt").replace("WARNING: ThreadSanitizer:", "WARN~NG:")
    result = parse.parse_text(text, "garbled.txt")
    assert result.reports == []
    [error] = result.errors
    assert "ThreadSanitizer reported 1 warning(s) but only 0 report(s)" in error.message
    assert error.line == text.splitlines().index("ThreadSanitizer: reported 1 warnings") + 1
    go = data_text("go_race_map.txt").replace("WARNING: DATA RACE", "WARNING: DATA R")
    [error] = parse.parse_text(go, "go.txt").errors
    assert "Go reported 1 warning(s)" in error.message


def test_parse_runtime_failure_is_an_error() -> None:
    # A runtime that dies (or never starts) leaves a log without reports: not a clean run.
    text = ("starting\n"
            "ThreadSanitizer: CHECK failed: tsan_rtl.cpp:123 \"((x)) != (0)\" (0x0, 0x0)\n"
            "FATAL: ThreadSanitizer: unexpected memory mapping 0x7f5e6c400000-0x7f5e6c800000\n"
            "==7==ERROR: ThreadSanitizer failed to allocate 0x1000 (4096) bytes of "
            "SizeClassAllocator (error code: 12)\n")
    errors = parse.parse_text(text, "check.txt").errors
    assert [e.line for e in errors] == [2, 3, 4]
    assert [str(e.kind) for e in errors] == ["runtime-failure", "aslr-incompatible",
                                             "runtime-failure"]
    assert errors[0].message == ("sanitizer runtime failure: ThreadSanitizer: CHECK failed: "
                                 "tsan_rtl.cpp:123 \"((x)) != (0)\" (0x0, 0x0)")
    assert errors[1].message.startswith("the sanitizer runtime cannot start here: "
                                        "ThreadSanitizer: unexpected memory mapping "
                                        "0x7f5e6c400000-0x7f5e6c800000; lower the")


def test_parse_an_overlong_line_is_cut_without_losing_reports() -> None:
    blob = "x" * (3 * parse.MAX_LINE_CHARS)
    text = blob + "\n" + data_text("tsan_thread_leak.txt") + blob
    stream = io.BytesIO(text.encode())
    result = parse.parse_stream(stream, "long.txt")
    assert result.errors == []
    same_report(result.reports[0], only_report("tsan_thread_leak.txt"))


# --- Streaming -----------------------------------------------------------------------------

class GeneratedLog:
    """A read-only binary file whose content is made as it is read: `copies` times a real
    report with program output in between. Counts the bytes handed out."""

    def __init__(self, copies: int, sample: str = "tsan_data_race.txt") -> None:
        noise = "".join(f"[ RUN      ] Suite.Test{i}\nrequest {i} served in 0.3 ms\n"
                        for i in range(10))
        self.unit = (noise + data_text(sample)).encode()
        self.copies = copies
        self.size = copies * len(self.unit)
        self.served = 0

    def read(self, size: int = -1) -> bytes:
        if self.served >= self.size:
            return b""
        size = self.size - self.served if size < 0 else min(size, self.size - self.served)
        start = self.served % len(self.unit)
        out = bytearray()
        while len(out) < size:
            piece = self.unit[start:start + size - len(out)]
            out += piece
            start = 0
        self.served += len(out)
        return bytes(out)


def test_parse_streams_a_large_log_in_bounded_memory() -> None:
    log = GeneratedLog(copies=3000)  # about 16 MB
    assert log.size > 15_000_000
    parse._frame_from_body.cache_clear()
    tracemalloc.start()
    try:
        count = sum(1 for item in parse.iter_stream(log, "big.log")
                    if isinstance(item, Report) and item.kind == "data-race")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 3000
    assert log.served == log.size
    assert peak < 6_000_000, f"peak {peak} bytes while streaming {log.size} bytes"


def test_parse_stream_yields_each_report_before_reading_the_rest() -> None:
    log = GeneratedLog(copies=200)
    stream = parse.iter_stream(log, "big.log")
    first = next(stream)
    assert isinstance(first, Report) and first.line == 22
    assert log.served <= parse.CHUNK_BYTES < log.size
    assert sum(1 for _ in stream) == 199


def test_parse_stream_reads_text_files_and_reports_read_errors() -> None:
    text = data_text("go_race_counter.txt")
    assert [r.kind for r in parse.parse_stream(io.StringIO(text), "t").reports] == ["data-race"]

    class Failing(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            raise OSError(5, "Input/output error")

    result = parse.parse_stream(Failing(), "disk.log")
    assert [e.message for e in result.errors] == ["cannot read: Input/output error"]
