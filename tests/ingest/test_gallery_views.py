"""Gallery views: tilted, small and cut-out views of each catalogue photo, indexed beside it by the
real pipeline into a real node, found by a shopper's tilted photo, never shown, and re-embedded
only when the choice of views grows."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from opensearchpy import OpenSearch
from PIL import Image

from plugin.config import Config
from plugin.errors import IndexLifecycleError
from plugin.images.gallery import VIEWS
from plugin.models.registry import backend_for
from plugin.opensearch import indices
from plugin.search.request import Query
from plugin.search.service import search
from tests.support.catalogues import write_catalogue
from tests.support.images import jpeg
from tests.support.ingest import ingest_here, row
from tests.support.scenes import background_photo, scene

TITLES = ("Tennis Ball", "Laptop", "Tripod", "Allstar Sneakers", "Leather Sofa")


def with_views(config: Config, *views: str) -> Config:
    return dataclasses.replace(config, gallery_views=views)


def demo_rows(products: dict[str, dict[str, Any]], image_dir: Path) -> list[dict[str, Any]]:
    """Five demo products, their photos copied where the test's ingest may read them."""
    rows = []
    for number, title in enumerate(TITLES):
        photo = image_dir / f"{number}.jpg"
        shutil.copyfile(products[title]["images"][0], photo)
        rows.append(row(f"p{number}", photo, title=title))
    return rows


def entries_of(client: OpenSearch, config: Config, product_id: str) -> list[dict[str, Any]]:
    return list(client.get(index=config.index_alias, id=product_id)["_source"]["images"])


def cosine(a: Any, b: Any) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_a_tilted_photo_meets_its_products_tilted_view_and_shoppers_see_only_photos(
    client: OpenSearch, ingest_config: Config, image_dir: Path, products: dict[str, dict[str, Any]]
) -> None:
    config = with_views(ingest_config, "rotate_45", "rotate_315", "small")
    rows = demo_rows(products, image_dir)

    summary = ingest_here(client, config, write_catalogue(image_dir / "c.jsonl", rows))

    assert summary["indexed"] == len(rows)
    stored = entries_of(client, config, "p0")
    assert [entry.get("view") for entry in stored] == [None, "rotate_45", "rotate_315", "small"]
    assert stored[0]["gallery_views"] == ["rotate_45", "rotate_315", "small"]
    assert {entry["fingerprint"] for entry in stored} == {stored[0]["fingerprint"]}

    # A shopper's photo of the ball, tilted by 45°: the product's tilted view answers it
    # more closely than its upright photo could.
    tilted = VIEWS["rotate_45"](Image.open(image_dir / "0.jpg").convert("RGB"), None)
    assert tilted is not None
    vector = backend_for(config).embed_images([tilted])[0]
    result = search(client, config.index_alias, Query(image_vector=vector.tolist(), size=5))
    assert result.hits[0]["product_id"] == "p0"
    assert cosine(vector, stored[1]["vector"]) > cosine(vector, stored[0]["vector"]) + 0.05
    assert [image.get("view") for image in result.hits[0]["images"]] == [None]  # the views are searched, never shown


def test_views_are_reused_when_unchanged_dropped_without_a_model_call_and_made_when_added(
    client: OpenSearch, ingest_config: Config, image_dir: Path, products: dict[str, dict[str, Any]]
) -> None:
    catalogue = write_catalogue(image_dir / "c.jsonl", demo_rows(products, image_dir)[:3])
    ingest_here(client, with_views(ingest_config, "rotate_45"), catalogue)

    again = ingest_here(client, with_views(ingest_config, "rotate_45"), catalogue)
    assert (again["unchanged"], again["images_embedded"]) == (3, 0)

    grown = ingest_here(client, with_views(ingest_config, "rotate_45", "small"), catalogue)
    assert (grown["updated"], grown["images_embedded"]) == (3, 3)
    assert [entry.get("view") for entry in entries_of(client, ingest_config, "p1")] == [None, "rotate_45", "small"]

    dropped = ingest_here(client, ingest_config, catalogue)
    assert (dropped["updated"], dropped["images_embedded"]) == (3, 0)
    assert [set(entry) & {"view", "gallery_views"} for entry in entries_of(client, ingest_config, "p1")] == [set()]


def test_a_photo_given_twice_keeps_one_set_of_views_per_copy_through_re_ingests(
    client: OpenSearch, ingest_config: Config, image_dir: Path, products: dict[str, dict[str, Any]]
) -> None:
    photo = demo_rows(products, image_dir)[0]["images"][0]
    catalogue = write_catalogue(image_dir / "c.jsonl", [row("twice", photo, photo)])
    config = with_views(ingest_config, "rotate_45", "small")
    ingest_here(client, config, catalogue)
    first = entries_of(client, config, "twice")

    for _ in range(2):
        again = ingest_here(client, config, catalogue)
        assert (again["unchanged"], again["images_embedded"]) == (1, 0)
    assert [entry.get("view") for entry in first] == [None, "rotate_45", "small", None, "rotate_45", "small"]
    assert entries_of(client, config, "twice") == first


def test_an_index_of_mapping_version_2_is_refused_gallery_views_with_the_way_out(
    client: OpenSearch, ingest_config: Config, image_dir: Path, products: dict[str, dict[str, Any]]
) -> None:
    spec = backend_for(ingest_config).spec
    older = indices.create_product_index(client, ingest_config, spec, version=2)
    indices.swap_alias(client, ingest_config.index_alias, older)
    catalogue = write_catalogue(image_dir / "c.jsonl", demo_rows(products, image_dir)[:1])

    with pytest.raises(IndexLifecycleError, match="mapping v2, which has no room for them; re-ingest .* --new-index"):
        ingest_here(client, with_views(ingest_config, "small"), catalogue)
    assert ingest_here(client, ingest_config, catalogue)["indexed"] == 1  # without views, version 2 serves as before


def test_the_object_view_cuts_the_product_out_of_a_lifestyle_photo(
    client: OpenSearch, ingest_config: Config, image_dir: Path, products: dict[str, dict[str, Any]], base_config: Config
) -> None:
    ball = products["Tennis Ball"]["images"][0]
    lifestyle = scene(background_photo(base_config.data_dir), [("Tennis Ball", ball, (0.35, 0.25, 0.3))])
    (image_dir / "lifestyle.jpg").write_bytes(jpeg(lifestyle.image, quality=90))
    plain = Image.new("RGB", (400, 300), (235, 235, 235))
    plain.save(image_dir / "plain.png")
    rows = [row("lifestyle", image_dir / "lifestyle.jpg"), row("plain", image_dir / "plain.png")]

    ingest_here(client, with_views(ingest_config, "object"), write_catalogue(image_dir / "c.jsonl", rows))

    cut = entries_of(client, ingest_config, "lifestyle")
    assert [entry.get("view") for entry in cut] == [None, "object"]
    assert [entry.get("view") for entry in entries_of(client, ingest_config, "plain")] == [None]  # nothing in it to cut out
    alone = backend_for(ingest_config).embed_images([Image.open(ball).convert("RGB")])[0]
    assert cosine(alone, cut[1]["vector"]) > cosine(alone, cut[0]["vector"]) + 0.1
