"""Celery tasks: thin wrappers that run ``ingest.pipeline`` and record outcomes.

Transient faults of the cluster retry the whole task with exponential backoff (it is
idempotent); transient faults of single images re-enqueue only the affected products,
with their attempt count, until ``max_attempts`` sends them to the quarantine.
"""

from __future__ import annotations

from typing import Any

from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import ConnectionTimeout

from ingest import pipeline
from ingest.celery_app import app
from ingest.context import current_context
from plugin.catalogue import Product
from plugin.errors import EngineUnavailable

_CLUSTER_FAULTS = (OpenSearchConnectionError, ConnectionTimeout, EngineUnavailable)


@app.task(
    name="lookalike.ingest_products",
    autoretry_for=_CLUSTER_FAULTS,
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=10,
)
def ingest_products(
    run_id: str, catalogue: str, products: list[dict[str, Any]], attempt: int = 1, target: str | None = None
) -> dict[str, int]:
    context = current_context()
    parsed = [Product.model_validate(p) for p in products]
    result = pipeline.process_products(
        context.client, context.config, context.backend, parsed, catalogue=catalogue, attempt=attempt, target=target
    )
    context.tracker.record(run_id, {f"product:{pid}": outcome for pid, outcome in result.outcomes.items()})
    context.tracker.count(run_id, images_embedded=result.images_embedded, texts_embedded=result.texts_embedded)
    if result.retry:
        delay = context.config.ingest.retry_backoff * 2 ** (attempt - 1)
        ingest_products.apply_async((run_id, catalogue, result.retry, attempt + 1, target), countdown=delay)
    return {"done": len(result.outcomes), "retrying": len(result.retry)}


@app.task(name="lookalike.delete_products", autoretry_for=_CLUSTER_FAULTS, retry_backoff=True, max_retries=10)
def delete_products(run_id: str, product_ids: list[str], target: str | None = None) -> int:
    context = current_context()
    outcomes = pipeline.delete_products(context.client, context.config, product_ids, target)
    context.tracker.record(run_id, {f"product:{pid}": outcome for pid, outcome in outcomes.items()})
    return len(outcomes)
