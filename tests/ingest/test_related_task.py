"""The periodic task that folds shopper events into recommendations, run by a real worker's Celery beat."""

from __future__ import annotations

import datetime as dt
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
from tests.support.workers import Worker


@pytest.fixture(scope="module")
def beating_worker(worker_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """A worker whose beat runs the task every second, its schedule kept in a directory of its own."""
    state = tmp_path_factory.mktemp("beat-state")
    env = worker_env | {"LOOKALIKE_RECOMMEND_EVERY": "1", "LOOKALIKE_DATA_DIR": str(state)}
    running = Worker(env, tmp_path_factory.mktemp("beat-log") / "worker.log", "--beat")
    running.start()
    yield running
    running.stop()


def test_events_are_folded_in_within_seconds_without_anyone_asking(beating_worker: Worker, worker_client: OpenSearch, worker_config: Config) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    write_events(worker_client, worker_config, [
        {"type": "view", "user": "ana", "product_id": "sneaker", "at": now - dt.timedelta(seconds=2)},
        {"type": "view", "user": "ana", "product_id": "bag", "at": now - dt.timedelta(seconds=1)},
    ])

    deadline = time.monotonic() + 60
    counts = None
    while time.monotonic() < deadline and counts is None:
        try:
            counts = worker_client.get(index=related_index(worker_config.index_alias), id="sneaker")["_source"]
        except NotFoundError:
            time.sleep(0.5)

    assert counts is not None, Path(beating_worker.log).read_text()[-3000:]
    assert counts["together"] == {"bag": 1}
    assert "lookalike.update_related" in Path(beating_worker.log).read_text()


def test_the_beat_schedule_runs_the_task_as_often_as_configured() -> None:
    config = Config.from_env({"LOOKALIKE_RECOMMEND_EVERY": "30"})

    schedule = make_app(config).conf.beat_schedule

    assert schedule == {"update-related": {"task": "lookalike.update_related", "schedule": 30.0}}
