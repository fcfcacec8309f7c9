"""The reports listing (``api/admin/reports.py``): whatever ``bench`` and ``eval`` wrote, by kind."""

from __future__ import annotations

import json
from pathlib import Path

from api.admin.reports import MAX_ROWS, as_table, list_reports, report_image


def test_reports_are_listed_by_name_and_kind(tmp_path: Path) -> None:
    (tmp_path / "latency.json").write_text(json.dumps({"p50_ms": 12, "p95_ms": 30}))
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "notes.md").write_text("# Notes\nfine")
    (tmp_path / "recall.png").write_bytes(b"\x89PNG")
    (tmp_path / ".hidden.json").write_text("{}")
    (tmp_path / "raw.csv").write_text("a,b")
    (tmp_path / "old").mkdir()

    reports = {report["name"]: report for report in list_reports(tmp_path)}

    assert list(reports) == ["broken.json", "latency.json", "notes.md", "recall.png"]
    assert reports["latency.json"] == {"name": "latency.json", "kind": "json", "table": {"rows": [("p50_ms", 12), ("p95_ms", 30)]}}
    assert reports["broken.json"]["kind"] == "text" and "not valid JSON" in reports["broken.json"]["text"]
    assert reports["notes.md"] == {"name": "notes.md", "kind": "text", "text": "# Notes\nfine"}
    assert reports["recall.png"] == {"name": "recall.png", "kind": "image"}


def test_a_missing_directory_has_no_reports(tmp_path: Path) -> None:
    assert list_reports(tmp_path / "nowhere") == []


def test_only_plots_in_the_directory_itself_are_served(tmp_path: Path) -> None:
    (tmp_path / "plot.svg").write_text("<svg/>")
    (tmp_path / "figures.json").write_text("{}")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "plot.png").write_bytes(b"\x89PNG")

    assert report_image(tmp_path, "plot.svg") == (b"<svg/>", "image/svg+xml")
    for name in ("figures.json", "sub/plot.png", "../plot.svg", ".plot.png", "sub\\plot.png", "missing.png"):
        assert report_image(tmp_path, name) is None, name


def test_tables_take_the_shape_of_the_data() -> None:
    records = [{"model": "offline", "recall": 0.9}, {"model": "clip", "ndcg": 0.8}]

    assert as_table(records) == {"columns": ["model", "recall", "ndcg"], "records": [["offline", 0.9, None], ["clip", None, 0.8]], "more": 0}
    assert as_table(["a", 1, None]) == "a, 1, null"
    assert as_table(list(range(MAX_ROWS + 5))).endswith(" … and 5 more")
    assert as_table({"a": {"b": {"c": {"d": {"e": 1}}}}}) == {"rows": [("a", {"rows": [("b", {"rows": [("c", {"rows": [("d", '{"e": 1}')]})]})]})]}
