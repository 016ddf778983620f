"""Scenario discovery and manifest validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import MANIFEST, REPO
from racelab_cli import catalog
from racelab_cli.model import Expectation, LoadProfile, ServerConfig


def write(root: Path, name: str, text: str) -> Path:
    folder = root / "scenarios" / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "scenario.toml"
    path.write_text(text, encoding="utf-8")
    return path


def valid(**overrides) -> str:
    values = dict(name="x", kind="data-race", function='function = "Handle(Hit|Stats)"',
                  requests=40, min_ok=40, extra_fixed="max_peak_threads = 16")
    values.update(overrides)
    return MANIFEST.format(**values)


def test_catalog_loads_a_valid_manifest(tmp_path: Path) -> None:
    path = write(tmp_path, "counter", valid())
    scenario = catalog.load(tmp_path, "counter")
    assert scenario.name == "counter"
    assert scenario.title == "Fake x scenario"
    assert scenario.load == LoadProfile(paths=("/hit", "/stats"), connections=2, requests=40,
                                        disconnects=0)
    assert scenario.server == ServerConfig(io_threads=3)
    assert (scenario.bug_class, scenario.caught_by) == ("fake", ("tsan",))
    assert scenario.bad_expect == (Expectation("data-race", "Handle(Hit|Stats)"),)
    assert scenario.fixed_clean is True
    assert scenario.min_ok == 40 and scenario.max_peak_threads == 16
    assert scenario.manifest == path


def test_catalog_reads_the_header_lines_of_the_load(tmp_path: Path) -> None:
    headers = '["X-Forwarded-For: 2001:db8::{n}", "X-Forwarded-For:203.0.113.7"]'
    write(tmp_path, "x", valid().replace("[load]\n", f"[load]\nheaders = {headers}\n"))
    assert catalog.load(tmp_path, "x").load.headers == (
        "X-Forwarded-For: 2001:db8::{n}", "X-Forwarded-For:203.0.113.7")
    write(tmp_path, "y", valid())
    assert catalog.load(tmp_path, "y").load.headers == ()


def test_catalog_lists_only_folders_with_a_manifest(tmp_path: Path) -> None:
    write(tmp_path, "b", valid())
    write(tmp_path, "a", valid())
    (tmp_path / "scenarios" / "notes").mkdir()
    assert catalog.scenario_names(tmp_path) == ["a", "b"]
    assert catalog.scenario_names(tmp_path / "nowhere") == []


def test_catalog_loads_every_manifest_of_the_repository() -> None:
    scenarios = catalog.load_all(REPO)
    assert [s.name for s in scenarios] == catalog.scenario_names(REPO)
    for scenario in scenarios:
        assert scenario.bad_expect and scenario.min_ok >= 1


@pytest.mark.parametrize("edit, field, message", [
    (lambda t: t.replace('title = "Fake x scenario"\n', ""), "title", "missing"),
    (lambda t: t.replace("connections = 2", "connections = 0"), "load.connections",
     "must be an integer >= 1"),
    (lambda t: t.replace("requests = 40", "requests = true"), "load.requests",
     "must be an integer >= 1"),
    (lambda t: t.replace('paths = ["/hit", "/stats"]', 'paths = ["hit"]'), "load.paths",
     "starting with '/'"),
    (lambda t: t.replace("[load]\n", '[load]\nheaders = ["X Forwarded: 1"]\n'),
     "load.headers", "'Name: value' strings"),
    (lambda t: t.replace("[load]\n", '[load]\nheaders = ["X-A: 1\\r\\nX-B: 2"]\n'),
     "load.headers", "one line each"),
    (lambda t: t.replace("[load]\n", '[load]\nheaders = "X-A: 1"\n'), "load.headers",
     "must be a list"),
    (lambda t: t.replace('function = "Handle(Hit|Stats)"', 'function = "Handle(("'),
     "bad.expect[0].function", "not a valid regex"),
    (lambda t: t.replace('kind = "data-race"', 'kind = "Data Race"'), "bad.expect[0].kind",
     "not a kind slug"),
    (lambda t: t.replace("min_ok = 40", "min_okay = 40"), "fixed.min_okay", "unknown key"),
    (lambda t: t.replace("min_ok = 40\n", ""), "fixed.min_ok", "missing"),
    (lambda t: t.replace("clean = true", 'clean = "yes"'), "fixed.clean", "true or false"),
    (lambda t: t.replace("[[bad.expect]]", "[bad.other]"), "bad.other", "unknown key"),
])
def test_catalog_names_file_and_field_of_a_bad_manifest(tmp_path: Path, edit, field: str,
                                                        message: str) -> None:
    path = write(tmp_path, "broken", edit(valid()))
    with pytest.raises(catalog.ManifestError) as raised:
        catalog.load(tmp_path, "broken")
    assert raised.value.field == field
    assert str(raised.value).startswith(f"{path}: {field}: ")
    assert message in str(raised.value)


def test_catalog_requires_at_least_one_bad_expectation(tmp_path: Path) -> None:
    text = valid()
    start = text.index("[[bad.expect]]")
    end = text.index("[fixed]")
    write(tmp_path, "empty", text[:start] + "[bad]\n" + text[end:])
    with pytest.raises(catalog.ManifestError, match=r"bad.expect: needs at least one"):
        catalog.load(tmp_path, "empty")


def test_catalog_reports_invalid_toml(tmp_path: Path) -> None:
    path = write(tmp_path, "junk", "title = \n")
    with pytest.raises(catalog.ManifestError, match="not valid TOML") as raised:
        catalog.load(tmp_path, "junk")
    assert str(raised.value).startswith(str(path))


INVARIANT_TABLE = """
[[invariants]]
description = "stats add up"
get = "/stats"
{op} = {value}
"""


def test_catalog_reads_invariants_with_a_literal_or_a_load_count(tmp_path: Path) -> None:
    write(tmp_path, "x", valid(extra_fixed=INVARIANT_TABLE.format(op="at_most", value=7)
                               + INVARIANT_TABLE.format(op="equals", value='"ok:/hit"')))
    first, second = catalog.load(tmp_path, "x").invariants
    assert (first.path, first.op, first.value) == ("/stats", "at_most", "7")
    assert (second.op, second.value) == ("equals", "ok:/hit")


@pytest.mark.parametrize("table, field, message", [
    (INVARIANT_TABLE.format(op="equals", value='"ok:hit"'), "invariants[0].equals",
     "must be an integer or 'ok:/path'"),
    (INVARIANT_TABLE.format(op="roughly", value="3"), "invariants[0].roughly", "unknown key"),
    (INVARIANT_TABLE.replace('get = "/stats"', 'get = "stats"').format(op="equals", value=1),
     "invariants[0].get", "starting with '/'"),
    (INVARIANT_TABLE.format(op="equals", value=1) + "at_least = 0\n", "invariants[0]",
     "exactly one of"),
])
def test_catalog_names_the_field_of_a_bad_invariant(tmp_path: Path, table: str, field: str,
                                                    message: str) -> None:
    write(tmp_path, "x", valid(extra_fixed=table))
    with pytest.raises(catalog.ManifestError) as caught:
        catalog.load(tmp_path, "x")
    assert f"scenario.toml: {field}: " in str(caught.value)
    assert message in str(caught.value)


def test_catalog_refuses_io_threads_in_the_load_profile(tmp_path: Path) -> None:
    write(tmp_path, "x", valid().replace("[load]\n", "[load]\nthreads = 4\n"))
    with pytest.raises(catalog.ManifestError, match="load.threads: the server's io threads"):
        catalog.load(tmp_path, "x")
