#!/usr/bin/env python3
"""Measure how fast `racelab parse` reads TSan output, and that it streams.

Builds a large log in a temporary file (default 200 MB) by repeating the real sanitizer
samples of tests/data/ (clang, GCC and Go reports, some with CI timestamps and colours)
with program and GoogleTest output in between, then parses it with parse.iter_stream,
which yields each report as it closes and keeps none. Prints the size, the time, the
throughput in MB/s, the reports found and the peak RSS of this process: a peak far below
the file size shows the parser streams.

    bench_parse.py [--mb 200] [--noise 0.2] [--unique] [--collect] [--keep PATH]

--noise is the share of the bytes that is not report text. --unique rewrites every
module offset ("+0x1a2b") in each copy, as if each report came from another build, so no
frame line repeats (the parser's memo of frame lines never hits; names still repeat).
--collect uses parse_file instead (it keeps every report, as `racelab parse` must to print
them), which shows what the reports themselves cost in memory. Standard library only.
"""

from __future__ import annotations

import argparse
import random
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS))

from racelab_cli import parse  # noqa: E402  (after the path is set)

DATA = SCRIPTS / "tests" / "data"
NOISE = [
    "[ RUN      ] CounterTest.ConcurrentHits",
    "[       OK ] CounterTest.ConcurrentHits (12 ms)",
    "[----------] 4 tests from CounterTest (48 ms total)",
    "racelab: listening on 127.0.0.1:39011",
    "GET /hit 200 0.4ms",
    "2024-05-01T12:00:03.0012340Z Step 3/9 : RUN cmake --build build -j2",
    "counter=3",
    "worker 7 finished 1000 jobs in 0.82 s",
]


OFFSET = re.compile(r"\+0x[0-9a-f]+\)")


def build_log(path: Path, megabytes: float, noise_share: float, unique: bool = False,
              seed: int = 7) -> int:
    """Write the benchmark log; returns its size in bytes."""
    samples = [p.read_text(encoding="utf-8") for p in sorted(DATA.glob("*.txt"))
               if "truncated" not in p.name]
    rng = random.Random(seed)
    target = int(megabytes * 1_000_000)
    written = 0
    with path.open("w", encoding="utf-8") as out:
        while written < target:
            sample = rng.choice(samples)
            if unique:
                sample = OFFSET.sub(lambda m: f"+{rng.getrandbits(40):#x})", sample)
            noise_lines = []
            noise_bytes = 0
            wanted = len(sample) * noise_share / max(1e-9, 1 - noise_share)
            while noise_bytes < wanted:
                line = rng.choice(NOISE)
                noise_lines.append(line)
                noise_bytes += len(line) + 1
            chunk = "\n".join(noise_lines) + ("\n" if noise_lines else "") + sample
            if not chunk.endswith("\n"):
                chunk += "\n"
            out.write(chunk)
            written += len(chunk.encode("utf-8"))
    return path.stat().st_size


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=200.0, help="log size in MB (1e6 bytes)")
    parser.add_argument("--noise", type=float, default=0.2,
                        help="share of non-report bytes, 0 <= x < 1 (default 0.2)")
    parser.add_argument("--unique", action="store_true",
                        help="no frame line repeats (random module offsets per copy)")
    parser.add_argument("--collect", action="store_true",
                        help="parse with parse_file (keeps every report) instead of streaming")
    parser.add_argument("--keep", type=Path, help="write the log here and keep it")
    args = parser.parse_args(argv)
    if not 0 <= args.noise < 1:
        parser.error("--noise must be in [0, 1)")

    with tempfile.TemporaryDirectory(prefix="racelab-bench-") as tmp:
        path = args.keep or Path(tmp) / "bench.log"
        started = time.perf_counter()
        size = build_log(path, args.mb, args.noise, args.unique)
        built = time.perf_counter() - started
        rss_before = peak_rss_mb()

        started = time.perf_counter()
        cpu_started = time.process_time()
        reports = errors = 0
        if args.collect:
            result, _readable = parse.parse_file(path)
            reports, errors = len(result.reports), len(result.errors)
        else:
            with path.open("rb") as stream:
                for item in parse.iter_stream(stream, str(path)):
                    if isinstance(item, parse.Report):
                        reports += 1
                    else:
                        errors += 1
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started

    megabytes = size / 1_000_000
    print(f"log:        {megabytes:.1f} MB ({args.noise:.0%} noise"
          f"{', every frame line unique' if args.unique else ''}), built in {built:.1f} s")
    print(f"parsed:     {reports} reports, {errors} errors in {elapsed:.2f} s "
          f"({'parse_file, collected' if args.collect else 'iter_stream, streamed'})")
    print(f"throughput: {megabytes / elapsed:.1f} MB/s wall clock, "
          f"{megabytes / cpu:.1f} MB/s of CPU time (the machine is shared)")
    print(f"peak RSS:   {peak_rss_mb():.1f} MB (before parsing: {rss_before:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
