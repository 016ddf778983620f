"""What racelab shows while it works.

On a terminal: one live status line, rewritten in place (build percentage, the scenarios in
flight and their elapsed time), with permanent lines printed above it. Anywhere else (CI
logs, pipes): permanent lines only, each starting with "racelab: ", e.g.

    racelab: [1/1] counter bad: 1 finding (data-race) in 6.2s

Safe to call from several threads (--jobs).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

_CLEAR_LINE = "\r\x1b[K"
_TICK_S = 0.5  # how often the terminal status line refreshes its elapsed times


class Progress:
    def __init__(self, stream: TextIO | None = None, tty: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        if tty is None:
            isatty = getattr(self.stream, "isatty", None)
            tty = bool(isatty and isatty())
        self.tty = tty
        self._lock = threading.Lock()
        self._status = ""
        self._active: dict[str, tuple[str, float]] = {}
        self._ticker: threading.Thread | None = None
        self._stop_ticking = threading.Event()

    def line(self, text: str) -> None:
        """A permanent line ("racelab: ..." is added when missing)."""
        if not text.startswith("racelab"):
            text = f"racelab: {text}"
        with self._lock:
            if self.tty and self._status:
                self.stream.write(_CLEAR_LINE)
            self.stream.write(text + "\n")
            if self.tty and self._status:
                self.stream.write(self._status)
            self.stream.flush()

    def status(self, text: str) -> None:
        """A transient status; shown only on a terminal."""
        if not self.tty:
            return
        with self._lock:
            self._status = text
            self.stream.write(_CLEAR_LINE + text)
            self.stream.flush()

    def begin(self, key: str, label: str) -> None:
        """Something started (a scenario variant); its elapsed time shows in the status."""
        with self._lock:
            self._active[key] = (label, time.monotonic())
        if self.tty:
            self._start_ticker()
            self._show_active()

    def end(self, key: str) -> None:
        with self._lock:
            self._active.pop(key, None)
        if self.tty:
            self._show_active()

    def clear(self) -> None:
        """Remove the status line and stop refreshing it."""
        self._stop_ticking.set()
        ticker = self._ticker
        if ticker is not None:
            ticker.join(timeout=2 * _TICK_S)
        if self.tty:
            with self._lock:
                if self._status:
                    self.stream.write(_CLEAR_LINE)
                    self.stream.flush()
                self._status = ""

    def _show_active(self) -> None:
        with self._lock:
            now = time.monotonic()
            parts = [f"{label}, {now - start:.1f}s" for label, start in self._active.values()]
        self.status(" | ".join(parts))

    def _start_ticker(self) -> None:
        if self._ticker is not None:
            return

        def tick() -> None:
            while not self._stop_ticking.wait(_TICK_S):
                if self._active:
                    self._show_active()

        self._ticker = threading.Thread(target=tick, name="racelab-progress", daemon=True)
        self._ticker.start()
