"""The Celery tasks: a base task that says how they retry and fail, and two thin tasks on it.

Every product of a batch ends with an outcome, whatever happens:

* transient faults of the cluster or the broker retry the whole task with exponential
  backoff, as :class:`IngestTask` declares (the tasks are idempotent);
* transient faults of single images re-enqueue only the affected products, with their
  attempt count, until ``max_attempts`` sends them to the quarantine;
* anything else (an index built for another model, an unexpected error, retries exhausted)
  quarantines the task's products that were not written yet with the reason in
  :meth:`IngestTask.on_failure`, so the run finishes and says why instead of waiting forever;
  a product that no longer validates is quarantined on its own and the rest of its task goes on;
* a task whose worker dies (killed, out of memory) comes back from the broker after its
  visibility timeout, as ``acks_late`` intends; one that has killed its worker
  ``max_deliveries`` times is poison: the next delivery quarantines its products
  (:meth:`IngestTask.before_start`) instead of running it again.

A task carries several embedding batches (see :mod:`ingest.runner`), so that the pipeline can
prepare the next batch and write the last one while the model embeds this one; each batch's
outcomes are recorded as soon as it is written.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import datetime as dt
import functools
import inspect
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import redis
from celery import Task
from celery.utils.serialization import UnpickleableExceptionWrapper
from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import ConnectionTimeout
from pydantic import ValidationError

from ingest import pipeline
from ingest.celery_app import app
from ingest.progress import RedisRunTracker, RunTracker
from plugin.catalogue.reader import Product
from plugin.config import Config
from plugin.errors import (
    ConfigError,
    EngineBusy,
    EngineUnavailable,
    IndexLifecycleError,
    LookalikeError,
    ModelMismatch,
    PoisonTask,
    QuarantineWriteFailed,
    RelatedNotStored,
)
from plugin.models.base import EmbeddingBackend
from plugin.models.registry import backend_for
from plugin.opensearch.client import connect
from plugin.opensearch.documents import describe_model, same_model
from plugin.opensearch.indices import index_model, indices_behind
from plugin.opensearch.quarantine import QuarantineRecord, write_records
from plugin.recommend import cooccurrence
from plugin.tagging.store import (
    changed_since,
    every_product,
    near_products,
    store_predictions,
)

log = logging.getLogger(__name__)

#: Faults of the cluster or the broker that waiting may cure.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    OpenSearchConnectionError,
    ConnectionTimeout,
    EngineUnavailable,
    EngineBusy,
    redis.RedisError,
    QuarantineWriteFailed,
)


@dataclasses.dataclass
class IngestContext:
    """What a task works with: the configuration, a cluster client, the model and the run tracker."""

    config: Config
    client: OpenSearch
    backend: EmbeddingBackend
    tracker: RunTracker
    #: The ``_meta`` of indices written to, looked up once.
    index_meta: dict[str, dict[str, object]] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_env(cls) -> IngestContext:
        """A worker's context, from the environment it was started in."""
        config = Config.from_env()
        backend = backend_for(config)
        return cls(config, connect(config), backend, RedisRunTracker(config.ingest.broker_url))


#: The context handed to tasks run in this process (``--eager``), for as long as :func:`running_here` lasts.
_handed: contextvars.ContextVar[IngestContext | None] = contextvars.ContextVar("ingest_context", default=None)


@contextlib.contextmanager
def running_here(context: IngestContext) -> Iterator[None]:
    """Run the tasks applied in this block (``task.apply``) with *context* instead of the worker's own."""
    token = _handed.set(context)
    try:
        yield
    finally:
        _handed.reset(token)


class IngestTask(Task):
    """The base of the ingest tasks: their retries, their context, and the quarantine when they fail."""

    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = 2  # seconds before the first retry, doubling after each: 2, 4, 8, ...
    retry_backoff_max = 300
    retry_jitter = False
    max_retries = 8
    #: Refusals to report, not faults of the worker: logged in one line, without a traceback.
    #: A worker whose gallery views its target index cannot hold, or that lacks the detector
    #: they need, refuses each task the same way: its products carry the reason.
    throws = (ModelMismatch, PoisonTask, IndexLifecycleError, ConfigError)

    # Celery makes one instance per task and process; the context (the model above all) is
    # built once per process for every task, so it lives on this class, not on an instance.
    _process_context: ClassVar[IngestContext | None] = None
    _process_lock: ClassVar[threading.Lock] = threading.Lock()

    @property
    def context(self) -> IngestContext:
        """The context handed in by :func:`running_here`, or this process's, built on first use."""
        handed = _handed.get()
        return handed if handed is not None else self.process_context()

    @staticmethod
    def process_context() -> IngestContext:
        """This worker process's context, built from the environment the first time it is asked for."""
        with IngestTask._process_lock:
            if IngestTask._process_context is None:
                IngestTask._process_context = IngestContext.from_env()
            return IngestTask._process_context

    def before_start(self, task_id: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Count this delivery of the task, before any work; refuse it as poison past ``max_deliveries``.

        A delivery is counted per task id and retry (a retry is a new message under the same
        id), so only deliveries that ended without an outcome add up: the worker died, or
        the task outlived the broker's visibility timeout. Raising here fails the task, which
        Celery acknowledges, and :meth:`on_failure` quarantines its products.
        """
        if self.request.is_eager:
            return  # run in this process: nothing hands it out again
        run_id = inspect.signature(self.run).bind(*args, **kwargs).arguments["run_id"]
        try:
            deliveries = self.context.tracker.delivered(run_id, f"{task_id}:{self.request.retries}")
        except redis.RedisError as exc:  # the broker that just delivered it is gone again: run it uncounted
            log.warning("could not count the delivery of task %s (%s)", task_id, exc)
            return
        limit = self.context.config.ingest.max_deliveries
        if deliveries > limit:
            raise PoisonTask(f"its task killed the worker {deliveries - 1} times, so it is not run again (at most {limit} deliveries)")

    def on_failure(self, exc: Exception, task_id: str, args: tuple[Any, ...], kwargs: dict[str, Any], einfo: Any) -> None:
        """Quarantine every product of the task not written yet with the reason, so that the run still finishes."""
        arguments = inspect.signature(self.run).bind(*args, **kwargs).arguments
        reason = exc.reason if isinstance(exc, self.throws) and isinstance(exc, LookalikeError) else "internal_error"
        if "products" in arguments:
            # Celery calls this with the failed request still current, so what it recorded is at hand.
            written: set[str] = getattr(self.request, "written", set())
            # The invalid ones are quarantined already, the written ones have their outcome.
            valid = [p for p in arguments["products"] if (pid := _valid_id(p)) is not None and pid not in written]
            give_up(self.context, arguments["run_id"], arguments["catalogue"], valid, reason, _describe(exc))
        else:  # a delete: there is no product to ingest again, so --retry-failed passes its records by
            ids = [{"id": pid} for pid in arguments["product_ids"]]
            give_up(self.context, arguments["run_id"], "", ids, reason, _describe(exc), keep=False)

    def send_again(self, args: tuple[Any, ...], countdown: float) -> None:
        """Run this task again with *args* after *countdown* seconds, the way this one was run."""
        if self.request.is_eager:
            time.sleep(countdown)  # run here, nothing else would hold the products back
            self.apply(args, throw=False)
        else:
            info = self.request.delivery_info or {}
            self.apply_async(args, countdown=countdown, queue=info.get("routing_key"))


@app.task(base=IngestTask, bind=True, name="lookalike.ingest_products")
def ingest_products(
    self: IngestTask, run_id: str, catalogue: str, products: list[dict[str, Any]], attempt: int = 1, target: str | None = None
) -> dict[str, int]:
    context = self.context
    parsed = [product for raw in products if (product := _parse(context, run_id, catalogue, raw)) is not None]
    _check_model(context, target)
    written: set[str] = set()
    self.request.written = written  # for on_failure: these products have their outcome

    def record(batch: pipeline.BatchResult) -> None:
        context.tracker.record(run_id, {f"product:{pid}": outcome for pid, outcome in batch.outcomes.items()})
        context.tracker.count(run_id, images_embedded=batch.images_embedded, texts_embedded=batch.texts_embedded)
        written.update(batch.outcomes)

    result = pipeline.process_products(
        context.client, context.config, context.backend, parsed, catalogue=catalogue, attempt=attempt, target=target, on_written=record
    )
    if result.retry:
        delay = context.config.ingest.retry_backoff * 2 ** (attempt - 1)
        self.send_again((run_id, catalogue, result.retry, attempt + 1, target), countdown=delay)
    return {"done": len(result.outcomes), "retrying": len(result.retry)}


@app.task(base=IngestTask, bind=True, name="lookalike.delete_products")
def delete_products(self: IngestTask, run_id: str, product_ids: list[str], target: str | None = None) -> int:
    context = self.context
    outcomes = pipeline.delete_products(context.client, context.config, product_ids, target)
    context.tracker.record(run_id, {f"product:{pid}": outcome for pid, outcome in outcomes.items()})
    return len(outcomes)


@functools.cache
def _related_context() -> tuple[Config, OpenSearch, redis.Redis]:
    """The configuration, cluster client and broker connection of :func:`update_related`, once per
    process: the task needs no model, so it does not build the ingest context that loads one."""
    config = Config.from_env()
    return config, connect(config), redis.Redis.from_url(config.ingest.broker_url)


@app.task(
    bind=True, name="lookalike.update_related", autoretry_for=(*TRANSIENT_ERRORS, RelatedNotStored), retry_backoff=2, max_retries=3, retry_jitter=False
)
def update_related(self: Task) -> dict[str, Any]:
    """Fold the shopper events received since the last run into co-occurrence and popularity
    (:func:`plugin.recommend.cooccurrence.update_related`); Celery beat runs it every
    ``LOOKALIKE_RECOMMEND_EVERY`` seconds. Runs never overlap: one that finds another running skips."""
    config, client, broker = _related_context()
    lock = broker.lock(f"lookalike:update-related:{config.index_alias}", timeout=RELATED_LOCK_S)
    if not lock.acquire(blocking=False):
        return {"skipped": "another run is folding events in"}
    try:
        return dataclasses.asdict(cooccurrence.update_related(client, config))
    finally:
        with contextlib.suppress(redis.exceptions.LockError):  # expired under a very long run: nothing to release
            lock.release()


@app.task(bind=True, name="lookalike.predict_tags", autoretry_for=TRANSIENT_ERRORS, retry_backoff=2, max_retries=5, retry_jitter=False)
def predict_tags(self: Task, since: str | None = None, index: str | None = None, product_ids: list[str] | None = None) -> dict[str, Any]:
    """Predict the shop's categories and tags (:mod:`plugin.tagging.store`) for *product_ids*; without
    them, for the products of *index* (the live one when None) written since *since* and their
    neighbours, or for every product when *since* is None. The runner sends it after each run that
    wrote products; more than :data:`PREDICT_TASK_PRODUCTS` products are handed out as further tasks."""
    handed = _handed.get()
    context = handed if handed is not None else IngestTask.process_context()
    client, alias = context.client, context.config.index_alias
    target = index or next(iter(indices_behind(client, alias)), None)
    if target is None:
        return {"skipped": f"no index behind {alias}"}
    if product_ids is None:
        product_ids = every_product(client, target) if since is None else near_products(client, target, changed_since(client, target, dt.datetime.fromisoformat(since)))
        if len(product_ids) > PREDICT_TASK_PRODUCTS:
            # One task per part, each far shorter than the broker's visibility timeout.
            parts = [product_ids[start : start + PREDICT_TASK_PRODUCTS] for start in range(0, len(product_ids), PREDICT_TASK_PRODUCTS)]
            for part in parts:
                if self.request.is_eager:
                    predict_tags.apply((None, target, part), throw=True)
                else:
                    predict_tags.apply_async((None, target, part), queue=(self.request.delivery_info or {}).get("routing_key"))
            return {"parts": len(parts)}
    result = store_predictions(client, alias, context.backend, product_ids, index=target)
    if result.skipped:
        log.info("predictions not stored: %s", result.skipped)
    return dataclasses.asdict(result)


#: Products one :func:`predict_tags` task predicts: about a second of work on two cores (10.7 s
#: for 1,000 products), so an ingest task handed out after one waits at most that long.
PREDICT_TASK_PRODUCTS = 100


#: Seconds a run of :func:`update_related` may hold its lock: far beyond a run of MAX_EVENTS events.
RELATED_LOCK_S = 900


def give_up(
    context: IngestContext,
    run_id: str,
    catalogue: str,
    products: list[dict[str, Any]],
    reason: str,
    message: str,
    *,
    keep: bool = True,
) -> None:
    """Quarantine *products* with *reason* and record them as quarantined; with *keep*, each
    record holds its product, for ``--retry-failed``."""
    records = [
        QuarantineRecord(
            kind="product", reason=reason, message=message[:4000], catalogue=catalogue,
            product_id=str(p.get("id", "?")), product=p if keep else None,
        )
        for p in products
    ]
    try:
        write_records(context.client, context.config, records)
    except Exception:  # noqa: BLE001 - the outcomes below still end the run
        log.exception("could not write %d quarantine records", len(records))
    context.tracker.record(run_id, {f"product:{p.get('id', '?')}": pipeline.QUARANTINED for p in products})


def _parse(context: IngestContext, run_id: str, catalogue: str, raw: dict[str, Any]) -> Product | None:
    """The product *raw* describes, or None once it is quarantined for no longer validating."""
    try:
        return Product.model_validate(raw)
    except ValidationError as exc:
        give_up(context, run_id, catalogue, [raw], "invalid_product", str(exc))
        return None


def _valid_id(raw: dict[str, Any]) -> str | None:
    """The id of the product *raw* describes, or None when it does not validate."""
    try:
        return Product.model_validate(raw).id
    except ValidationError:
        return None


def _check_model(context: IngestContext, target: str | None) -> None:
    """Refuse to write vectors of this worker's model into an index built for another one."""
    index = target or context.config.index_alias
    meta = context.index_meta.get(index)
    if meta is None:
        with pipeline.busy_as_engine_busy():
            resolved = next(iter(context.client.indices.get(index=index)))
            meta = context.index_meta[index] = index_model(context.client, resolved)
    spec = context.backend.spec
    if not same_model(meta, spec):
        raise ModelMismatch(f"index {index} holds vectors of {describe_model(meta)}; this worker runs {spec.name} v{spec.version}")


def _describe(exc: BaseException) -> str:
    """The quarantine's message for *exc*: the model mismatch as it reads, anything else with its class."""
    if isinstance(exc, (ModelMismatch, PoisonTask)):
        return str(exc)
    if isinstance(exc, UnpickleableExceptionWrapper):  # what Celery hands on for an exception it cannot pickle
        return f"{exc.exc_cls_name}: {exc.exc_msg}"
    return f"{type(exc).__name__}: {exc}"
