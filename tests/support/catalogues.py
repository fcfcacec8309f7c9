"""Catalogue files written the way a shop exports them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_catalogue(path: Path, rows: list[dict[str, Any] | str]) -> Path:
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows), encoding="utf-8")
    return path
