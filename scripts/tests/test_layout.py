"""The CLI's structure, held in place: one pipeline, one model, every regex in one file.

These read the package's own source (ast), so a change that brings back a second copy of
the pipeline or a writer that decides for itself fails here, not in review.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from conftest import REPO

PACKAGE = REPO / "scripts" / "racelab_cli"
MODULES = sorted(PACKAGE.rglob("*.py"))


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def imported_modules(path: Path) -> set[str]:
    """The racelab_cli modules `path` imports, by name ("parse", "frames", ...)."""
    names: set[str] = set()
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.ImportFrom) and node.level:
            if node.module:
                names.add(node.module.split(".")[-1])
            names.update(alias.name for alias in node.names)
    return names


def relative(path: Path) -> str:
    return str(path.relative_to(PACKAGE))


def test_only_the_pipeline_imports_the_parser() -> None:
    importers = sorted(relative(p) for p in MODULES if "parse" in imported_modules(p))
    assert importers == ["collect.py"]


def test_no_regex_is_compiled_or_applied_outside_patterns() -> None:
    calls = {"compile", "search", "match", "fullmatch", "sub", "subn", "findall", "finditer",
             "split"}
    offenders = []
    for path in MODULES:
        if path.name == "patterns.py":
            continue
        for node in ast.walk(tree(path)):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "re"
                    and node.func.attr in calls):
                offenders.append(f"{relative(path)}:{node.lineno} re.{node.func.attr}")
    assert offenders == []


@pytest.mark.parametrize("path", sorted((PACKAGE / "reports").glob("*.py")),
                         ids=lambda p: p.name)
def test_writers_print_the_model_and_decide_nothing(path: Path) -> None:
    """No isinstance on results, and no comparison with a verdict or status spelled as a
    string: the model says what is expected, blocking or a failure."""
    words = {"pass", "fail", "error", "new", "known", "suppressed", "expected", "bad",
             "fixed"}
    offenders = []
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance":
            offenders.append(f"{path.name}:{node.lineno} isinstance")
        if isinstance(node, ast.Compare):
            for side in (node.left, *node.comparators):
                if isinstance(side, ast.Constant) and side.value in words:
                    offenders.append(f"{path.name}:{node.lineno} compares with "
                                     f"{side.value!r}")
    assert offenders == []


def test_nothing_branches_on_the_text_of_a_message() -> None:
    """`"truncated" in message`, `reason.startswith(...)`, `source.endswith("output.txt")`:
    problems have kinds; decisions use them."""
    offenders = []
    for path in MODULES:
        for node in ast.walk(tree(path)):
            if (isinstance(node, ast.Compare) and isinstance(node.left, ast.Constant)
                    and isinstance(node.left.value, str) and node.left.value.isalpha()
                    and len(node.left.value) > 3
                    and any(isinstance(op, ast.In) for op in node.ops)
                    and any(isinstance(c, ast.Attribute) and c.attr in {"message", "reason"}
                            for c in node.comparators)):
                offenders.append(f"{relative(path)}:{node.lineno}")
    assert offenders == []


def test_every_document_links_only_inside_the_repository() -> None:
    """A user's clone holds only this repository: every relative link in its Markdown must
    resolve to a file or folder inside it, and no module's docstring may send a reader to
    a document the repository does not hold."""
    documents = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md")),
                 *sorted((REPO / "ci").rglob("README.md")),
                 *sorted((REPO / "scenarios").rglob("README.md"))]
    broken = []
    for document in documents:
        text = re.sub(r"```.*?```|`[^`\n]*`", "", document.read_text(encoding="utf-8"),
                      flags=re.S)  # code is not a link
        for target in re.findall(r"\]\(([^)#\s]+)", text):
            if "://" in target:
                continue
            resolved = (document.parent / target).resolve()
            if not resolved.is_relative_to(REPO) or not resolved.exists():
                broken.append(f"{document.relative_to(REPO)} -> {target}")
    assert broken == []
    named = set()
    for path in MODULES:
        named |= set(re.findall(r"\b([A-Z][A-Z_]+\.md)\b", path.read_text(encoding="utf-8")))
    assert {name for name in named if not list(REPO.rglob(name))} == set()
