"""Ingest through a real Redis broker and real Celery worker processes, as in production.

The catalogue holds everything that goes wrong in real catalogues; every good product must
end up indexed exactly once, every bad one quarantined with the right reason, and a worker
killed mid-batch must lose and duplicate nothing.
"""

from __future__ import annotations

import dataclasses
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import OpenSearch

from plugin.opensearch.client import connect
from plugin.config import Config
from plugin.catalogue.quarantine import list_records
from tests.support.cli import LOOKALIKE
from tests.support.images import png_claiming_size
from tests.support.catalogues import write_catalogue
from tests.support.images import product_photo
from tests.support.workers import Worker

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def worker_config(base_config: Config, worker_env: dict[str, str]) -> Config:
    return dataclasses.replace(base_config, index_alias=worker_env["LOOKALIKE_INDEX_ALIAS"])


@pytest.fixture(scope="module")
def worker_client(worker_config: Config) -> Iterator[OpenSearch]:
    client = connect(worker_config)
    yield client
    client.indices.delete(index=f"{worker_config.index_alias}*", ignore_unavailable=True, expand_wildcards="all")


def images_root(env: dict[str, str]) -> Path:
    return Path(env["LOOKALIKE_IMAGE_ROOTS"])


def ingest(env: dict[str, str], catalogue: Path, *args: str, timeout: int = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LOOKALIKE, "ingest", str(catalogue), "--timeout", str(timeout), *args], env=env, capture_output=True, text=True, timeout=timeout + 60)


def summary_counts(stdout: str) -> dict[str, int]:
    """The counts of the ``Done: 3 indexed, 0 updated, ...`` line."""
    line = next(line for line in stdout.splitlines() if line.startswith("Done: "))
    return {name: int(count) for count, name in (part.split() for part in line[6:].rstrip(".").split(", "))}


def copies_of(client: OpenSearch, alias: str, product_id: str) -> int:
    client.indices.refresh(index=alias)
    return client.count(index=alias, body={"query": {"term": {"product_id": product_id}}})["count"]


def test_a_messy_catalogue_ends_with_every_product_indexed_once_or_quarantined_with_its_reason(
    worker: Worker, worker_env: dict[str, str], worker_client: OpenSearch, worker_config: Config
) -> None:
    root = images_root(worker_env)
    photos = [product_photo(root / f"good-{i}.jpg", seed=i) for i in range(4)]
    corrupt = root / "corrupt.jpg"
    corrupt.write_bytes(photos[0].read_bytes()[:600])
    huge = root / "huge.png"
    huge.write_bytes(png_claiming_size(20_000, 20_000))
    notes = root / "notes.jpg"
    notes.write_text("this is a text file with an image's name")
    base = {"price": 10, "currency": "EUR"}
    catalogue = write_catalogue(
        root / "messy.jsonl",
        [
            {"id": "m-good-1", "title": "Red mug", **base, "images": [str(photos[0])]},
            {"id": "m-good-2", "title": "Blue vase", **base, "images": [str(photos[1]), str(photos[2])]},
            '{"id": "m-malformed", "title": ',
            {"id": "m-unreachable", "title": "Lamp", **base, "images": ["https://no-such-host.invalid/lamp.jpg"]},
            {"id": "m-loopback", "title": "Rug", **base, "images": ["http://127.0.0.1:8080/rug.jpg"]},
            {"id": "m-corrupt", "title": "Chair", **base, "images": [str(corrupt)]},
            {"id": "m-huge", "title": "Poster", **base, "images": [str(huge)]},
            {"id": "m-text", "title": "Book", **base, "images": [str(notes)]},
            {"id": "m-partly", "title": "Green bowl", **base, "images": [str(photos[3]), str(notes)]},
        ],
    )

    result = ingest(worker_env, catalogue)

    assert result.returncode == 0, result.stderr
    assert "Done: 3 indexed, 0 updated, 0 unchanged, 0 deleted, 6 quarantined." in result.stdout
    alias = worker_config.index_alias
    for product_id in ("m-good-1", "m-good-2", "m-partly"):
        assert copies_of(worker_client, alias, product_id) == 1
    partly = worker_client.get(index=alias, id="m-partly")["_source"]
    assert [image["url"] for image in partly["images"]] == [str(photos[3])]
    assert len(worker_client.get(index=alias, id="m-good-2")["_source"]["images"]) == 2
    for product_id in ("m-unreachable", "m-loopback", "m-corrupt", "m-huge", "m-text"):
        assert copies_of(worker_client, alias, product_id) == 0

    records = list_records(worker_client, worker_config)
    reasons = {(r["kind"], r.get("product_id") or f"line {r.get('line')}"): r["reason"] for r in records}
    assert reasons == {
        ("row", "line 3"): "invalid_row",
        ("product", "m-unreachable"): "fetch_failed",
        ("product", "m-loopback"): "unsafe_url",
        ("product", "m-corrupt"): "corrupt_image",
        ("product", "m-huge"): "image_too_large",
        ("product", "m-text"): "not_an_image",
        ("image", "m-partly"): "not_an_image",
    }
    unreachable = next(r for r in records if r.get("product_id") == "m-unreachable")
    assert unreachable["attempts"] == 2 and unreachable["retryable"] is True

    failures = subprocess.run([LOOKALIKE, "ingest", "--failures"], env=worker_env, capture_output=True, text=True)
    assert "fetch_failed" in failures.stdout and "product m-huge" in failures.stdout and "line 3" in failures.stdout

    # The shop fixes the corrupt file; retrying the quarantine now indexes it and clears its record.
    product_photo(corrupt, seed=99)
    retried = subprocess.run([LOOKALIKE, "ingest", "--retry-failed", "--timeout", "240"], env=worker_env, capture_output=True, text=True)
    assert retried.returncode == 0, retried.stderr
    assert copies_of(worker_client, alias, "m-corrupt") == 1
    remaining = {r.get("product_id") for r in list_records(worker_client, worker_config)}
    assert "m-corrupt" not in remaining and "m-huge" in remaining


def test_editing_only_prices_reindexes_without_any_model_call(
    worker: Worker, worker_env: dict[str, str], worker_client: OpenSearch, worker_config: Config
) -> None:
    root = images_root(worker_env)
    rows: list[dict[str, Any]] = [
        {"id": f"p-{i}", "title": f"Sneaker {i}", "price": 50 + i, "tags": ["shoe"], "images": [str(product_photo(root / f"p-{i}.png", seed=100 + i))]}
        for i in range(6)
    ]
    catalogue = write_catalogue(root / "prices.jsonl", rows)
    first = ingest(worker_env, catalogue)
    assert "Done: 6 indexed" in first.stdout, first.stderr
    assert "Model calls: 6 images, 6 texts embedded." in first.stdout

    for row in rows[:4]:
        row["price"] = row["price"] * 0.8
    rows[4]["tags"] = ["shoe", "sale"]
    second = ingest(worker_env, write_catalogue(root / "prices.jsonl", rows))

    assert "Done: 0 indexed, 5 updated, 1 unchanged, 0 deleted, 0 quarantined." in second.stdout, second.stderr
    assert "Model calls: 0 images, 0 texts embedded." in second.stdout
    assert worker_client.get(index=worker_config.index_alias, id="p-0")["_source"]["price"] == pytest.approx(40.0)


def test_a_worker_killed_mid_batch_loses_nothing_and_duplicates_nothing(
    worker: Worker, worker_env: dict[str, str], worker_client: OpenSearch, worker_config: Config
) -> None:
    root = images_root(worker_env)
    rows = [
        {"id": f"k-{i:03d}", "title": f"Item {i}", "price": i, "images": [str(product_photo(root / f"k-{i}.jpg", seed=1000 + i, size=(640, 480)))]}
        for i in range(48)
    ]
    catalogue = write_catalogue(root / "kill.jsonl", rows)
    alias = worker_config.index_alias

    running = subprocess.Popen(
        [LOOKALIKE, "ingest", str(catalogue), "--timeout", "300"], env=worker_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    indexed = 0
    while time.monotonic() < deadline:
        worker_client.indices.refresh(index=alias)
        indexed = worker_client.count(index=alias, body={"query": {"prefix": {"product_id": "k-"}}})["count"]
        if indexed >= 4:
            break
        time.sleep(0.1)
    assert 4 <= indexed < 48, "the worker must be killed in the middle of the run"
    worker.kill()
    worker.start()  # the task it held comes back after the broker's visibility timeout

    stdout, stderr = running.communicate(timeout=400)

    assert running.returncode == 0, stderr
    counts = summary_counts(stdout)
    # A product the killed worker had indexed before dying is found unchanged when its batch runs again.
    assert counts["indexed"] + counts["unchanged"] == 48 and counts["quarantined"] == 0, stdout
    worker_client.indices.refresh(index=alias)
    hits = worker_client.search(index=alias, body={"size": 100, "_source": ["product_id"], "query": {"prefix": {"product_id": "k-"}}})
    ids = [hit["_source"]["product_id"] for hit in hits["hits"]["hits"]]
    assert sorted(ids) == [row["id"] for row in rows]  # every product, each once
