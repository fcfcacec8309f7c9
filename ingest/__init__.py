"""Catalogue ingestion: a catalogue becomes searchable products, or quarantined items with reasons.

``runner`` reads a catalogue and hands batches to Celery ``tasks``; each task runs
``pipeline.process_products`` (fetch, decode, embed only what changed, bulk index) and
records every product's outcome with ``progress``. The names below are what the API and
the command line use; the rest is internal to ingest.
"""

from ingest.progress import MemoryRunTracker, RedisRunTracker, RunTracker
from ingest.runner import (
    STALL_HINT_SECONDS,
    prepare_indices,
    retry_failed,
    run_catalogue,
)

__all__ = ["STALL_HINT_SECONDS", "MemoryRunTracker", "RedisRunTracker", "RunTracker", "prepare_indices", "retry_failed", "run_catalogue"]
