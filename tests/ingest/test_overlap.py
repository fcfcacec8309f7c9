"""Ingest that keeps the model busy: a task's batches overlap, each is recorded once written, and a
large run relaxes the index's refresh interval and puts it back, however the run ends.

Real node, real model, real Redis; a busy cluster is a real proxy in front of the node.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from celery import Task, signals
from opensearchpy import OpenSearch

from engine.local_redis import LocalRedis
from ingest import pipeline, runner
from ingest.progress import MemoryRunTracker, new_run_id
from ingest.tasks import IngestContext, ingest_products, running_here
from plugin.catalogue.reader import Product
from plugin.config import Config
from plugin.errors import IngestTimeout
from plugin.models.registry import backend_for
from plugin.opensearch.client import connect
from plugin.opensearch.quarantine import list_records
from tests.support.catalogues import write_catalogue
from tests.support.images import product_photo
from tests.support.ingest import BusyEngine, copies_of, ingest_here, row


class BusyOnce(BusyEngine):
    """The busy proxy, refusing only the *nth* request whose path holds *path_part* (1 is the first)."""

    def __init__(self, upstream: str, path_part: str, nth: int) -> None:
        super().__init__(upstream, path_part)
        self.nth = nth
        self.seen = 0
        self._count_lock = threading.Lock()

    def _refuses(self, path: str) -> bool:
        with self._count_lock:
            if self.path_part not in path:
                return False
            self.seen += 1
            if self.seen != self.nth:
                return False
            self.refused.append(time.monotonic())
            return True


@pytest.fixture
def small_batches(ingest_config: Config) -> Config:
    """Embedding batches of two products, so that a handful of products make several batches."""
    return dataclasses.replace(ingest_config, ingest=dataclasses.replace(ingest_config.ingest, batch_size=2))


def apply_through(busy: BusyEngine, config: Config, rows: list[dict[str, Any]], target: str) -> dict[str, int]:
    """Run one ingest task here, as a worker would, talking to the cluster through *busy*; the run's summary."""
    client = connect(dataclasses.replace(config, opensearch_url=busy.url))
    context = IngestContext(config, client, backend_for(config), MemoryRunTracker())
    run_id = new_run_id()
    context.tracker.start(run_id, len(rows))
    with running_here(context):
        ingest_products.apply((run_id, "c", rows, 1, target), throw=False)
    return context.tracker.summary(run_id)


def refresh_interval(client: OpenSearch, index: str) -> str | None:
    """The index's own refresh interval, None when it has the default (the answer then names no index)."""
    settings = client.indices.get_settings(index=index, name="index.refresh_interval", flat_settings=True)
    return next(iter(settings.values()), {}).get("settings", {}).get("index.refresh_interval")


def test_a_call_of_several_batches_writes_each_in_turn_and_reports_it_once_written(
    client: OpenSearch, small_batches: Config, image_dir: Path
) -> None:
    target = runner.prepare_indices(client, small_batches)
    notes = image_dir / "notes.jpg"
    notes.write_text("not an image")
    photos = [product_photo(image_dir / f"{i}.jpg", seed=20 + i) for i in range(3)]
    products = [
        Product.model_validate(row("one", photos[0])),
        Product.model_validate(row("two", photos[1], notes)),
        Product.model_validate(row("text", notes)),
        Product.model_validate(row("away", "https://no-such-host.invalid/a.jpg")),
        Product.model_validate(row("five", photos[2])),
    ]
    written: list[tuple[dict[str, str], int]] = []
    threads: set[str] = set()

    def on_written(batch: pipeline.BatchResult) -> None:
        threads.add(threading.current_thread().name)
        # What a batch reports is already in the index (a realtime get sees it without a refresh).
        assert all(client.exists(index=target, id=pid) for pid, outcome in batch.outcomes.items() if outcome == "indexed")
        written.append((dict(batch.outcomes), len(batch.retry)))

    result = pipeline.process_products(
        client, small_batches, backend_for(small_batches), products, catalogue="c", target=target, on_written=on_written
    )

    assert written == [
        ({"one": "indexed", "two": "indexed"}, 0),
        ({"text": "quarantined"}, 1),
        ({"five": "indexed"}, 0),
    ]
    assert [name.split("_")[0] for name in threads] == ["ingest-write"]  # not the model's thread
    assert result.outcomes == {"one": "indexed", "two": "indexed", "text": "quarantined", "five": "indexed"}
    assert [p["id"] for p in result.retry] == ["away"]
    assert (result.images_embedded, result.texts_embedded) == (3, 3)
    reasons = {(r["kind"], r["product_id"]): r["reason"] for r in list_records(client, small_batches)}
    assert reasons == {("image", "two"): "not_an_image", ("product", "text"): "not_an_image"}


def test_a_busy_cluster_in_the_middle_of_a_task_costs_a_retry_and_loses_or_duplicates_nothing(
    client: OpenSearch, small_batches: Config, image_dir: Path, countdowns: list[float]
) -> None:
    target = runner.prepare_indices(client, small_batches)
    rows = [row(f"m{i}", product_photo(image_dir / f"m{i}.jpg", seed=30 + i)) for i in range(4)]

    # The second batch's lookup is refused: the first batch is written by then, the second is not.
    with BusyOnce(small_batches.opensearch_url, "/_mget", nth=2) as busy:
        summary = apply_through(busy, small_batches, rows, target)

    assert len(busy.refused) == 1 and countdowns == [2]
    # The task ran again whole: the first batch is found as written, the second is written now.
    assert (summary["done"], summary["indexed"], summary["unchanged"]) == (4, 2, 2)
    assert all(copies_of(client, target, f"m{i}") == 1 for i in range(4))
    assert list_records(client, small_batches) == []


def test_a_task_that_fails_for_good_after_a_batch_was_written_quarantines_only_the_rest(
    client: OpenSearch, small_batches: Config, image_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = runner.prepare_indices(client, small_batches)
    rows = [row(f"f{i}", product_photo(image_dir / f"f{i}.jpg", seed=40 + i)) for i in range(4)]
    monkeypatch.setattr(ingest_products, "max_retries", 0)  # the busy cluster is the task's last straw

    with BusyOnce(small_batches.opensearch_url, "/_mget", nth=2) as busy:
        summary = apply_through(busy, small_batches, rows, target)

    assert (summary["done"], summary["indexed"], summary["quarantined"]) == (4, 2, 2)
    records = {r["product_id"]: r for r in list_records(client, small_batches)}
    assert set(records) == {"f2", "f3"}
    assert all(r["reason"] == "internal_error" and r["message"].startswith("EngineBusy") for r in records.values())
    assert copies_of(client, target, "f0") == copies_of(client, target, "f1") == 1


def test_the_runner_sends_tasks_of_several_embedding_batches(
    client: OpenSearch, small_batches: Config, image_dir: Path
) -> None:
    small_batches = dataclasses.replace(small_batches, ingest=dataclasses.replace(small_batches.ingest, batches_per_task=2))
    photo = product_photo(image_dir / "p.jpg", seed=50)
    sizes: list[int] = []

    def started(sender: Task, args: tuple[Any, ...], **_: Any) -> None:
        if sender.name == "lookalike.ingest_products":
            sizes.append(len(args[2]))

    signals.task_prerun.connect(started, weak=False)
    try:
        summary = ingest_here(client, small_batches, write_catalogue(image_dir / "c.jsonl", [row(f"s{i}", photo) for i in range(5)]))
    finally:
        signals.task_prerun.disconnect(started)

    assert runner.task_size(small_batches) == 4
    assert sizes == [4, 1] and summary["indexed"] == 5


def test_a_large_run_relaxes_the_refresh_interval_while_it_lasts_and_puts_it_back(
    client: OpenSearch, ingest_config: Config, image_dir: Path
) -> None:
    ingest_config = dataclasses.replace(ingest_config, ingest=dataclasses.replace(ingest_config.ingest, large_run=2))
    target = runner.prepare_indices(client, ingest_config)
    photo = product_photo(image_dir / "r.jpg", seed=60)
    during: list[str | None] = []

    def watch(_: dict[str, int]) -> None:
        during.append(refresh_interval(client, target))

    one = write_catalogue(image_dir / "a.jsonl", [row("r0", photo)])
    small = runner.run_catalogue(client, ingest_config, one, eager=True, progress=watch)
    assert small["indexed"] == 1 and set(during) == {None}  # one product: left alone

    during.clear()
    client.indices.put_settings(index=target, body={"index": {"refresh_interval": "5s"}})  # the shop's own choice
    rows = [row(f"r{i}", photo) for i in range(3)]
    large = runner.run_catalogue(client, ingest_config, write_catalogue(image_dir / "b.jsonl", rows), eager=True, progress=watch)

    assert large["indexed"] == 2 and set(during) == {"30s"}
    assert refresh_interval(client, target) == "5s"
    assert client.count(index=target)["count"] == 3  # and refreshed once at the end

    client.indices.put_settings(index=target, body={"index": {"refresh_interval": None}})
    during.clear()
    runner.run_catalogue(client, dataclasses.replace(ingest_config, ingest=dataclasses.replace(ingest_config.ingest, large_run_refresh="-1")), write_catalogue(image_dir / "c.jsonl", rows), eager=True, progress=watch)
    assert set(during) == {"-1"} and refresh_interval(client, target) is None  # the default again


def test_a_large_run_that_fails_puts_the_refresh_interval_back(
    client: OpenSearch, ingest_config: Config, image_dir: Path, redis_server: LocalRedis
) -> None:
    # A broker database that no worker reads: the run waits for nobody and gives up.
    config = dataclasses.replace(ingest_config, ingest=dataclasses.replace(ingest_config.ingest, broker_url=redis_server.url[:-1] + "3", large_run=1))
    target = runner.prepare_indices(client, config)
    during: list[str | None] = []

    with pytest.raises(IngestTimeout):
        runner.run_catalogue(
            client, config, write_catalogue(image_dir / "c.jsonl", [row("t", product_photo(image_dir / "t.jpg", seed=61))]),
            progress=lambda _: during.append(refresh_interval(client, target)), timeout=1.0,
        )

    assert during and set(during) == {"30s"}
    assert refresh_interval(client, target) is None


def test_an_index_already_relaxed_by_another_run_is_left_to_that_run(client: OpenSearch, ingest_config: Config) -> None:
    target = runner.prepare_indices(client, ingest_config)
    client.indices.put_settings(index=target, body={"index": {"refresh_interval": "30s"}})

    with runner.relaxed_refresh(client, target, "30s"):
        assert refresh_interval(client, target) == "30s"

    assert refresh_interval(client, target) == "30s"  # the other run puts it back when it ends
