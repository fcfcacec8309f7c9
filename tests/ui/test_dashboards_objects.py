"""The OpenSearch Dashboards saved objects: generated from their script, consistent, on fields that exist."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import mappings
from tests.support.browser import REPO


def test_the_saved_objects_are_current_and_reference_what_exists(tmp_path: Path) -> None:
    committed = (REPO / "dashboards" / "lookalike.ndjson").read_text(encoding="utf-8")
    script = tmp_path / "build_saved_objects.py"
    script.write_text((REPO / "dashboards" / "build_saved_objects.py").read_text(encoding="utf-8"))
    subprocess.run([sys.executable, str(script)], check=True, capture_output=True)
    assert (tmp_path / "lookalike.ndjson").read_text(encoding="utf-8") == committed, "run python dashboards/build_saved_objects.py"

    objects = [json.loads(line) for line in committed.splitlines()]
    by_id = {(o["type"], o["id"]): o for o in objects}
    fields = {
        "products": set(mappings.load("products", 1)["mappings"]["properties"]),
        "products-quarantine": set(mappings.load("quarantine", 1)["mappings"]["properties"]),
    }
    for obj in objects:
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in by_id, f"{obj['id']} refers to a missing {ref['type']} {ref['id']}"
        if obj["type"] == "index-pattern":
            assert obj["attributes"]["timeFieldName"] in fields[obj["attributes"]["title"]]
        if obj["type"] == "visualization":
            pattern = by_id[("index-pattern", obj["references"][0]["id"])]["attributes"]["title"]
            for agg in json.loads(obj["attributes"]["visState"])["aggs"]:
                if "field" in agg["params"]:
                    assert agg["params"]["field"] in fields[pattern], f"{obj['id']}: no field {agg['params']['field']} in {pattern}"
    dashboard = by_id[("dashboard", "lookalike-overview")]
    panels = json.loads(dashboard["attributes"]["panelsJSON"])
    assert {p["panelRefName"] for p in panels} == {r["name"] for r in dashboard["references"]}
