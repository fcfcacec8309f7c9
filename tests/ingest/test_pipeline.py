"""The ingest pipeline, run in-process (``--eager``) against the real node with the real offline model."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import OpenSearch
from PIL import Image

from ingest import runner
from plugin.config import Config
from plugin.models.registry import load_backend
from plugin.models.base import EmbeddingSpec
from plugin.opensearch.indices import create_product_index, swap_alias
from plugin.catalogue.quarantine import list_records
from plugin.images.thumbnails import load_thumbnail
from tests.support.catalogues import write_catalogue
from tests.support.images import product_photo


def ingest(client: OpenSearch, config: Config, catalogue: Path) -> dict[str, int]:
    return runner.run_catalogue(client, config, catalogue, eager=True)


def row(pid: str, *images: Path | str, **fields: Any) -> dict[str, Any]:
    return {"id": pid, "title": fields.pop("title", f"Product {pid}"), "price": 10, "images": [str(p) for p in images], **fields}


def test_only_what_changed_is_recomputed(client: OpenSearch, ingest_config: Config, image_dir: Path) -> None:
    photos = [product_photo(image_dir / f"{i}.jpg", seed=i) for i in range(4)]
    rows = [row(f"c{i}", photos[i], tags=["new"]) for i in range(4)]
    catalogue = image_dir / "c.jsonl"

    first = ingest(client, ingest_config, write_catalogue(catalogue, rows))
    assert (first["indexed"], first["images_embedded"], first["texts_embedded"]) == (4, 4, 4)
    version_before = client.get(index=ingest_config.index_alias, id="c3")["_version"]

    rows[0]["price"] = 8.5  # price only
    rows[1]["tags"] = ["new", "sale"]  # tags only
    product_photo(photos[2], seed=42)  # new bytes at the same path
    rows[3]["title"] = rows[3]["title"]  # nothing at all
    second = ingest(client, ingest_config, write_catalogue(catalogue, rows))

    assert (second["updated"], second["unchanged"]) == (3, 1)
    assert (second["images_embedded"], second["texts_embedded"]) == (1, 0)
    assert client.get(index=ingest_config.index_alias, id="c3")["_version"] == version_before  # not even rewritten

    rows[3]["title"] = "Renamed product"
    third = ingest(client, ingest_config, write_catalogue(catalogue, rows))
    assert (third["updated"], third["images_embedded"], third["texts_embedded"]) == (1, 0, 1)


def test_a_product_with_several_images_is_one_document_found_by_each_image(
    client: OpenSearch, ingest_config: Config, image_dir: Path
) -> None:
    front, back = product_photo(image_dir / "front.jpg", seed=1), product_photo(image_dir / "back.jpg", seed=2)
    others = [product_photo(image_dir / f"o{i}.jpg", seed=10 + i) for i in range(3)]
    rows = [row("jacket", front, back)] + [row(f"o{i}", p) for i, p in enumerate(others)]
    ingest(client, ingest_config, write_catalogue(image_dir / "c.jsonl", rows))
    backend = load_backend(ingest_config.model, ingest_config.torch_threads)

    for photo in (front, back):
        vector = backend.embed_images([Image.open(photo).convert("RGB")])[0].tolist()
        hits = client.search(
            index=ingest_config.index_alias,
            body={"query": {"nested": {"path": "images", "score_mode": "max", "query": {"knn": {"images.vector": {"vector": vector, "k": 4}}}}}},
        )["hits"]["hits"]
        ids = [hit["_id"] for hit in hits]
        assert ids[0] == "jacket" and ids.count("jacket") == 1

    document = client.get(index=ingest_config.index_alias, id="jacket")["_source"]
    assert [image["url"] for image in document["images"]] == [str(front), str(back)]
    assert all(len(image["vector"]) == 1280 and len(image["phash"]) == 16 for image in document["images"])
    assert len(document["text_vector"]) == 384
    assert document["dup_group"] == document["images"][0]["phash"]
    assert document["embedding_model"] == "efficientnet-lite0+all-minilm-l6-v2"


def test_labels_are_kept_apart_from_the_shops_tags_and_thumbnails_are_served(
    client: OpenSearch, ingest_config: Config, image_dir: Path
) -> None:
    photo = product_photo(image_dir / "p.jpg", seed=5, size=(900, 600))
    ingest(client, ingest_config, write_catalogue(image_dir / "c.jsonl", [row("p", photo, tags=["Summer"])]))

    document = client.get(index=ingest_config.index_alias, id="p")["_source"]
    assert document["tags"] == ["summer"]
    assert "summer" not in document["labels"]
    assert document["labels"] == document["images"][0]["labels"]
    webp = load_thumbnail(client, ingest_config.thumbnail_index, document["images"][0]["fingerprint"])
    assert webp is not None
    thumbnail = Image.open(io.BytesIO(webp))
    assert thumbnail.format == "WEBP" and thumbnail.size == (256, 171)


def test_a_delete_row_removes_the_product(client: OpenSearch, ingest_config: Config, image_dir: Path) -> None:
    photo = product_photo(image_dir / "p.jpg", seed=3)
    ingest(client, ingest_config, write_catalogue(image_dir / "a.jsonl", [row("keep", photo), row("drop", photo)]))

    summary = ingest(client, ingest_config, write_catalogue(image_dir / "b.jsonl", [{"id": "drop", "deleted": True}]))

    assert summary["deleted"] == 1
    assert client.exists(index=ingest_config.index_alias, id="keep")
    assert not client.exists(index=ingest_config.index_alias, id="drop")


def test_ingesting_into_an_index_built_for_another_model_is_refused(
    client: OpenSearch, ingest_config: Config, image_dir: Path
) -> None:
    other = EmbeddingSpec(name="some-other-model", version="3", image_dims=8, text_dims=8)
    swap_alias(client, ingest_config.index_alias, create_product_index(client, ingest_config, other))

    with pytest.raises(runner.ModelMismatch, match="holds vectors of some-other-model v3"):
        ingest(client, ingest_config, write_catalogue(image_dir / "c.jsonl", [row("x", product_photo(image_dir / "x.jpg", seed=1))]))


def test_a_transient_failure_is_retried_then_quarantined(client: OpenSearch, ingest_config: Config, image_dir: Path) -> None:
    config = dataclasses.replace(ingest_config, ingest=dataclasses.replace(ingest_config.ingest, max_attempts=3))

    summary = ingest(client, config, write_catalogue(image_dir / "c.jsonl", [row("u", "https://no-such-host.invalid/u.jpg")]))

    assert summary["quarantined"] == 1
    [record] = list_records(client, config)
    assert (record["reason"], record["attempts"], record["retryable"]) == ("fetch_failed", 3, True)
