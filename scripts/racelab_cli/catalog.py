"""Discover scenarios (`scenarios/<name>/scenario.toml`) and load their manifests.

A manifest is validated field by field; the first problem raises `ManifestError` naming the
file and the field, so `racelab` can exit 2 with a message a person can act on. Unknown
keys are errors too: a misspelt bound ("max_peak_thread") must not silently vanish.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from . import patterns as P
from .model import Expectation, Invariant, LoadProfile, Scenario, ServerConfig

MANIFEST = "scenario.toml"
DEFAULT_IO_THREADS = 4
# What can catch a pair's bug ("caught_by"), as `racelab list` shows it.
DETECTORS = ("tsan", "thread-safety", "invariant", "leak-check", "thread-count", "watchdog",
             "asan")
INVARIANT_OPS = ("equals", "at_most", "at_least")

_TOP_KEYS = {"title", "bug", "guide_rule", "fix", "bug_class", "caught_by", "server", "load",
             "bad", "fixed", "invariants"}
_SERVER_KEYS = {"io_threads"}
_LOAD_KEYS = {"paths", "connections", "requests", "disconnects", "headers"}
_BAD_KEYS = {"expect"}
_EXPECT_KEYS = {"kind", "function"}
_FIXED_KEYS = {"clean", "min_ok", "max_peak_threads"}
_INVARIANT_KEYS = {"description", "get", *INVARIANT_OPS}


class ManifestError(Exception):
    """A scenario.toml that cannot be used; str() names the file and the field."""

    def __init__(self, path: Path, field: str | None, message: str) -> None:
        where = f"{path}: {field}" if field else str(path)
        super().__init__(f"{where}: {message}")
        self.path = path
        self.field = field


def scenario_names(root: Path) -> list[str]:
    """Names of the folders under root/scenarios that hold a scenario.toml, sorted."""
    base = root / "scenarios"
    if not base.is_dir():
        return []
    return sorted(p.parent.name for p in base.glob(f"*/{MANIFEST}") if p.is_file())


def load_all(root: Path) -> list[Scenario]:
    """Every scenario under root, validated. Raises ManifestError."""
    return [load(root, name) for name in scenario_names(root)]


def load(root: Path, name: str) -> Scenario:
    """One scenario by name. Raises ManifestError (also for a missing manifest)."""
    path = root / "scenarios" / name / MANIFEST
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ManifestError(path, None, "no such file") from None
    except tomllib.TOMLDecodeError as err:
        raise ManifestError(path, None, f"not valid TOML: {err}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ManifestError(path, None, f"cannot read: {err}") from None
    return _validate(name, path, data)


# --- Validation ----------------------------------------------------------------------------

def _validate(name: str, path: Path, data: dict[str, Any]) -> Scenario:
    check = _Checker(path)
    check.known_keys(data, _TOP_KEYS, "")
    title = check.text(data, "title")
    if "\n" in title:
        raise ManifestError(path, "title", "must be one line")
    server_table = data.get("server", {})
    if not isinstance(server_table, dict):
        raise ManifestError(path, "server", "must be a table")
    check.known_keys(server_table, _SERVER_KEYS, "server.")
    server = ServerConfig(io_threads=check.integer(server_table, "io_threads", "server.",
                                                   minimum=1, default=DEFAULT_IO_THREADS))
    load_table = check.table(data, "load")
    if "threads" in load_table:
        raise ManifestError(path, "load.threads", "the server's io threads are "
                            "[server] io_threads, apart from the load profile")
    check.known_keys(load_table, _LOAD_KEYS, "load.")
    paths = load_table.get("paths")
    if (not isinstance(paths, list) or not paths
            or not all(isinstance(p, str) and p.startswith("/") for p in paths)):
        raise ManifestError(path, "load.paths",
                            "must be a non-empty list of strings starting with '/'")
    headers = load_table.get("headers", [])
    if (not isinstance(headers, list)
            or not all(isinstance(h, str) and P.LOAD_HEADER.match(h) for h in headers)):
        raise ManifestError(path, "load.headers",
                            "must be a list of 'Name: value' strings, one line each")
    load = LoadProfile(
        paths=tuple(paths),
        connections=check.integer(load_table, "connections", "load.", minimum=1),
        requests=check.integer(load_table, "requests", "load.", minimum=1),
        disconnects=check.integer(load_table, "disconnects", "load.", minimum=0, default=0),
        headers=tuple(headers),
    )
    bad = check.table(data, "bad")
    check.known_keys(bad, _BAD_KEYS, "bad.")
    expects = bad.get("expect")
    if not isinstance(expects, list) or not expects:
        raise ManifestError(path, "bad.expect",
                            "needs at least one [[bad.expect]] table (kind, function)")
    expectations = []
    for index, item in enumerate(expects):
        prefix = f"bad.expect[{index}]."
        if not isinstance(item, dict):
            raise ManifestError(path, prefix[:-1], "must be a table")
        check.known_keys(item, _EXPECT_KEYS, prefix)
        kind = check.text(item, "kind", prefix)
        if not P.KIND_SLUG.match(kind):
            raise ManifestError(path, prefix + "kind",
                                f"{kind!r} is not a kind slug such as 'data-race'")
        function = check.text(item, "function", prefix) if "function" in item else None
        try:
            if function is not None:
                P.user_regex(function)
        except P.RegexError as err:
            raise ManifestError(path, prefix + "function",
                                f"{function!r} is not a valid regex: {err}") from None
        expectations.append(Expectation(kind=kind, function=function))
    fixed = check.table(data, "fixed")
    check.known_keys(fixed, _FIXED_KEYS, "fixed.")
    clean = fixed.get("clean", True)
    if not isinstance(clean, bool):
        raise ManifestError(path, "fixed.clean", "must be true or false")
    max_peak = None
    if "max_peak_threads" in fixed:
        max_peak = check.integer(fixed, "max_peak_threads", "fixed.", minimum=1)
    caught_by = data.get("caught_by")
    if (not isinstance(caught_by, list) or not caught_by
            or not all(isinstance(c, str) and c in DETECTORS for c in caught_by)):
        raise ManifestError(path, "caught_by", "must be a non-empty list of "
                            f"{', '.join(DETECTORS)}")
    return Scenario(
        name=name,
        title=title,
        bug=check.text(data, "bug"),
        guide_rule=check.text(data, "guide_rule"),
        fix=check.text(data, "fix"),
        bug_class=check.text(data, "bug_class"),
        caught_by=tuple(caught_by),
        server=server,
        load=load,
        bad_expect=tuple(expectations),
        fixed_clean=clean,
        min_ok=check.integer(fixed, "min_ok", "fixed.", minimum=1),
        max_peak_threads=max_peak,
        invariants=_invariants(check, data.get("invariants", [])),
        manifest=path,
    )


def _invariants(check: "_Checker", items: Any) -> tuple[Invariant, ...]:
    """[[invariants]] tables: description, get (a path), and one of equals / at_most /
    at_least: an integer, or "ok:/path" / "requests:/path" (a count of the load)."""
    if not isinstance(items, list):
        raise ManifestError(check.path, "invariants", "must be [[invariants]] tables")
    out = []
    for index, item in enumerate(items):
        prefix = f"invariants[{index}]."
        if not isinstance(item, dict):
            raise ManifestError(check.path, prefix[:-1], "must be a table")
        check.known_keys(item, _INVARIANT_KEYS, prefix)
        get = check.text(item, "get", prefix)
        if not get.startswith("/"):
            raise ManifestError(check.path, prefix + "get", "must be a path starting with '/'")
        ops = [op for op in INVARIANT_OPS if op in item]
        if len(ops) != 1:
            raise ManifestError(check.path, prefix[:-1],
                                f"needs exactly one of {', '.join(INVARIANT_OPS)}")
        value = item[ops[0]]
        text = str(value) if type(value) is int else value
        if not isinstance(text, str) or not (P.LOAD_COUNT.match(text)
                                             or text.lstrip("-").isdigit()):
            raise ManifestError(check.path, prefix + ops[0],
                                f"must be an integer or 'ok:/path' / 'requests:/path', "
                                f"got {value!r}")
        out.append(Invariant(description=check.text(item, "description", prefix), path=get,
                             op=ops[0], value=text))
    return tuple(out)


class _Checker:
    def __init__(self, path: Path) -> None:
        self.path = path

    def known_keys(self, table: dict[str, Any], allowed: set[str], prefix: str) -> None:
        for key in table:
            if key not in allowed:
                raise ManifestError(self.path, prefix + key,
                                    f"unknown key (expected one of {', '.join(sorted(allowed))})")

    def text(self, table: dict[str, Any], key: str, prefix: str = "") -> str:
        value = table.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ManifestError(self.path, prefix + key,
                                "missing" if value is None else "must be a non-empty string")
        return value.strip()

    def table(self, data: dict[str, Any], key: str) -> dict[str, Any]:
        value = data.get(key)
        if not isinstance(value, dict):
            raise ManifestError(self.path, key,
                                "missing table" if value is None else "must be a table")
        return value

    def integer(self, table: dict[str, Any], key: str, prefix: str, *, minimum: int,
                default: int | None = None) -> int:
        if key not in table:
            if default is None:
                raise ManifestError(self.path, prefix + key, "missing")
            return default
        value = table[key]
        if type(value) is not int or value < minimum:
            raise ManifestError(self.path, prefix + key,
                                f"must be an integer >= {minimum}, got {value!r}")
        return value
