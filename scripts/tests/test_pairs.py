"""Every bad/fixed pair tells its story once and keeps its marks honest.

- `diff scenarios/X fixes/X` is the lesson: the two folders hold the same source files, and
  every line the fix changes or adds carries `// FIX:`;
- the bad variant marks its racing lines `// RACE:`;
- each source file opens with a one-line header (the prose lives in the README);
- the README has the Reason / Bad / Fix / Caught by shape, every marked line it quotes in a
  code block is in the source it names, and every `file.cc:LINE` it cites points at a line
  that carries a mark.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pytest

from conftest import REPO

SCENARIOS = sorted(p.parent for p in (REPO / "scenarios").glob("*/scenario.toml"))
SOURCE_SUFFIXES = (".cc", ".h")
CITATION = re.compile(r"\b(?P<tree>scenarios|fixes)/(?P<name>[\w-]+)/(?P<file>[\w.-]+\.(?:cc|h))"
                      r":(?P<line>\d+)")
MARK = re.compile(r"//\s*(RACE|FIX):")


def sources(folder: Path) -> dict[str, list[str]]:
    return {p.name: p.read_text(encoding="utf-8").splitlines()
            for p in sorted(folder.iterdir()) if p.suffix in SOURCE_SUFFIXES}


def ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=ids(SCENARIOS))
def test_pair_fixed_twin_has_the_same_files_and_marks_every_changed_line(
        scenario: Path) -> None:
    bad = sources(scenario)
    fixed = sources(REPO / "fixes" / scenario.name)
    assert bad and set(bad) == set(fixed)
    for name in bad:
        changes = difflib.unified_diff(bad[name], fixed[name], n=0, lineterm="")
        added = [line[1:] for line in changes
                 if line.startswith("+") and not line.startswith("+++")]
        assert added, f"fixes/{scenario.name}/{name} is identical to its bad twin"
        unmarked = [line for line in added if "// FIX:" not in line]
        assert unmarked == [], f"fixes/{scenario.name}/{name}: changed lines without // FIX:"
        assert not any("// RACE:" in line for line in fixed[name])
    assert any("// RACE:" in line for lines in bad.values() for line in lines)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=ids(SCENARIOS))
def test_pair_sources_open_with_a_one_line_header(scenario: Path) -> None:
    for folder in (scenario, REPO / "fixes" / scenario.name):
        for name, lines in sources(folder).items():
            assert lines[0].startswith(f"// {scenario.name}: "), f"{folder.name}/{name}"
            assert not lines[1].startswith("//"), f"{folder.name}/{name}: header is one line"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=ids(SCENARIOS))
def test_pair_readme_quotes_and_cites_only_marked_lines(scenario: Path) -> None:
    readme = (scenario / "README.md").read_text(encoding="utf-8")
    for heading in ("**Reason.**", "**Bad**", "**Fix**", "**Caught by.**"):
        assert heading in readme, f"{scenario.name}/README.md lacks {heading}"
    trees = {"scenarios": sources(scenario), "fixes": sources(REPO / "fixes" / scenario.name)}
    quoted = 0
    for block in re.findall(r"```cpp\n(.*?)```", readme, re.S):
        for line in block.splitlines():
            if MARK.search(line):
                tree = "fixes" if "// FIX:" in line else "scenarios"
                assert any(line.strip() == source.strip()
                           for lines in trees[tree].values() for source in lines), \
                    f"{scenario.name}/README.md quotes a line that is not in {tree}/: {line}"
                quoted += 1
    assert quoted >= 2
    cited = 0
    for found in CITATION.finditer(readme):
        if found["name"] != scenario.name:
            continue
        lines = trees[found["tree"]][found["file"]]
        number = int(found["line"])
        assert 1 <= number <= len(lines) and MARK.search(lines[number - 1]), \
            f"{scenario.name}/README.md cites {found.group(0)}, a line without a mark"
        cited += 1
    assert cited >= 1, f"{scenario.name}/README.md cites no line of its sources"
