"""Fixtures for ingest: catalogues with real image files, a real Redis, real Celery worker processes."""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Task, signals
from celery.exceptions import Retry
from opensearchpy import OpenSearch

from engine.local_redis import LocalRedis
from plugin.config import Config
from plugin.opensearch.client import connect
from tests.support.workers import Worker


@pytest.fixture
def ingest_config(config: Config, image_dir: Path) -> Config:
    """The test's configuration, allowed to read images from its own directory, retrying quickly."""
    return dataclasses.replace(
        config,
        fetch=dataclasses.replace(config.fetch, local_roots=(image_dir,)),
        ingest=dataclasses.replace(config.ingest, max_attempts=2, retry_backoff=0.2),
    )


@pytest.fixture(scope="module")
def worker_env(base_config: Config, redis_server: LocalRedis, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One alias, image directory and broker for a module's worker tests."""
    images = tmp_path_factory.mktemp("worker-images")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOKALIKE_", "OPENSEARCH_", "CELERY_"))}
    env.update(
        OPENSEARCH_URL=base_config.opensearch_url,
        LOOKALIKE_INDEX_ALIAS=f"test-workers-{uuid.uuid4().hex[:8]}",
        CELERY_BROKER_URL=redis_server.url,
        LOOKALIKE_IMAGE_ROOTS=str(images),
        LOOKALIKE_INGEST_MAX_ATTEMPTS="2",
        LOOKALIKE_INGEST_RETRY_BACKOFF="0.2",
        LOOKALIKE_INGEST_BATCH_SIZE="4",
        LOOKALIKE_BROKER_VISIBILITY_TIMEOUT="5",
        LOOKALIKE_INFERENCE_THREADS="1",
    )
    return env


@pytest.fixture(scope="module")
def worker(worker_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    running = Worker(worker_env, tmp_path_factory.mktemp("worker-log") / "worker.log")
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def worker_config(base_config: Config, worker_env: dict[str, str]) -> Config:
    """The configuration the module's workers run with, as seen from the test."""
    return dataclasses.replace(base_config, index_alias=worker_env["LOOKALIKE_INDEX_ALIAS"])


@pytest.fixture(scope="module")
def worker_client(worker_config: Config) -> Iterator[OpenSearch]:
    """A client for the workers' cluster; every index under their alias is deleted afterwards."""
    client = connect(worker_config)
    yield client
    client.indices.delete(index=f"{worker_config.index_alias}*", ignore_unavailable=True, expand_wildcards="all")


@pytest.fixture
def countdowns() -> Iterator[list[float]]:
    """The countdown of every retry the tasks ask for, as Celery reports them."""
    seen: list[float] = []

    def retried(sender: Task, reason: Retry, **_: Any) -> None:
        seen.append(reason.when)  # type: ignore[arg-type]

    signals.task_retry.connect(retried, weak=False)
    yield seen
    signals.task_retry.disconnect(retried)
