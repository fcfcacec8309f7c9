"""Ingest as the admin views see it: recent runs with live progress, and retrying the quarantine.

Progress comes from the per-run counters the workers keep in Redis (:class:`ingest.RedisRunTracker`),
sent to the page as server-sent events. A retry started from the page runs the same code
as ``lookalike ingest --retry-failed`` (:func:`ingest.retry_failed`), in a thread of the API
process, handing the products to the workers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from typing import Any

from opensearchpy import OpenSearch

from ingest import RedisRunTracker, retry_failed
from plugin.config import Config
from plugin.errors import BrokerUnavailable, RetryAlreadyRunning

log = logging.getLogger(__name__)

#: Milliseconds the browser waits before asking for the state again (EventSource reconnects by itself).
RECONNECT_MILLISECONDS = 1000
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

    def events(self, last_event_id: str | None = None) -> str:
        """Server-sent events for one short response: the state, unless the browser already has it.

        Each response ends at once, and its ``retry:`` tells the browser's EventSource to ask
        again a second later, sending the ``id`` of the state it holds as ``Last-Event-ID``.
        An open stream would hold a request thread for as long as the page stays open, and a
        few admin pages would starve the search API.
        """
        payload = json.dumps(self.state(), sort_keys=True)
        event_id = hashlib.sha256(payload.encode()).hexdigest()[:16]
        reconnect = f"retry: {RECONNECT_MILLISECONDS}\n\n"
        if event_id == last_event_id:
            return reconnect
        return f"{reconnect}id: {event_id}\nevent: ingest\ndata: {payload}\n\n"
