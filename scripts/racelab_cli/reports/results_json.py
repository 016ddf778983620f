"""results.json: `racelab.results/1` (docs/reference.md; docs/schemas/results.schema.json), two-space indent, keys sorted so that
two results diff cleanly."""

from __future__ import annotations

import json
from pathlib import Path

from ..model import Results

FILE_NAME = "results.json"


def write(out: Path, results: Results) -> Path:
    path = out / FILE_NAME
    path.write_text(json.dumps(results.to_json(), indent=2, sort_keys=True) + "\n",
                    encoding="utf-8")
    return path
