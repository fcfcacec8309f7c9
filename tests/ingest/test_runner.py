"""The runner: a catalogue handed to the workers (or run in this process) until every row has an outcome."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest
from opensearchpy import OpenSearch

from engine.local_redis import LocalRedis
from ingest import runner
from ingest.celery_app import app
from plugin.config import Config
from plugin.errors import IngestTimeout
from plugin.models.base import EmbeddingSpec
from plugin.opensearch.indices import create_product_index, swap_alias
from plugin.opensearch.quarantine import list_records
from tests.support.catalogues import write_catalogue
from tests.support.cli import LOOKALIKE
from tests.support.images import png_claiming_size, product_photo
from tests.support.ingest import (
    copies_of,
    images_root,
    ingest_here,
    ingest_with_workers,
    row,
)
from tests.support.workers import Worker


def test_a_delete_row_removes_the_product(client: OpenSearch, ingest_config: Config, image_dir: Path) -> None:
    photo = product_photo(image_dir / "p.jpg", seed=3)
    ingest_here(client, ingest_config, write_catalogue(image_dir / "a.jsonl", [row("keep", photo), row("drop", photo)]))

    summary = ingest_here(client, ingest_config, write_catalogue(image_dir / "b.jsonl", [{"id": "drop", "deleted": True}]))

    assert summary["deleted"] == 1
    assert client.exists(index=ingest_config.index_alias, id="keep")
    assert not client.exists(index=ingest_config.index_alias, id="drop")


def test_a_new_index_takes_the_configured_shards_and_replicas_and_then_the_alias(
    client: OpenSearch, ingest_config: Config, image_dir: Path
) -> None:
    catalogue = write_catalogue(image_dir / "a.jsonl", [row(f"p{i}", product_photo(image_dir / f"p{i}.jpg", seed=i)) for i in range(6)])
    ingest_here(client, ingest_config, catalogue)
    (before,) = client.indices.get_alias(name=ingest_config.index_alias)
    layout = dataclasses.replace(ingest_config, index_shards=3, index_replicas=1)

    summary = runner.run_catalogue(client, layout, catalogue, eager=True, new_index=True)

    (after,) = client.indices.get_alias(name=ingest_config.index_alias)
    settings = client.indices.get_settings(index=after)[after]["settings"]["index"]
    assert summary["new_index"] == after != before
    assert (settings["number_of_shards"], settings["number_of_replicas"]) == ("3", "1")
    assert client.count(index=ingest_config.index_alias)["count"] == 6  # every product, in the new layout


def test_ingesting_into_an_index_built_for_another_model_is_refused(
    client: OpenSearch, ingest_config: Config, image_dir: Path
) -> None:
    other = EmbeddingSpec(name="some-other-model", version="3", image_dims=8, text_dims=8)
    swap_alias(client, ingest_config.index_alias, create_product_index(client, ingest_config, other))

    with pytest.raises(runner.ModelMismatch, match="holds vectors of some-other-model v3"):
        ingest_here(client, ingest_config, write_catalogue(image_dir / "c.jsonl", [row("x", product_photo(image_dir / "x.jpg", seed=1))]))


def test_an_eager_run_leaves_the_shared_celery_app_as_it_was(client: OpenSearch, ingest_config: Config, image_dir: Path) -> None:
    before = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    rows = [row("e1", product_photo(image_dir / "e1.jpg", seed=1)), '{"id": "broken", ', {"id": "gone", "deleted": True}]

    summary = ingest_here(client, ingest_config, write_catalogue(image_dir / "c.jsonl", rows))

    assert (summary["total"], summary["done"], summary["indexed"], summary["deleted"], summary["quarantined"]) == (3, 3, 1, 1, 1)
    assert (app.conf.task_always_eager, app.conf.task_eager_propagates) == before == (False, False)


def test_every_row_of_a_csv_with_an_unclosed_quote_ends_indexed_or_quarantined_on_its_own_line(
    client: OpenSearch, ingest_config: Config, image_dir: Path
) -> None:
    photo = product_photo(image_dir / "p.jpg", seed=5)
    lines = ["id,title,price,images"] + [f"c{n},Good {n},{n},{photo}" for n in range(2, 9)]
    lines[3] = f'c4,"Broken title,4,{photo}'  # line 4: a quote never closed, which once swallowed lines 5 to 8
    catalogue = image_dir / "export.csv"
    catalogue.write_text("\n".join(lines) + "\n", encoding="utf-8")

    summary = ingest_here(client, ingest_config, catalogue)

    assert (summary["total"], summary["indexed"], summary["quarantined"]) == (7, 6, 1)
    client.indices.refresh(index=ingest_config.index_alias)
    indexed = {hit["_id"] for hit in client.search(index=ingest_config.index_alias, body={"size": 20})["hits"]["hits"]}
    assert indexed == {f"c{n}" for n in range(2, 9) if n != 4}
    [record] = list_records(client, ingest_config)
    assert (record["kind"], record["line"], record["reason"]) == ("row", 4, "malformed_row")
    assert record["message"].startswith("a quote opened on this line is not closed")


def test_retrying_an_empty_quarantine_is_done_at_once(client: OpenSearch, ingest_config: Config) -> None:
    summary = runner.retry_failed(client, ingest_config, eager=True)

    assert (summary["total"], summary["done"]) == (0, 0)


def test_waiting_without_workers_gives_up_at_the_timeout_and_says_so(
    client: OpenSearch, ingest_config: Config, image_dir: Path, redis_server: LocalRedis
) -> None:
    # A broker database of its own, which no worker ever reads: the batch waits there for nobody.
    config = dataclasses.replace(ingest_config, ingest=dataclasses.replace(ingest_config.ingest, broker_url=redis_server.url[:-1] + "3"))
    seen: list[dict[str, int]] = []

    with pytest.raises(IngestTimeout, match="0 of 1 products were done after 1 s; are workers running"):
        runner.run_catalogue(
            client, config, write_catalogue(image_dir / "c.jsonl", [row("w", product_photo(image_dir / "w.jpg", seed=2))]),
            progress=seen.append, timeout=1.0,
        )
    assert seen and all((s["total"], s["done"]) == (1, 0) and "stalled_seconds" in s for s in seen)


@pytest.mark.slow
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

    result = ingest_with_workers(worker_env, catalogue)

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
        ("row", "line 3"): "malformed_row",
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


def test_saved_searches_that_cannot_be_told_do_not_fail_the_run(
    client: OpenSearch, ingest_config: Config, image_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A fake beside the real tests (tests/api/test_saved_searches.py), for a failure a healthy
    # node does not produce: telling saved searches breaks after the products are in.
    def broken(*args: object) -> int:
        raise RuntimeError("the matches index is read-only")

    monkeypatch.setattr(runner, "notify_matches", broken)
    photo = product_photo(image_dir / "told.jpg", seed=5)

    summary = ingest_here(client, ingest_config, write_catalogue(image_dir / "told.jsonl", [row("told", photo)]))

    assert summary["indexed"] == 1 and client.exists(index=ingest_config.index_alias, id="told")
    assert "saved searches were not told of 1 products" in caplog.text
