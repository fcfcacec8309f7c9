"""Writes dashboards/lookalike.ndjson: OpenSearch Dashboards saved objects for the catalogue and ingest.

The objects are data, but their visualisation states are JSON inside JSON strings, which is
easy to get wrong by hand; this script is their source. Run it after editing:
``python dashboards/build_saved_objects.py``. Import the result with the one-liner in README.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PRODUCTS = "lookalike-products"
QUARANTINE = "lookalike-quarantine"


def index_pattern(object_id: str, title: str, time_field: str) -> dict[str, Any]:
    return {"type": "index-pattern", "id": object_id, "attributes": {"title": title, "timeFieldName": time_field}, "references": []}


def visualization(object_id: str, title: str, pattern: str, vis_type: str, aggs: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    state = {"title": title, "type": vis_type, "aggs": aggs, "params": params}
    search = {"query": {"query": "", "language": "kuery"}, "filter": [], "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index"}
    return {
        "type": "visualization",
        "id": object_id,
        "attributes": {
            "title": title,
            "visState": json.dumps(state),
            "uiStateJSON": "{}",
            "description": "",
            "version": 1,
            "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(search)},
        },
        "references": [{"name": "kibanaSavedObjectMeta.searchSourceJSON.index", "type": "index-pattern", "id": pattern}],
    }


def count(schema: str = "metric") -> dict[str, Any]:
    return {"id": "1", "enabled": True, "type": "count", "schema": schema, "params": {}}


def terms(field: str, size: int = 10, schema: str = "segment") -> dict[str, Any]:
    return {"id": "2", "enabled": True, "type": "terms", "schema": schema, "params": {"field": field, "size": size, "order": "desc", "orderBy": "1"}}


PIE = {"type": "pie", "addTooltip": True, "addLegend": True, "legendPosition": "right", "isDonut": True, "labels": {"show": False}}
BARS = {"type": "histogram", "addTooltip": True, "addLegend": True, "legendPosition": "right", "times": [], "addTimeMarker": False}


def objects() -> list[dict[str, Any]]:
    """The index patterns, the visualisations and the dashboard that holds them."""
    visuals = [
        visualization("lookalike-products-count", "lookalike: products", PRODUCTS, "metric", [count()],
                      {"addTooltip": True, "addLegend": False, "type": "metric", "metric": {"colorSchema": "Green to Red", "style": {"fontSize": 48}}}),
        visualization("lookalike-products-by-category", "lookalike: products by category", PRODUCTS, "pie", [count(), terms("category_path", 15)], PIE),
        visualization("lookalike-products-by-model", "lookalike: products by embedding model", PRODUCTS, "pie", [count(), terms("embedding_model", 5)], PIE),
        visualization("lookalike-products-updated", "lookalike: products written per hour", PRODUCTS, "histogram",
                      [count(), {"id": "2", "enabled": True, "type": "date_histogram", "schema": "segment", "params": {"field": "updated_at", "interval": "h", "min_doc_count": 1}}], BARS),
        visualization("lookalike-quarantine-by-reason", "lookalike: quarantine by reason", QUARANTINE, "pie", [count(), terms("reason", 15)], PIE),
        visualization("lookalike-quarantine-over-time", "lookalike: quarantined items by last failure", QUARANTINE, "histogram",
                      [count(), {"id": "2", "enabled": True, "type": "date_histogram", "schema": "segment", "params": {"field": "last_seen", "interval": "h", "min_doc_count": 1}},
                       {**terms("reason", 10, "group"), "id": "3"}], BARS),
    ]
    panels = []
    references = []
    for i, visual in enumerate(visuals):
        panels.append({
            "panelIndex": str(i + 1), "panelRefName": f"panel_{i}", "embeddableConfig": {}, "version": "2.19.1",
            "gridData": {"x": (i % 2) * 24, "y": (i // 2) * 15, "w": 24, "h": 15, "i": str(i + 1)},
        })
        references.append({"name": f"panel_{i}", "type": "visualization", "id": visual["id"]})
    dashboard = {
        "type": "dashboard",
        "id": "lookalike-overview",
        "attributes": {
            "title": "lookalike: catalogue and ingest",
            "description": "Products in the index, by category and model, what ingest wrote, and what it quarantined and why.",
            "panelsJSON": json.dumps(panels),
            "optionsJSON": json.dumps({"useMargins": True, "hidePanelTitles": False}),
            "timeRestore": True, "timeFrom": "now-7d", "timeTo": "now", "refreshInterval": {"pause": False, "value": 30000},
            "version": 1,
            "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps({"query": {"query": "", "language": "kuery"}, "filter": []})},
        },
        "references": references,
    }
    patterns = [index_pattern(PRODUCTS, "products", "updated_at"), index_pattern(QUARANTINE, "products-quarantine", "last_seen")]
    return [*patterns, *visuals, dashboard]


def main() -> None:
    target = Path(__file__).with_name("lookalike.ndjson")
    target.write_text("".join(json.dumps(o, sort_keys=True) + "\n" for o in objects()), encoding="utf-8")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
