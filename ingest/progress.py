"""Where each product of an ingest run ends up, shared by the workers and whoever watches.

Outcomes are kept per product id (a Redis hash), so a batch that runs twice, after a worker
died and its task was handed to another, records each product once: progress can neither
stall nor overshoot. Counters of model calls sit beside them. Each run is also listed, by
start time, under its index alias, so the admin views can show recent runs and their pace.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from typing import Any, Protocol

import redis

from plugin.errors import BrokerUnavailable

#: Runs are kept for a week, for the admin views and late questions.
RUN_TTL_SECONDS = 7 * 24 * 3600


class RunTracker(Protocol):
    def start(self, run_id: str, total: int, catalogue: str = "", alias: str = "") -> None: ...
    def record(self, run_id: str, outcomes: dict[str, str]) -> None: ...
    def count(self, run_id: str, **counters: int) -> None: ...
    def summary(self, run_id: str) -> dict[str, int]: ...
    def delivered(self, run_id: str, delivery: str) -> int: ...


def new_run_id() -> str:
    return uuid.uuid4().hex[:16]


class RedisRunTracker:
    def __init__(self, url: str, timeout: float = 30.0) -> None:
        """Connect to the broker at *url*; *timeout* bounds each answer (a scrape waits less than a task)."""
        # A read timeout too: a broker that stops answering must not hang a task or the waiting command.
        self.redis = redis.Redis.from_url(url, socket_connect_timeout=min(5.0, timeout), socket_timeout=timeout)
        try:
            self.redis.ping()
        except redis.RedisError as exc:
            raise BrokerUnavailable(
                f"The broker at {url} cannot be reached ({exc}); start it with 'lookalike broker start', "
                "or ingest in this process with --eager."
            ) from exc

    def start(self, run_id: str, total: int, catalogue: str = "", alias: str = "") -> None:
        now = time.time()
        meta = f"lookalike:run:{run_id}:meta"
        pipe = self.redis.pipeline()
        pipe.hset(meta, mapping={"total": total, "catalogue": catalogue, "alias": alias, "started_at": now, "updated_at": now})
        pipe.expire(meta, RUN_TTL_SECONDS)
        if alias:
            runs = _runs_key(alias)
            pipe.zadd(runs, {run_id: now})
            pipe.zremrangebyscore(runs, "-inf", now - RUN_TTL_SECONDS)  # the runs whose keys have expired
            pipe.expire(runs, RUN_TTL_SECONDS)
        pipe.execute()

    def record(self, run_id: str, outcomes: dict[str, str]) -> None:
        if outcomes:
            key = f"lookalike:run:{run_id}:outcomes"
            pipe = self.redis.pipeline()
            pipe.hset(key, mapping=outcomes)
            pipe.expire(key, RUN_TTL_SECONDS)
            # The time of the latest outcome: a finished run's pace is measured up to it, not to now.
            pipe.hset(f"lookalike:run:{run_id}:meta", "updated_at", time.time())
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

    def delivered(self, run_id: str, delivery: str) -> int:
        """Count one more delivery of a task (*delivery*: its id and retry number) and return how many it has had.

        Kept in Redis, beside the broker's own copy of the task: a worker that dies with the
        task takes nothing with it that the next delivery would need. The run counts every
        delivery too, so whoever waits knows that the workers have started its tasks.
        """
        key = f"lookalike:delivery:{delivery}"
        pipe = self.redis.pipeline()
        pipe.incr(key)
        pipe.expire(key, RUN_TTL_SECONDS)
        pipe.hincrby(f"lookalike:run:{run_id}:counters", "deliveries", 1)
        pipe.expire(f"lookalike:run:{run_id}:counters", RUN_TTL_SECONDS)
        return int(pipe.execute()[0])

    def recent_runs(self, alias: str, limit: int = 10) -> list[dict[str, Any]]:
        """The latest runs into *alias*, newest first: catalogue, start time, counts and pace."""
        runs = []
        for raw_id in self.redis.zrevrange(_runs_key(alias), 0, limit - 1):
            run_id = raw_id.decode()
            meta = {k.decode(): v.decode() for k, v in self.redis.hgetall(f"lookalike:run:{run_id}:meta").items()}
            if not meta:
                continue  # expired
            summary = self.summary(run_id)
            started, updated = float(meta.get("started_at", 0)), float(meta.get("updated_at", 0))
            finished = summary["done"] >= summary["total"]
            elapsed = (updated if finished else time.time()) - started
            runs.append(
                {
                    "run_id": run_id,
                    "catalogue": meta.get("catalogue", ""),
                    "started_at": started,
                    "finished": finished,
                    "elapsed_seconds": round(max(elapsed, 0.0), 1),
                    "per_second": round(summary["done"] / elapsed, 2) if elapsed > 0 else 0.0,
                    **summary,
                }
            )
        return runs


def _runs_key(alias: str) -> str:
    return f"lookalike:runs:{alias}"


class MemoryRunTracker:
    """The same bookkeeping in this process, for ``--eager`` runs that have no broker."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: dict[str, int] = {}
        self._outcomes: dict[str, dict[str, str]] = {}
        self._counters: dict[str, Counter[str]] = {}
        self._deliveries: Counter[str] = Counter()

    def start(self, run_id: str, total: int, catalogue: str = "", alias: str = "") -> None:
        with self._lock:
            self._totals[run_id] = total

    def record(self, run_id: str, outcomes: dict[str, str]) -> None:
        with self._lock:
            self._outcomes.setdefault(run_id, {}).update(outcomes)

    def count(self, run_id: str, **counters: int) -> None:
        with self._lock:
            self._counters.setdefault(run_id, Counter()).update(counters)

    def delivered(self, run_id: str, delivery: str) -> int:
        with self._lock:
            self._counters.setdefault(run_id, Counter()).update(deliveries=1)
            self._deliveries[delivery] += 1
            return self._deliveries[delivery]

    def summary(self, run_id: str) -> dict[str, int]:
        with self._lock:
            outcomes = Counter(self._outcomes.get(run_id, {}).values())
            return {
                "total": self._totals.get(run_id, 0),
                "done": sum(outcomes.values()),
                **outcomes,
                **self._counters.get(run_id, Counter()),
            }
