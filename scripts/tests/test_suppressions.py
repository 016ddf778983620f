"""TSan suppression files: validation, TSan's "Matched" lines (real output in
data_suppressions/, see its README), and racelab's own matching for `gate --logs`."""

from __future__ import annotations

from pathlib import Path

import pytest

from racelab_cli import frames, parse, suppressions
from racelab_cli.model import merge_findings
from racelab_cli.model import MatchedSuppression, Suppression

SUPP = Path(__file__).resolve().parent / "data_suppressions"


def test_load_reads_types_patterns_and_lines_skipping_comments() -> None:
    rules = suppressions.load(SUPP / "tsan.supp")
    assert rules.suppressions == [Suppression("race", "BumpHits", 3),
                                  Suppression("race", "NoSuchFunction", 5),
                                  Suppression("deadlock", "NeverLocked", 7)]


def test_parse_accepts_every_tsan_type_and_trims_blanks_as_tsan_does() -> None:
    text = "\n".join(f"  {t}:pattern_{i} \t\r" for i, t in enumerate(suppressions.KNOWN_TYPES))
    found = suppressions.parse_text(text + "\n   # indented comment\n\n", "s")
    assert [(s.type, s.pattern) for s in found] == [
        (t, f"pattern_{i}") for i, t in enumerate(suppressions.KNOWN_TYPES)]


@pytest.mark.parametrize("text, message", [
    ("race:Ok\nraec:Typo\n", "s.supp:2: unknown suppression type 'raec' (TSan knows race, "
                             "race_top, mutex, thread, signal, deadlock, called_from_lib)"),
    ("HandleHit\n", "s.supp:1: expected TYPE:PATTERN"),
    ("# c\nrace:\n", "s.supp:2: race: would suppress every race report"),
    ("race:*\n", "s.supp:1: race:* would suppress every race report"),
])
def test_parse_rejects_what_tsan_would_refuse_naming_file_and_line(text: str,
                                                                   message: str) -> None:
    with pytest.raises(suppressions.SuppressionError) as caught:
        suppressions.parse_text(text, "s.supp")
    assert str(caught.value).startswith(message)


def test_load_of_a_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(suppressions.SuppressionError, match="nope.supp: no such file"):
        suppressions.load(tmp_path / "nope.supp")


def test_matched_lines_are_read_from_a_real_partly_suppressed_log() -> None:
    text = (SUPP / "tsan_partly_suppressed.txt").read_text()
    assert suppressions.matched_in_text(text, "x") == [
        MatchedSuppression("race", "BumpHits", 1, "x")]
    # The report that was not suppressed is still there for the parser.
    [report] = parse.parse_text(text, "x").reports
    assert "BumpMisses" in report.top_frame.function


def test_matched_lines_of_a_fully_suppressed_log_with_a_ci_prefix() -> None:
    text = (SUPP / "tsan_all_suppressed.txt").read_text()
    assert suppressions.matched_in_text(text, "x") == [
        MatchedSuppression("race", "Bump*", 2, "x")]
    prefixed = "".join(f"2024-05-01T12:00:00.1234567Z {line}\n" for line in text.splitlines())
    assert suppressions.matched_in_text(prefixed, "x") == [
        MatchedSuppression("race", "Bump*", 2, "x")]


def test_a_line_after_the_matched_block_is_not_taken_for_a_match() -> None:
    text = ("ThreadSanitizer: Matched 1 suppressions (pid=1):\n1 race:Foo\n"
            "exit\n3 race:NotAMatch\n")
    assert [m.pattern for m in suppressions.matched_in_text(text, "x")] == ["Foo"]


@pytest.mark.parametrize("template, text, expected", [
    ("BumpHits", "(anonymous namespace)::BumpHits()", True),
    ("^BumpHits", "(anonymous namespace)::BumpHits()", False),
    ("^(anonymous", "(anonymous namespace)::BumpHits()", True),
    ("Hits()$", "(anonymous namespace)::BumpHits()", True),
    ("Bump*()", "(anonymous namespace)::BumpHits()", True),
    ("libfoo*.so", "/usr/lib/libfoo-2.so", True),
    ("Misses", "(anonymous namespace)::BumpHits()", False),
    ("x", None, False),
])
def test_template_match_follows_tsan(template: str, text: str | None, expected: bool) -> None:
    assert suppressions.template_match(template, text) is expected


def test_tie_marks_the_reports_a_suppression_matches_and_check_counts_them() -> None:
    text = (SUPP / "tsan_unsuppressed.txt").read_text()
    findings = merge_findings([parse.parse_text(text, "logs/tsan.1").reports])
    rules = suppressions.load(SUPP / "tsan.supp")
    suppressions.tie(rules, findings)
    by_function = {frames.normalize_function(f.report.top_frame.function): f for f in findings}
    assert by_function["BumpHits"].status == "suppressed"
    assert by_function["BumpHits"].suppressed_by == "race:BumpHits"
    assert by_function["BumpMisses"].status == "new"
    check = suppressions.check(rules, [], findings)
    assert [(s.text, n) for s, n in check.matched()] == [("race:BumpHits", 1)]
    assert [s.text for s in check.stale()] == ["race:NoSuchFunction", "deadlock:NeverLocked"]


def test_a_suppression_of_another_type_does_not_match() -> None:
    text = (SUPP / "tsan_unsuppressed.txt").read_text()
    [report, _] = parse.parse_text(text, "x").reports
    assert not suppressions.report_matches(Suppression("deadlock", "BumpHits", 1), report)
    assert suppressions.report_matches(Suppression("race_top", "BumpHits", 1), report)
    assert suppressions.report_matches(Suppression("race", "two_races.cc", 1), report)


def test_check_lists_matches_of_patterns_not_in_the_file_apart() -> None:
    rules = suppressions.load(SUPP / "tsan.supp")
    check = suppressions.check(rules, [MatchedSuppression("race", "BumpHits", 2, "a"),
                                       MatchedSuppression("race", "BumpHits", 1, "b"),
                                       MatchedSuppression("race", "^_M_rep$", 1, "a")], [])
    assert check.counts == {"race:BumpHits": 3}
    assert check.other == {"race:^_M_rep$": 1}
    assert check.to_json()["other"] == [{"suppression": "race:^_M_rep$", "count": 1}]


def test_the_example_suppressions_in_ci_are_valid_and_commented() -> None:
    example = Path(__file__).resolve().parents[2] / "ci" / "tsan.supp"
    rules = suppressions.load(example)
    lines = example.read_text().splitlines()
    assert [s.text for s in rules.suppressions] == ["race:ref_count_down"]
    for rule in rules.suppressions:
        assert lines[rule.line - 2].startswith("#"), "every suppression needs a comment"


def test_every_tsan_report_kind_maps_to_the_suppression_type_tsan_uses() -> None:
    assert suppressions.suppression_type("data-race") == "race"
    assert suppressions.suppression_type("heap-use-after-free") == "race"
    assert suppressions.suppression_type("race-on-external-object") == "race"
    assert suppressions.suppression_type("thread-leak") == "thread"
    assert suppressions.suppression_type("unlock-of-an-unlocked-mutex") == "mutex"
    assert suppressions.suppression_type("signal-handler-spoils-errno") == "signal"
    assert suppressions.suppression_type("lock-order-inversion") == "deadlock"
    assert suppressions.suppression_type("deadly-signal") is None
