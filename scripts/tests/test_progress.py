"""The progress display: live status on a terminal, plain prefixed lines elsewhere."""

from __future__ import annotations

import io

from racelab_cli.progress import Progress


def test_progress_plain_lines_are_prefixed_and_carry_no_escapes() -> None:
    out = io.StringIO()
    progress = Progress(out, tty=False)
    progress.status("building 50% [1/2]")
    progress.begin("k", "scenario 1/1 counter bad")
    progress.line("[1/1] counter bad: 1 finding (data-race) in 6.2s")
    progress.end("k")
    progress.clear()
    assert out.getvalue() == "racelab: [1/1] counter bad: 1 finding (data-race) in 6.2s\n"


def test_progress_on_a_terminal_rewrites_one_status_line() -> None:
    out = io.StringIO()
    progress = Progress(out, tty=True)
    progress.begin("k", "scenario 1/2 counter bad")
    progress.line("racelab: something happened")
    progress.end("k")
    progress.clear()
    text = out.getvalue()
    assert "\r\x1b[Kscenario 1/2 counter bad, 0.0s" in text
    assert "\r\x1b[Kracelab: something happened\n" in text
    assert text.endswith("\r\x1b[K")
