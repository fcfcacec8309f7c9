"""The run trackers: every product counted once, whoever records it and however often (real Redis)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from engine.local_redis import LocalRedis
from ingest.progress import (
    RUN_TTL_SECONDS,
    MemoryRunTracker,
    RedisRunTracker,
    RunTracker,
    new_run_id,
)
from plugin.errors import BrokerUnavailable
from tests.support.cli import free_port


@pytest.fixture(params=["redis", "memory"])
def tracker(request: pytest.FixtureRequest, redis_server: LocalRedis) -> Iterator[RunTracker]:
    yield RedisRunTracker(redis_server.url) if request.param == "redis" else MemoryRunTracker()


def test_each_product_counts_once_however_often_its_batch_runs(tracker: RunTracker) -> None:
    run_id = new_run_id()
    tracker.start(run_id, 4, catalogue="c.jsonl", alias="shop")

    tracker.record(run_id, {"product:a": "indexed", "product:b": "quarantined"})
    tracker.record(run_id, {"product:a": "indexed", "product:b": "quarantined"})  # a batch run again after a worker died
    tracker.record(run_id, {"row:3": "quarantined"})
    tracker.count(run_id, images_embedded=2, texts_embedded=1)
    tracker.count(run_id, images_embedded=1, texts_embedded=0)

    assert tracker.summary(run_id) == {"total": 4, "done": 3, "indexed": 1, "quarantined": 2, "images_embedded": 3, "texts_embedded": 1}


def test_a_later_outcome_of_a_product_replaces_its_earlier_one(tracker: RunTracker) -> None:
    run_id = new_run_id()
    tracker.start(run_id, 1)

    tracker.record(run_id, {"product:a": "quarantined"})
    tracker.record(run_id, {"product:a": "indexed"})

    assert tracker.summary(run_id) == {"total": 1, "done": 1, "indexed": 1}


def test_runs_are_kept_apart(tracker: RunTracker) -> None:
    first, second = new_run_id(), new_run_id()
    tracker.start(first, 1)
    tracker.start(second, 2)
    tracker.record(first, {"product:a": "indexed"})

    assert tracker.summary(second) == {"total": 2, "done": 0}
    assert tracker.summary("never-started") == {"total": 0, "done": 0}


def test_recent_runs_are_listed_newest_first_with_their_pace(redis_server: LocalRedis) -> None:
    tracker = RedisRunTracker(redis_server.url)
    alias = f"shop-{uuid.uuid4().hex[:8]}"
    older, newer = new_run_id(), new_run_id()
    tracker.start(older, 2, catalogue="old.jsonl", alias=alias)
    tracker.record(older, {"product:a": "indexed", "product:b": "updated"})
    tracker.start(newer, 3, catalogue="new.jsonl", alias=alias)
    tracker.record(newer, {"product:c": "indexed"})
    tracker.start(new_run_id(), 1, catalogue="elsewhere.jsonl", alias=f"{alias}-other")

    runs = tracker.recent_runs(alias)

    assert [(r["run_id"], r["catalogue"], r["finished"], r["done"], r["total"]) for r in runs] == [
        (newer, "new.jsonl", False, 1, 3),
        (older, "old.jsonl", True, 2, 2),
    ]
    assert all(r["elapsed_seconds"] >= 0 and r["per_second"] >= 0 for r in runs)
    assert tracker.recent_runs(alias, limit=1)[0]["run_id"] == newer
    assert 0 < tracker.redis.ttl(f"lookalike:run:{older}:outcomes") <= RUN_TTL_SECONDS


def test_an_unreachable_broker_says_how_to_start_one() -> None:
    with pytest.raises(BrokerUnavailable, match="lookalike broker start.*--eager"):
        RedisRunTracker(f"redis://127.0.0.1:{free_port()}/0")
