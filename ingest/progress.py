"""Where each product of an ingest run ends up, shared by the workers and whoever watches.

Outcomes are kept per product id (a Redis hash), so a batch that runs twice, after a worker
died and its task was handed to another, records each product once: progress can neither
stall nor overshoot. Counters of model calls sit beside them.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from typing import Protocol

import redis

from plugin.errors import LookalikeError

#: Runs are kept for a week, for the admin views and late questions.
RUN_TTL_SECONDS = 7 * 24 * 3600


class RunTracker(Protocol):
    def start(self, run_id: str, total: int) -> None: ...
    def record(self, run_id: str, outcomes: dict[str, str]) -> None: ...
    def count(self, run_id: str, **counters: int) -> None: ...
    def summary(self, run_id: str) -> dict[str, int]: ...


def new_run_id() -> str:
    return uuid.uuid4().hex[:16]


class BrokerUnavailable(LookalikeError):
    pass


class RedisRunTracker:
    def __init__(self, url: str) -> None:
        self.redis = redis.Redis.from_url(url, socket_connect_timeout=5)
        try:
            self.redis.ping()
        except redis.RedisError as exc:
            raise BrokerUnavailable(
                f"The broker at {url} cannot be reached ({exc}); start it with 'lookalike broker start', "
                "or ingest in this process with --eager."
            ) from exc

    def start(self, run_id: str, total: int) -> None:
        pipe = self.redis.pipeline()
        pipe.hset(f"lookalike:run:{run_id}:meta", mapping={"total": total})
        pipe.expire(f"lookalike:run:{run_id}:meta", RUN_TTL_SECONDS)
        pipe.execute()

    def record(self, run_id: str, outcomes: dict[str, str]) -> None:
        if outcomes:
            key = f"lookalike:run:{run_id}:outcomes"
            pipe = self.redis.pipeline()
            pipe.hset(key, mapping=outcomes)
            pipe.expire(key, RUN_TTL_SECONDS)
            pipe.execute()

    def count(self, run_id: str, **counters: int) -> None:
        key = f"lookalike:run:{run_id}:counters"
        pipe = self.redis.pipeline()
        for name, value in counters.items():
            pipe.hincrby(key, name, value)
        pipe.expire(key, RUN_TTL_SECONDS)
        pipe.execute()

    def summary(self, run_id: str) -> dict[str, int]:
        outcomes = Counter(v.decode() for v in self.redis.hvals(f"lookalike:run:{run_id}:outcomes"))
        counters = {k.decode(): int(v) for k, v in self.redis.hgetall(f"lookalike:run:{run_id}:counters").items()}
        total = int(self.redis.hget(f"lookalike:run:{run_id}:meta", "total") or 0)
        return {"total": total, "done": sum(outcomes.values()), **outcomes, **counters}


class MemoryRunTracker:
    """The same bookkeeping in this process, for ``--eager`` runs that have no broker."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: dict[str, int] = {}
        self._outcomes: dict[str, dict[str, str]] = {}
        self._counters: dict[str, Counter[str]] = {}

    def start(self, run_id: str, total: int) -> None:
        with self._lock:
            self._totals[run_id] = total

    def record(self, run_id: str, outcomes: dict[str, str]) -> None:
        with self._lock:
            self._outcomes.setdefault(run_id, {}).update(outcomes)

    def count(self, run_id: str, **counters: int) -> None:
        with self._lock:
            self._counters.setdefault(run_id, Counter()).update(counters)

    def summary(self, run_id: str) -> dict[str, int]:
        with self._lock:
            outcomes = Counter(self._outcomes.get(run_id, {}).values())
            return {
                "total": self._totals.get(run_id, 0),
                "done": sum(outcomes.values()),
                **outcomes,
                **self._counters.get(run_id, Counter()),
            }
