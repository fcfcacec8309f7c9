"""Celery tasks: thin wrappers that run ``ingest.pipeline`` and record outcomes.

Every product of a batch ends with an outcome, whatever happens:

* transient faults of the cluster or the broker retry the whole task with exponential
  backoff (it is idempotent);
* transient faults of single images re-enqueue only the affected products, with their
  attempt count, until ``max_attempts`` sends them to the quarantine;
* anything else (a product that no longer validates, an index built for another model, an
  unexpected error, retries exhausted) quarantines the batch's products with the reason,
  so the run finishes and says why instead of waiting forever.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from celery import Task
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import ConnectionTimeout, TransportError
from pydantic import ValidationError

from ingest import pipeline
from ingest.celery_app import app
from ingest.context import IngestContext, current_context
from plugin.catalogue.reader import Product
from plugin.errors import EngineUnavailable, ModelMismatch
from plugin.opensearch.documents import describe_model, same_model
from plugin.opensearch.indices import index_model
from plugin.catalogue.quarantine import QuarantineRecord, write_records
from plugin.errors import QuarantineWriteFailed

log = logging.getLogger(__name__)
MAX_TASK_RETRIES = 8


def is_transient(exc: BaseException) -> bool:
    """Faults of the cluster or broker that waiting may cure."""
    if isinstance(exc, (OpenSearchConnectionError, ConnectionTimeout, EngineUnavailable, redis.RedisError, QuarantineWriteFailed)):
        return True
    return isinstance(exc, TransportError) and exc.status_code in (429, 502, 503, 504)


@app.task(bind=True, name="lookalike.ingest_products", max_retries=MAX_TASK_RETRIES)
def ingest_products(
    self: Task, run_id: str, catalogue: str, products: list[dict[str, Any]], attempt: int = 1, target: str | None = None
) -> dict[str, int]:
    context = current_context()
    parsed: list[Product] = []
    for raw in products:
        try:
            parsed.append(Product.model_validate(raw))
        except ValidationError as exc:
            _give_up(context, run_id, catalogue, [raw], "invalid_product", str(exc))
    try:
        _check_model(context, target)
        result = pipeline.process_products(
            context.client, context.config, context.backend, parsed, catalogue=catalogue, attempt=attempt, target=target
        )
    except ModelMismatch as exc:
        _give_up(context, run_id, catalogue, [p.model_dump(mode="json") for p in parsed], "model_mismatch", str(exc))
        return {"done": len(products), "retrying": 0}
    except Exception as exc:  # noqa: BLE001 - every product must end with an outcome
        if is_transient(exc) and self.request.retries < MAX_TASK_RETRIES:
            raise self.retry(exc=exc, countdown=min(300, 2 ** (self.request.retries + 1))) from exc
        log.exception("ingest batch of %d products failed", len(parsed))
        _give_up(context, run_id, catalogue, [p.model_dump(mode="json") for p in parsed], "internal_error", f"{type(exc).__name__}: {exc}")
        return {"done": len(products), "retrying": 0}
    context.tracker.record(run_id, {f"product:{pid}": outcome for pid, outcome in result.outcomes.items()})
    context.tracker.count(run_id, images_embedded=result.images_embedded, texts_embedded=result.texts_embedded)
    if result.retry:
        delay = context.config.ingest.retry_backoff * 2 ** (attempt - 1)
        if app.conf.task_always_eager:
            time.sleep(delay)  # an eager run has no broker to hold the task back
        ingest_products.apply_async(
            (run_id, catalogue, result.retry, attempt + 1, target), countdown=delay, queue=_queue(self)
        )
    return {"done": len(result.outcomes), "retrying": len(result.retry)}


@app.task(bind=True, name="lookalike.delete_products", max_retries=MAX_TASK_RETRIES)
def delete_products(self: Task, run_id: str, product_ids: list[str], target: str | None = None) -> int:
    context = current_context()
    try:
        outcomes = pipeline.delete_products(context.client, context.config, product_ids, target)
    except Exception as exc:  # noqa: BLE001
        if is_transient(exc) and self.request.retries < MAX_TASK_RETRIES:
            raise self.retry(exc=exc, countdown=min(300, 2 ** (self.request.retries + 1))) from exc
        raise
    context.tracker.record(run_id, {f"product:{pid}": outcome for pid, outcome in outcomes.items()})
    return len(outcomes)


def _check_model(context: IngestContext, target: str | None) -> None:
    """Refuse to write vectors of this worker's model into an index built for another one."""
    index = target or context.config.index_alias
    meta = context.index_meta.get(index)
    if meta is None:
        resolved = next(iter(context.client.indices.get(index=index)))
        meta = context.index_meta[index] = index_model(context.client, resolved)
    spec = context.backend.spec
    if not same_model(meta, spec):
        raise ModelMismatch(
            f"index {index} holds vectors of {describe_model(meta)}; "
            f"this worker runs {spec.name} v{spec.version}"
        )


def _give_up(context: IngestContext, run_id: str, catalogue: str, products: list[dict[str, Any]], reason: str, message: str) -> None:
    records = [
        QuarantineRecord(
            kind="product", reason=reason, message=message[:4000], catalogue=catalogue,
            product_id=str(p.get("id", "?")), product=p,
        )
        for p in products
    ]
    try:
        write_records(context.client, context.config, records)
    except Exception:  # noqa: BLE001 - the outcome below still ends the run
        log.exception("could not write %d quarantine records", len(records))
    context.tracker.record(run_id, {f"product:{p.get('id', '?')}": pipeline.QUARANTINED for p in products})


def _queue(task: Task) -> str | None:
    info = task.request.delivery_info or {}
    return info.get("routing_key")
