"""The Celery tasks: declared retries, the quarantine when a batch fails for good, and the context they run in.

Most tests apply the tasks in this process (``task.apply``) against the real node, with the
cluster made busy by a real proxy in front of it; one runs a real worker through the broker.
"""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Task
from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import ConnectionTimeout

from engine.local_redis import LocalRedis
from ingest import runner
from ingest.progress import MemoryRunTracker, new_run_id
from ingest.tasks import (
    IngestContext,
    IngestTask,
    delete_products,
    ingest_products,
    running_here,
)
from plugin.config import Config
from plugin.errors import EngineBusy, EngineUnavailable, QuarantineWriteFailed
from plugin.models.base import EmbeddingSpec
from plugin.models.registry import backend_for
from plugin.opensearch.client import connect
from plugin.opensearch.indices import create_product_index
from plugin.opensearch.quarantine import list_records
from tests.support.catalogues import write_catalogue
from tests.support.images import product_photo
from tests.support.ingest import BusyEngine, ingest_here, row
from tests.support.workers import Worker

#: The countdowns of the eight retries: min(300, 2 ** (retries + 1)).
BACKOFF = [2, 4, 8, 16, 32, 64, 128, 256]


def context_for(config: Config, url: str | None = None) -> IngestContext:
    """A context for tasks applied here, talking to the cluster at *url* (the configured one by default)."""
    client = connect(dataclasses.replace(config, opensearch_url=url or config.opensearch_url))
    return IngestContext(config, client, backend_for(config), MemoryRunTracker())


def apply(context: IngestContext, task: Task, *args: Any) -> dict[str, int]:
    """Run *task* here as a worker would, and return the run's summary."""
    run_id = args[0]
    with running_here(context):
        task.apply(args, throw=False)
    return context.tracker.summary(run_id)


def started(context: IngestContext, total: int) -> str:
    run_id = new_run_id()
    context.tracker.start(run_id, total)
    return run_id


def test_the_tasks_declare_their_retries_on_one_base_as_celery_documents() -> None:
    for task in (ingest_products, delete_products):
        assert isinstance(task, IngestTask)
        assert set(task.autoretry_for) == {
            OpenSearchConnectionError, ConnectionTimeout, EngineUnavailable, EngineBusy, redis.RedisError, QuarantineWriteFailed,
        }
        assert (task.retry_backoff, task.retry_backoff_max, task.retry_jitter, task.max_retries) == (2, 300, False, 8)


def test_a_transient_failure_is_retried_then_quarantined(client: OpenSearch, ingest_config: Config, image_dir: Path) -> None:
    config = dataclasses.replace(ingest_config, ingest=dataclasses.replace(ingest_config.ingest, max_attempts=3))

    summary = ingest_here(client, config, write_catalogue(image_dir / "c.jsonl", [row("u", "https://no-such-host.invalid/u.jpg")]))

    assert summary["quarantined"] == 1
    [record] = list_records(client, config)
    assert (record["reason"], record["attempts"], record["retryable"]) == ("fetch_failed", 3, True)


def test_a_busy_cluster_is_retried_with_backoff_until_it_answers(
    client: OpenSearch, ingest_config: Config, image_dir: Path, countdowns: list[float]
) -> None:
    target = runner.prepare_indices(client, ingest_config)
    photo = product_photo(image_dir / "a.jpg", seed=1)

    with BusyEngine(ingest_config.opensearch_url, "/_mget", times=2) as busy:
        context = context_for(ingest_config, busy.url)
        summary = apply(context, ingest_products, started(context, 1), "c", [row("a", photo)], 1, target)

    assert len(busy.refused) == 2 and countdowns == BACKOFF[:2]
    assert summary["indexed"] == 1 and client.exists(index=target, id="a")
    assert list_records(client, ingest_config) == []


def test_when_retries_run_out_the_whole_batch_is_quarantined_and_the_run_finishes(
    client: OpenSearch, ingest_config: Config, image_dir: Path, countdowns: list[float]
) -> None:
    target = runner.prepare_indices(client, ingest_config)
    photo = product_photo(image_dir / "a.jpg", seed=1)

    with BusyEngine(ingest_config.opensearch_url, "/_mget") as busy:
        context = context_for(ingest_config, busy.url)
        summary = apply(context, ingest_products, started(context, 2), "c", [row("a", photo), row("b", photo)], 1, target)

    assert len(busy.refused) == 1 + 8 and countdowns == BACKOFF
    assert (summary["done"], summary["quarantined"]) == (2, 2)
    records = {r["product_id"]: r for r in list_records(client, ingest_config)}
    assert set(records) == {"a", "b"}
    assert all(r["reason"] == "internal_error" and r["message"].startswith("EngineBusy: OpenSearch is busy (HTTP 429)") for r in records.values())
    assert records["a"]["product"]["id"] == "a"  # kept, for --retry-failed


def test_an_unexpected_error_quarantines_the_batch_without_retrying(
    client: OpenSearch, ingest_config: Config, image_dir: Path, countdowns: list[float]
) -> None:
    runner.prepare_indices(client, ingest_config)
    context = context_for(ingest_config)
    missing = f"{ingest_config.index_alias}-missing-{uuid.uuid4().hex[:6]}"

    summary = apply(context, ingest_products, started(context, 1), "c", [row("a", product_photo(image_dir / "a.jpg", seed=1))], 1, missing)

    assert countdowns == [] and (summary["done"], summary["quarantined"]) == (1, 1)
    [record] = list_records(client, ingest_config)
    assert record["reason"] == "internal_error" and record["message"].startswith("NotFoundError")


def test_an_index_of_another_model_quarantines_the_batch_as_model_mismatch(
    client: OpenSearch, ingest_config: Config, image_dir: Path, countdowns: list[float]
) -> None:
    runner.prepare_indices(client, ingest_config)
    other = create_product_index(client, ingest_config, EmbeddingSpec(name="some-other-model", version="3", image_dims=8, text_dims=8))
    context = context_for(ingest_config)

    summary = apply(context, ingest_products, started(context, 1), "c", [row("a", product_photo(image_dir / "a.jpg", seed=1))], 1, other)

    assert countdowns == [] and summary["quarantined"] == 1
    [record] = list_records(client, ingest_config)
    assert record["reason"] == "model_mismatch"
    assert "holds vectors of some-other-model v3; this worker runs efficientnet-lite0" in record["message"]


def test_a_product_that_no_longer_validates_is_quarantined_alone(client: OpenSearch, ingest_config: Config, image_dir: Path) -> None:
    target = runner.prepare_indices(client, ingest_config)
    context = context_for(ingest_config)
    photo = product_photo(image_dir / "a.jpg", seed=1)

    summary = apply(context, ingest_products, started(context, 2), "c", [row("good", photo), row("bad", photo, price=-1)], 1, target)

    assert (summary["indexed"], summary["quarantined"]) == (1, 1)
    [record] = list_records(client, ingest_config)
    assert (record["product_id"], record["reason"]) == ("bad", "invalid_product")


def test_a_delete_that_keeps_failing_is_quarantined_with_no_product_to_ingest_again(
    client: OpenSearch, ingest_config: Config, countdowns: list[float]
) -> None:
    target = runner.prepare_indices(client, ingest_config)

    # Every attempt fails on the quarantine clean-up; the records are written once it has given up.
    with BusyEngine(ingest_config.opensearch_url, ingest_config.quarantine_index, times=1 + 8) as busy:
        context = context_for(ingest_config, busy.url)
        summary = apply(context, delete_products, started(context, 2), ["d1", "d2"], target)

    assert len(busy.refused) == 9 and countdowns == BACKOFF
    assert (summary["done"], summary["quarantined"]) == (2, 2)
    records = list_records(client, ingest_config)
    assert {r["product_id"] for r in records} == {"d1", "d2"}
    assert all(r["reason"] == "internal_error" and "product" not in r for r in records)
    assert runner.retry_failed(client, ingest_config, eager=True)["total"] == 0


def test_a_worker_process_builds_one_context_for_every_task_and_a_handed_one_wins(
    ingest_config: Config, redis_server: LocalRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CELERY_BROKER_URL", redis_server.url)
    monkeypatch.setenv("OPENSEARCH_URL", ingest_config.opensearch_url)
    monkeypatch.setattr(IngestTask, "_process_context", None)  # this process's, whatever earlier tests built

    built = ingest_products.context
    assert delete_products.context is built and IngestTask.process_context() is built
    assert built.config.opensearch_url == ingest_config.opensearch_url

    handed = context_for(ingest_config)
    with running_here(handed):
        assert ingest_products.context is handed and delete_products.context is handed
    assert ingest_products.context is built


@pytest.mark.slow
def test_a_worker_retries_a_busy_cluster_after_the_declared_backoff(
    worker_env: dict[str, str], worker_client: OpenSearch, worker_config: Config, redis_server: LocalRedis, tmp_path: Path
) -> None:
    broker = redis_server.url[:-1] + "1"  # a broker database of its own: only this worker takes these tasks
    config = dataclasses.replace(worker_config, ingest=dataclasses.replace(worker_config.ingest, broker_url=broker))
    photo = product_photo(Path(worker_env["LOOKALIKE_IMAGE_ROOTS"]) / "busy.jpg", seed=4)

    with BusyEngine(worker_config.opensearch_url, "/_mget", times=2) as busy:
        worker = Worker(dict(worker_env, OPENSEARCH_URL=busy.url, CELERY_BROKER_URL=broker), tmp_path / "worker.log")
        worker.start()
        try:
            summary = runner.run_catalogue(worker_client, config, write_catalogue(tmp_path / "c.jsonl", [row("busy", photo)]), timeout=120)
        finally:
            worker.stop()

    assert summary["indexed"] == 1 and worker_client.exists(index=config.index_alias, id="busy")
    first, second = busy.refused
    assert second - first >= BACKOFF[0] - 0.1  # held back by the broker, not run again at once
    assert "Retry in 2s" in (tmp_path / "worker.log").read_text()
