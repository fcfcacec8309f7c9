"""Ingest as the admin views see it: recent runs with live progress, and retrying the quarantine.

Progress comes from the per-run counters the workers keep in Redis (:class:`ingest.RedisRunTracker`),
pushed to the page as server-sent events. A retry started from the page runs the same code
as ``lookalike ingest --retry-failed`` (:func:`ingest.retry_failed`), in a thread of the API
process, handing the products to the workers.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

from opensearchpy import OpenSearch

from ingest import RedisRunTracker, retry_failed
from plugin.config import Config
from plugin.errors import BrokerUnavailable, RetryAlreadyRunning

log = logging.getLogger(__name__)

#: How often the event stream looks for changes, and how long one stream lasts before the
#: browser reconnects (EventSource does that by itself), so a server thread is never held forever.
POLL_SECONDS = 0.5
STREAM_SECONDS = 300.0
HEARTBEAT_SECONDS = 15.0
#: Longest a retry started from the page waits for the workers.
RETRY_TIMEOUT_SECONDS = 3600.0


class IngestMonitor:
    """Reads runs from the broker's Redis and runs at most one retry of the quarantine at a time."""

    def __init__(self, client: OpenSearch, config: Config) -> None:
        self.client, self.config = client, config
        self._tracker: RedisRunTracker | None = None
        self._lock = threading.Lock()
        self._retry: threading.Thread | None = None
        self.last_retry_error: str | None = None

    def tracker(self) -> RedisRunTracker:
        """The run tracker, connected on first use; raises :class:`BrokerUnavailable` when Redis is down."""
        if self._tracker is None:
            self._tracker = RedisRunTracker(self.config.ingest.broker_url)
        return self._tracker

    def state(self) -> dict[str, Any]:
        """Recent runs into this alias, the quarantine's size, and whether a retry is running."""
        state: dict[str, Any] = {"retry_running": self.retry_running(), "retry_error": self.last_retry_error}
        try:
            state["runs"] = self.tracker().recent_runs(self.config.index_alias)
            state["broker"] = "ok"
        except (BrokerUnavailable, OSError) as exc:
            state["runs"], state["broker"] = [], str(exc)
        except Exception as exc:  # a Redis error mid-stream: say so on the page, keep streaming
            self._tracker = None
            state["runs"], state["broker"] = [], f"the broker failed: {exc}"
        exists = self.client.indices.exists(index=self.config.quarantine_index)
        state["quarantined"] = int(self.client.count(index=self.config.quarantine_index)["count"]) if exists else 0
        return state

    def retry_running(self) -> bool:
        return self._retry is not None and self._retry.is_alive()

    def start_retry(self) -> None:
        """Start ingesting the quarantined products again; the workers do the work.

        Raises :class:`BrokerUnavailable` when Redis is down, :class:`RetryAlreadyRunning` during a retry.
        """
        self.tracker()  # fail now, with the broker's message, rather than in the thread
        with self._lock:
            if self.retry_running():
                raise RetryAlreadyRunning("a retry of the quarantine is already running")
            self.last_retry_error = None
            self._retry = threading.Thread(target=self._run_retry, name="lookalike-retry-failed", daemon=True)
            self._retry.start()

    def _run_retry(self) -> None:
        try:
            retry_failed(self.client, self.config, timeout=RETRY_TIMEOUT_SECONDS)
        except Exception as exc:  # shown on the page; the thread must not die silently
            log.exception("retry of the quarantine failed")
            self.last_retry_error = str(exc)

    def events(self, stream_seconds: float = STREAM_SECONDS) -> Iterator[str]:
        """Server-sent events: the state whenever it changes, a comment now and then to keep proxies open."""
        yield "retry: 1000\n\n"
        last, last_sent = "", time.monotonic()
        deadline = time.monotonic() + stream_seconds
        while time.monotonic() < deadline:
            payload = json.dumps(self.state(), sort_keys=True)
            if payload != last:
                last, last_sent = payload, time.monotonic()
                yield f"event: ingest\ndata: {payload}\n\n"
            elif time.monotonic() - last_sent > HEARTBEAT_SECONDS:
                last_sent = time.monotonic()
                yield ": keep-alive\n\n"
            time.sleep(POLL_SECONDS)
