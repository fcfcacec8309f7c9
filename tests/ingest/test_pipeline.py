"""The ingest pipeline against the real node with the real offline model: what it writes, and what it
recomputes (in-process, ``--eager``, and through real workers)."""

from __future__ import annotations

import dataclasses
import io
import uuid
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError
from PIL import Image

from ingest import pipeline, runner
from plugin.catalogue.reader import Product
from plugin.config import Config
from plugin.errors import EngineBusy
from plugin.images.thumbnails import load_thumbnail
from plugin.models.registry import backend_for
from plugin.opensearch.client import connect
from tests.support.catalogues import write_catalogue
from tests.support.images import product_photo
from tests.support.ingest import (
    BusyEngine,
    images_root,
    ingest_here,
    ingest_with_workers,
    row,
)
from tests.support.workers import Worker


def test_only_what_changed_is_recomputed(client: OpenSearch, ingest_config: Config, image_dir: Path) -> None:
    photos = [product_photo(image_dir / f"{i}.jpg", seed=i) for i in range(4)]
    rows = [row(f"c{i}", photos[i], tags=["new"]) for i in range(4)]
    catalogue = image_dir / "c.jsonl"

    first = ingest_here(client, ingest_config, write_catalogue(catalogue, rows))
    assert (first["indexed"], first["images_embedded"], first["texts_embedded"]) == (4, 4, 4)
    version_before = client.get(index=ingest_config.index_alias, id="c3")["_version"]

    rows[0]["price"] = 8.5  # price only
    rows[1]["tags"] = ["new", "sale"]  # tags only
    product_photo(photos[2], seed=42)  # new bytes at the same path
    rows[3]["title"] = rows[3]["title"]  # nothing at all
    second = ingest_here(client, ingest_config, write_catalogue(catalogue, rows))

    assert (second["updated"], second["unchanged"]) == (3, 1)
    assert (second["images_embedded"], second["texts_embedded"]) == (1, 0)
    assert client.get(index=ingest_config.index_alias, id="c3")["_version"] == version_before  # not even rewritten

    rows[3]["title"] = "Renamed product"
    third = ingest_here(client, ingest_config, write_catalogue(catalogue, rows))
    assert (third["updated"], third["images_embedded"], third["texts_embedded"]) == (1, 0, 1)


def test_a_product_with_several_images_is_one_document_found_by_each_image(
    client: OpenSearch, ingest_config: Config, image_dir: Path
) -> None:
    front, back = product_photo(image_dir / "front.jpg", seed=1), product_photo(image_dir / "back.jpg", seed=2)
    others = [product_photo(image_dir / f"o{i}.jpg", seed=10 + i) for i in range(3)]
    rows = [row("jacket", front, back)] + [row(f"o{i}", p) for i, p in enumerate(others)]
    ingest_here(client, ingest_config, write_catalogue(image_dir / "c.jsonl", rows))
    backend = backend_for(ingest_config)

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
    ingest_here(client, ingest_config, write_catalogue(image_dir / "c.jsonl", [row("p", photo, tags=["Summer"])]))

    document = client.get(index=ingest_config.index_alias, id="p")["_source"]
    assert document["tags"] == ["summer"]
    assert "summer" not in document["labels"]
    assert document["labels"] == document["images"][0]["labels"]
    webp = load_thumbnail(client, ingest_config.thumbnail_index, document["images"][0]["fingerprint"])
    assert webp is not None
    thumbnail = Image.open(io.BytesIO(webp))
    assert thumbnail.format == "WEBP" and thumbnail.size == (256, 171)


def test_a_batch_sorts_its_products_into_indexed_retried_and_quarantined(
    client: OpenSearch, ingest_config: Config, image_dir: Path
) -> None:
    target = runner.prepare_indices(client, ingest_config)
    good, notes = product_photo(image_dir / "good.jpg", seed=7), image_dir / "notes.jpg"
    notes.write_text("not an image")
    products = [
        Product.model_validate(row("good", good)),
        Product.model_validate(row("partly", good, notes)),
        Product.model_validate(row("text", notes)),
        Product.model_validate(row("away", "https://no-such-host.invalid/a.jpg")),
    ]
    backend = backend_for(ingest_config)

    first = pipeline.process_products(client, ingest_config, backend, products, catalogue="c", target=target)

    assert first.outcomes == {"good": "indexed", "partly": "indexed", "text": "quarantined"}
    assert [p["id"] for p in first.retry] == ["away"]  # a transient fault, and attempts are left
    last = pipeline.process_products(client, ingest_config, backend, products[3:], catalogue="c", attempt=2, target=target)
    assert (last.outcomes, last.retry) == ({"away": "quarantined"}, [])


def test_text_for_embedding_joins_what_a_shopper_might_type() -> None:
    product = Product.model_validate(
        row("t", "a.jpg", title="Linen shirt", brand="Acme", category=["Men", "Shirts"], description="Light and cool.")
    )

    assert pipeline.text_for_embedding(product) == "Linen shirt. Acme. Men > Shirts. Light and cool."
    assert pipeline.text_for_embedding(Product.model_validate(row("u", "a.jpg", title="Mug"))) == "Mug"


def test_a_busy_cluster_raises_engine_busy_for_the_tasks_to_retry(client: OpenSearch, ingest_config: Config, image_dir: Path) -> None:
    target = runner.prepare_indices(client, ingest_config)
    backend = backend_for(ingest_config)
    product = Product.model_validate(row("b", product_photo(image_dir / "b.jpg", seed=8)))

    with BusyEngine(ingest_config.opensearch_url, "/_mget") as busy:
        busy_client = connect(dataclasses.replace(ingest_config, opensearch_url=busy.url))
        with pytest.raises(EngineBusy, match="HTTP 429"):
            pipeline.process_products(busy_client, ingest_config, backend, [product], catalogue="c", target=target)
        with pytest.raises(EngineBusy):
            with pipeline.busy_as_engine_busy():
                busy_client.mget(index=target, body={"ids": ["b"]})
        # Other refusals are not a busy cluster, and keep their own class.
        with pytest.raises(NotFoundError), pipeline.busy_as_engine_busy():
            busy_client.get(index=f"{ingest_config.index_alias}-missing-{uuid.uuid4().hex[:6]}", id="x")


@pytest.mark.slow
def test_editing_only_prices_reindexes_without_any_model_call(
    worker: Worker, worker_env: dict[str, str], worker_client: OpenSearch, worker_config: Config
) -> None:
    root = images_root(worker_env)
    rows: list[dict[str, Any]] = [
        {"id": f"p-{i}", "title": f"Sneaker {i}", "price": 50 + i, "tags": ["shoe"], "images": [str(product_photo(root / f"p-{i}.png", seed=100 + i))]}
        for i in range(6)
    ]
    catalogue = write_catalogue(root / "prices.jsonl", rows)
    first = ingest_with_workers(worker_env, catalogue)
    assert "Done: 6 indexed" in first.stdout, first.stderr
    assert "Model calls: 6 images, 6 texts embedded." in first.stdout

    for row_ in rows[:4]:
        row_["price"] = row_["price"] * 0.8
    rows[4]["tags"] = ["shoe", "sale"]
    second = ingest_with_workers(worker_env, write_catalogue(root / "prices.jsonl", rows))

    assert "Done: 0 indexed, 5 updated, 1 unchanged, 0 deleted, 0 quarantined." in second.stdout, second.stderr
    assert "Model calls: 0 images, 0 texts embedded." in second.stdout
    assert worker_client.get(index=worker_config.index_alias, id="p-0")["_source"]["price"] == pytest.approx(40.0)
