"""Reading the files a user hands us: every failure is one line naming the file, raised as
the caller's own error type, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_text(path: Path | str, error: type[Exception], what: str = "file") -> str:
    """The UTF-8 text of `path`; raises `error` with "PATH: problem" when it cannot."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except IsADirectoryError:
        raise error(f"{path}: is a directory, not a {what}") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not a text file (not UTF-8)") from None
    except OSError as err:
        raise error(f"{path}: cannot read: {err.strerror or err}") from None


def read_json(path: Path | str, error: type[Exception], what: str = "file") -> Any:
    """The JSON value in `path`; raises `error` with "PATH: problem" when it cannot."""
    text = read_text(path, error, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise error(f"{path}: not valid JSON: {err.msg} at line {err.lineno} "
                    f"column {err.colno}") from None
