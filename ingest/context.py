"""What a task needs (configuration, cluster client, model, run tracker), built once per process."""

from __future__ import annotations

import dataclasses
import threading

from opensearchpy import OpenSearch

from ingest.progress import RedisRunTracker, RunTracker
from plugin.opensearch.client import connect
from plugin.config import Config
from plugin.models.base import EmbeddingBackend
from plugin.models.registry import load_backend


@dataclasses.dataclass
class IngestContext:
    config: Config
    client: OpenSearch
    backend: EmbeddingBackend
    tracker: RunTracker
    #: The ``_meta`` of indices written to, looked up once.
    index_meta: dict[str, dict[str, object]] = dataclasses.field(default_factory=dict)


_context: IngestContext | None = None
_lock = threading.Lock()


def current_context() -> IngestContext:
    """This process's context; a worker builds it from the environment on its first task."""
    global _context
    with _lock:
        if _context is None:
            config = Config.from_env()
            _context = IngestContext(config, connect(config), load_backend(config.model, config.torch_threads), RedisRunTracker(config.ingest.broker_url))
        return _context


def use_context(context: IngestContext | None) -> None:
    """Install the context that tasks run in (the in-process ``--eager`` mode), or reset it."""
    global _context
    with _lock:
        _context = context
