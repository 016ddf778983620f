"""End to end: the real counter pair, built under TSan, driven by the real load driver.

Needs the C++ build; the fixture configures and builds build/tsan when its binaries are
missing. Runs by default; select alone with `-m e2e`.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import REPO, read_results, run_racelab
from racelab_cli import catalog

BUILD = REPO / "build" / "tsan"
NEEDED = ("counter_bad", "counter_fixed", "racelab-load")
BUILD_DEADLINE_S = 3600


@pytest.fixture(scope="module")
def tsan_build() -> Path:
    if not all((BUILD / "bin" / name).is_file() for name in NEEDED):
        if not (BUILD / "CMakeCache.txt").is_file():
            subprocess.run(["cmake", "--preset", "tsan"], cwd=REPO, check=True,
                           timeout=BUILD_DEADLINE_S)
        subprocess.run(["cmake", "--build", str(BUILD)], cwd=REPO, check=True,
                       timeout=BUILD_DEADLINE_S)
    return BUILD


@pytest.mark.e2e
def test_run_counter_finds_the_race_in_bad_and_none_in_fixed(tsan_build: Path,
                                                             tmp_path: Path) -> None:
    out = tmp_path / "reports"
    done = run_racelab("run", "counter", "--out", str(out), timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^racelab: \[1/1\] counter bad: \d+ findings? \(data-race",
                     done.stdout, re.MULTILINE)
    data = read_results(out)
    assert data["schema"] == "racelab.results/1"
    assert data["verdict"] == "pass"
    bad = [f for f in data["findings"] if f["variant"] == "bad"]
    fixed = [f for f in data["findings"] if f["variant"] == "fixed"]
    assert fixed == []
    # The race, and sometimes its cost: hits lost, caught by the invariant.
    bad = [f for f in bad if f["kind"] != "invariant-violation"]
    assert [f["kind"] for f in bad] == ["data-race"]
    # The server's Asio frames symbolize within the runtime's buffer (the short debug names
    # of harness/CMakeLists.txt); without them this report's frames are flagged untrusted.
    assert bad[0]["frames_unreliable"] is None
    manifest = catalog.load(REPO, "counter")
    [expect] = manifest.bad_expect
    frames = [fr["function"] for stack in bad[0]["stacks"] for fr in stack["frames"]]
    assert any(re.search(expect.function, fn) for fn in frames)
    assert "counter.cc" in bad[0]["top_frame"]["file"]
    assert re.search(expect.function, bad[0]["top_frame"]["function"])
    [check] = scenario_invariants = data["scenarios"][0]["fixed"]["invariants"]
    assert scenario_invariants and check["held"]
    assert check["observed"] == check["expected"] == 3000  # 3 of every 4 requests are /hit
    [scenario] = data["scenarios"]
    assert scenario["verdict"] == "pass"
    assert scenario["bad"]["exit_status"] == 66
    assert scenario["fixed"]["exit_status"] == 0
    assert sum(v for k, v in scenario["fixed"]["status"].items() if k.startswith("2")) \
        >= manifest.min_ok
    assert (out / "summary.md").read_text(encoding="utf-8").startswith("# racelab: PASS")
    check_report_formats(out, bad[0])


def check_report_formats(out: Path, finding: dict) -> None:
    """junit.xml, results.sarif and index.html of the real run point at counter.cc."""
    root = ET.parse(out / "junit.xml").getroot()
    [suite] = root.findall("testsuite")
    assert [c.get("name") for c in suite.findall("testcase")] == ["bad", "fixed"]
    assert root.get("failures") == "0" and root.get("errors") == "0", ET.tostring(root)
    sarif = json.loads((out / "results.sarif").read_text(encoding="utf-8"))
    [result] = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "data-race"]
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "scenarios/counter/counter.cc",
                                            "uriBaseId": "SRCROOT"}
    assert location["region"]["startLine"] == finding["top_frame"]["line"]
    page = (out / "index.html").read_text(encoding="utf-8")
    racing_line = (REPO / "scenarios" / "counter" / "counter.cc").read_text().splitlines()[
        finding["top_frame"]["line"] - 1]
    assert "// RACE:" in racing_line
    assert (f'<span class="l hit"><span class="n">{finding["top_frame"]["line"]}</span>'
            f'<span class="t">{html.escape(racing_line)}</span></span>') in page
    assert "https://" not in page and "http://" not in page


ASAN_BUILD = REPO / "build" / "asan"


@pytest.mark.e2e
def test_fixed_catalog_is_clean_under_asan(tmp_path: Path) -> None:
    """`racelab run --sanitizer asan` builds the asan preset (AddressSanitizer, LeakSanitizer,
    UBSan) and runs every fixed variant: clean, and really instrumented."""
    out = tmp_path / "asan"
    done = run_racelab("run", "--sanitizer", "asan", "--out", str(out), timeout=3000)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    data = read_results(out)
    assert data["verdict"] == "pass" and data["findings"] == []
    names = sorted(p.parent.name for p in (REPO / "scenarios").glob("*/scenario.toml"))
    assert sorted(s["name"] for s in data["scenarios"]) == names
    assert all(s["bad"] is None and s["fixed"]["instrumented"] >= 1
               for s in data["scenarios"])
    assert (ASAN_BUILD / "bin").is_dir()
