"""Catalogue files written the way a shop exports them."""

from __future__ import annotations

import dataclasses
import json
import uuid
from pathlib import Path
from typing import Any

from plugin.config import Config


def write_catalogue(path: Path, rows: list[dict[str, Any] | str]) -> Path:
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows), encoding="utf-8")
    return path


#: The demo products a tagged shop holds: shoes and plants the shop tagged, computers it did not.
TAGGED_SHOP = (
    "ultraboost-running-shoe", "freerun-running-shoe", "hi-top-basketball-shoe", "pureboost-running-shoe", "runx-running-shoe",
    "allstar-sneakers", "spiky-cactus", "tulip-pot", "hanging-plant", "aloe-vera", "fern-blechnum-gibbum", "assorted-succulents",
    "laptop", "tablet", "cordless-mouse", "gaming-pc",
)
#: The product the shop has not categorised or tagged yet: a running shoe by its words.
UNTAGGED = "trail-runner"


def tagged_shop_rows(demo_catalogue: Path) -> list[dict[str, Any]]:
    """The :data:`TAGGED_SHOP` rows of the demo catalogue, and :data:`UNTAGGED`: a copy of a running
    shoe under new words, without category or tags."""
    rows = {row["id"]: row for row in map(json.loads, demo_catalogue.read_text(encoding="utf-8").splitlines())}
    shoe = rows["runx-running-shoe"]
    untagged = {key: value for key, value in shoe.items() if key not in ("category", "tags")} | {
        "id": UNTAGGED, "title": "Trail Runner", "description": "A light running shoe with a grippy sole for trails and roads.",
    }
    return [rows[pid] for pid in TAGGED_SHOP] + [untagged]


def tagged_shop_config(base: Config, directory: Path) -> Config:
    """*base* with an alias of its own holding :func:`tagged_shop_rows`, ingested by one run in this process."""
    from ingest import (
        runner,  # the ingest pipeline loads only for the tests that ingest
    )
    from plugin.opensearch.client import connect
    from sample_data.vendure import prepare_vendure

    demo = prepare_vendure(base.data_dir)
    config = dataclasses.replace(
        base, index_alias=f"test-tagged-{uuid.uuid4().hex[:8]}", fetch=dataclasses.replace(base.fetch, local_roots=(demo.parent / "images",))
    )
    client = connect(config)
    runner.run_catalogue(client, config, write_catalogue(directory / "tagged.jsonl", tagged_shop_rows(demo)), eager=True)
    client.close()
    return config
