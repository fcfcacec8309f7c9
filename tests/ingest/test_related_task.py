"""The periodic task that folds shopper events into recommendations, run by a real worker's Celery beat."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError

from ingest.celery_app import make_app
from plugin.config import Config
from plugin.opensearch.events import write_events
from plugin.recommend.cooccurrence import related_index
from tests.support.cli import LOOKALIKE
from tests.support.workers import Worker


@pytest.fixture
def beating_worker(worker_env: dict[str, str], tmp_path: Path) -> Iterator[Worker]:
    """A worker whose beat runs the task every second, its schedule kept in a directory of its own."""
    env = worker_env | {"LOOKALIKE_RECOMMEND_EVERY": "1", "LOOKALIKE_DATA_DIR": str(tmp_path)}
    running = Worker(env, tmp_path / "worker.log", "--beat")
    running.start()
    yield running
    running.stop()


def test_events_are_folded_in_within_seconds_without_anyone_asking(beating_worker: Worker, worker_client: OpenSearch, worker_config: Config) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    write_events(worker_client, worker_config, [
        {"type": "view", "user": "ana", "product_id": "sneaker", "at": now - dt.timedelta(seconds=2)},
        {"type": "view", "user": "ana", "product_id": "bag", "at": now - dt.timedelta(seconds=1)},
    ])

    counts = _wait_for_counts(worker_client, worker_config, "sneaker")

    assert counts is not None, Path(beating_worker.log).read_text()[-3000:]
    assert counts["together"] == {"bag": 1}
    assert "lookalike.update_related" in Path(beating_worker.log).read_text()


def test_a_beat_of_its_own_has_the_workers_fold_events_in(
    worker: Worker, worker_env: dict[str, str], worker_client: OpenSearch, worker_config: Config, tmp_path: Path
) -> None:
    """As the compose stack runs it: ``lookalike beat`` alone, and plain workers that run what it sends."""
    env = worker_env | {"LOOKALIKE_RECOMMEND_EVERY": "1", "LOOKALIKE_DATA_DIR": str(tmp_path)}
    log = tmp_path / "beat.log"
    with open(log, "wb") as out:
        beat = subprocess.Popen([LOOKALIKE, "beat"], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        now = dt.datetime.now(dt.timezone.utc)
        write_events(worker_client, worker_config, [
            {"type": "view", "user": "ben", "product_id": "scarf", "at": now - dt.timedelta(seconds=2)},
            {"type": "view", "user": "ben", "product_id": "sock", "at": now - dt.timedelta(seconds=1)},
        ])
        counts = _wait_for_counts(worker_client, worker_config, "scarf")
    finally:
        os.killpg(beat.pid, signal.SIGTERM)
        beat.wait(timeout=30)

    assert counts is not None, log.read_text()[-3000:]
    assert counts["together"] == {"sock": 1}
    assert "lookalike.update_related" in log.read_text()
    assert (tmp_path / "celerybeat-schedule").exists() or any(tmp_path.glob("celerybeat-schedule*"))


def _wait_for_counts(client: OpenSearch, config: Config, product: str, timeout: float = 60) -> dict[str, object] | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return client.get(index=related_index(config.index_alias), id=product)["_source"]
        except NotFoundError:
            time.sleep(0.5)
    return None


def test_the_beat_schedule_runs_the_task_as_often_as_configured() -> None:
    config = Config.from_env({"LOOKALIKE_RECOMMEND_EVERY": "30"})

    schedule = make_app(config).conf.beat_schedule

    assert schedule == {"update-related": {"task": "lookalike.update_related", "schedule": 30.0}}
