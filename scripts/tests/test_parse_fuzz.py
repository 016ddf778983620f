"""Property-based fuzzing of the parser (hypothesis): no input makes it raise, and what it
returns always keeps its promises. Inputs: random text, the real samples of data/ cut,
mutated, spliced and shuffled, and random bytes. Bounded (a few hundred examples each, no
deadline) so the default suite stays fast."""

from __future__ import annotations

import io
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import DATA
from racelab_cli import parse
from racelab_cli import patterns as P
from racelab_cli.model import ParseResult

SAMPLES = {p.name: p.read_bytes().decode("utf-8") for p in sorted(DATA.glob("*.txt"))}
SAMPLE_LINES = [line for text in SAMPLES.values() for line in text.split("\n")]
TOOLS = {"clang-tsan", "gcc-tsan", "go-race", "clang-asan"}
FUZZ = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def check(result: ParseResult) -> None:
    """What every parse result promises, whatever the input."""
    for report in result.reports:
        assert P.KIND_SLUG.match(report.kind), report.kind
        assert report.tool in TOOLS
        assert len(report.fingerprint) == 16 and int(report.fingerprint, 16) >= 0
        assert report.line >= 1
        assert sum(len(s.frames) for s in report.stacks) <= parse.MAX_REPORT_FRAMES
        json.dumps(report.to_json())
    for error in result.errors:
        assert error.message and (error.line is None or error.line >= 1)
        json.dumps(error.to_json())
    truncated = [r for r in result.reports if r.truncated]
    cut_errors = [e for e in result.errors if e.message.startswith("truncated report")]
    assert len(cut_errors) == len(truncated)
    assert [r.line for r in result.reports] == sorted(r.line for r in result.reports)


@st.composite
def mutated_samples(draw) -> str:
    """A real sample with up to six edits: cut a line, delete, duplicate or shuffle a run of
    lines, insert random text, change a character, or splice in lines of another sample."""
    lines = SAMPLES[draw(st.sampled_from(sorted(SAMPLES)))].split("\n")
    for _ in range(draw(st.integers(0, 6))):
        if not lines:
            break
        start = draw(st.integers(0, len(lines) - 1))
        end = draw(st.integers(start, min(len(lines), start + 25)))
        edit = draw(st.sampled_from(["cut", "delete", "duplicate", "shuffle", "insert",
                                     "change", "splice"]))
        if edit == "cut":
            line = lines[start]
            lines = lines[:start] + [line[:draw(st.integers(0, len(line)))]]
        elif edit == "delete":
            del lines[start:end]
        elif edit == "duplicate":
            lines[start:start] = lines[start:end]
        elif edit == "shuffle":
            lines[start:end] = draw(st.permutations(lines[start:end]))
        elif edit == "insert":
            lines.insert(start, draw(st.text(max_size=80)))
        elif edit == "change":
            line = lines[start]
            at = draw(st.integers(0, len(line)))
            lines[start] = line[:at] + draw(st.characters()) + line[at + 1:]
        else:
            other = SAMPLES[draw(st.sampled_from(sorted(SAMPLES)))].split("\n")
            lines[start:start] = other[:draw(st.integers(0, len(other)))]
    return "\n".join(lines)


@FUZZ
@given(st.text())
def test_parse_never_raises_on_random_text(text: str) -> None:
    check(parse.parse_text(text, "random"))


@FUZZ
@given(mutated_samples())
def test_parse_never_raises_on_mutated_real_samples(text: str) -> None:
    check(parse.parse_text(text, "mutated"))


@FUZZ
@given(st.lists(st.one_of(st.sampled_from(SAMPLE_LINES), st.text(max_size=80)), max_size=80))
def test_parse_never_raises_on_shuffled_report_lines(lines: list[str]) -> None:
    check(parse.parse_text("\n".join(lines), "shuffled"))


@FUZZ
@given(st.binary(max_size=3000), st.integers(1, 64))
def test_parse_stream_of_random_bytes_matches_parse_text(data: bytes, chunk: int) -> None:
    # Tiny chunks split UTF-8 sequences and lines anywhere: the stream must still read
    # exactly what the whole text says.
    saved = parse.CHUNK_BYTES
    parse.CHUNK_BYTES = chunk
    try:
        streamed = parse.parse_stream(io.BytesIO(data), "bytes")
    finally:
        parse.CHUNK_BYTES = saved
    whole = parse.parse_text(data.decode("utf-8", errors="replace"), "bytes")
    check(streamed)
    assert streamed.to_json() == whole.to_json()
    assert (b"\x00" in data) == any("binary" in e.message for e in streamed.errors)


@FUZZ
@given(mutated_samples(), st.integers(1, 4096))
def test_parse_stream_of_mutated_samples_matches_parse_text(text: str, chunk: int) -> None:
    saved = parse.CHUNK_BYTES
    parse.CHUNK_BYTES = chunk
    try:
        streamed = parse.parse_stream(io.BytesIO(text.encode("utf-8", "surrogatepass")), "m")
    finally:
        parse.CHUNK_BYTES = saved
    whole = parse.parse_text(text.encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
                             "m")
    assert streamed.to_json() == whole.to_json()
