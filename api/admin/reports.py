"""The benchmark and evaluation reports in ``reports/``, listed for the admin views.

Reports are whatever the ``bench`` and ``eval`` commands wrote: JSON figures (shown as tables),
Markdown notes (shown as text) and PNG or SVG plots (shown as images). Nothing here knows a
report's schema, so a new kind of report shows up without a change.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

IMAGE_TYPES = {".png": "image/png", ".svg": "image/svg+xml"}
#: Rows shown of a long list in a report; the rest is counted, not shown.
MAX_ROWS = 60


def list_reports(directory: Path) -> list[dict[str, Any]]:
    """Every report in *directory*, by name: ``kind`` is ``json``, ``text`` or ``image``."""
    if not directory.is_dir():
        return []
    reports = []
    for path in sorted(directory.iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue
        suffix = path.suffix.lower()
        if suffix == ".json":
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                reports.append({"name": path.name, "kind": "text", "text": f"(not valid JSON: {exc})"})
                continue
            reports.append({"name": path.name, "kind": "json", "table": as_table(data)})
        elif suffix == ".md":
            reports.append({"name": path.name, "kind": "text", "text": path.read_text(encoding="utf-8", errors="replace")})
        elif suffix in IMAGE_TYPES:
            reports.append({"name": path.name, "kind": "image"})
    return reports


def report_image(directory: Path, name: str) -> tuple[bytes, str] | None:
    """The bytes and media type of the plot *name* in *directory*; None for anything else (no paths)."""
    path = directory / name
    if "/" in name or "\\" in name or name.startswith(".") or path.suffix.lower() not in IMAGE_TYPES or not path.is_file():
        return None
    return path.read_bytes(), IMAGE_TYPES[path.suffix.lower()]


def as_table(value: Any, depth: int = 0) -> Any:
    """*value* shaped for the template's table macro.

    A dict becomes ``{"rows": [(key, cell), ...]}``; a list of dicts ``{"columns", "records"}``;
    other lists and scalars stay as they are. Deep nesting is shown as JSON text.
    """
    if depth > 3:
        return json.dumps(value)
    if isinstance(value, dict):
        return {"rows": [(str(k), as_table(v, depth + 1)) for k, v in value.items()]}
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        columns = list(dict.fromkeys(k for v in value for k in v))
        records = [[as_table(v.get(c), depth + 1) for c in columns] for v in value[:MAX_ROWS]]
        return {"columns": columns, "records": records, "more": max(0, len(value) - MAX_ROWS)}
    if isinstance(value, list):
        shown = ", ".join(json.dumps(v) if not isinstance(v, str) else v for v in value[:MAX_ROWS])
        return shown + (f" … and {len(value) - MAX_ROWS} more" if len(value) > MAX_ROWS else "")
    return value
