"""Hand a catalogue to the workers and follow it until every row has an outcome.

``run_catalogue`` validates the catalogue here (malformed rows go straight to the
quarantine), sends the valid products to the workers in tasks of several embedding batches,
and reports progress until each product is indexed, updated, unchanged, deleted or
quarantined. With ``eager=True`` the same tasks are applied in this process, without a
broker, and the shared Celery app is left as it was.

A large run relaxes the target index's refresh interval while it lasts and puts the
previous one back when it ends, however it ends; the index is refreshed once at the end.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis
from opensearchpy import OpenSearch

from ingest.progress import MemoryRunTracker, RedisRunTracker, RunTracker, new_run_id
from plugin.catalogue.reader import (
    CatalogueRow,
    DeleteRow,
    Product,
    RejectedRow,
    read_catalogue,
)
from plugin.config import Config
from plugin.errors import (
    BrokerUnavailable,
    IncompleteIndex,
    IngestTimeout,
    ModelMismatch,
)
from plugin.models.registry import backend_for, spec_for_model
from plugin.opensearch.documents import describe_model, same_model
from plugin.opensearch.indices import (
    check_room_for_views,
    create_product_index,
    ensure_index,
    ensure_product_index,
    go_live,
    index_model,
)
from plugin.opensearch.quarantine import (
    QuarantineRecord,
    ensure_quarantine,
    list_records,
    write_records,
)
from plugin.opensearch.saved_searches import notify_matches

if TYPE_CHECKING:
    from celery import Task

    from ingest.tasks import IngestContext

log = logging.getLogger(__name__)

Progress = Callable[[dict[str, int]], None]



def prepare_indices(client: OpenSearch, config: Config, *, new_index: bool = False) -> str:
    """Make sure the product index, the quarantine and the thumbnails exist; return the index to fill.

    With *new_index*, that is a new, empty index for the configured model, filled beside the
    live one and made live by :func:`run_catalogue` once it is complete.
    """
    spec = spec_for_model(config.model)
    ensure_quarantine(client, config)
    ensure_index(client, config, config.thumbnail_index, "thumbnails")
    if new_index:
        return create_product_index(client, config, spec)
    live = ensure_product_index(client, config, spec)
    meta = index_model(client, live)
    if not same_model(meta, spec):
        raise ModelMismatch(
            f"The live index {live} holds vectors of {describe_model(meta)}, "
            f"but LOOKALIKE_MODEL is {spec.name} v{spec.version}; set LOOKALIKE_MODEL to the index's model, "
            "or re-embed the catalogue into a new index with --new-index."
        )
    check_room_for_views(client, config, live)
    return live


def run_catalogue(
    client: OpenSearch,
    config: Config,
    catalogue: Path,
    *,
    eager: bool = False,
    progress: Progress | None = None,
    timeout: float | None = None,
    new_index: bool = False,
    queue: str | None = None,
) -> dict[str, int]:
    """Ingest *catalogue* and return the run's summary (counts of each outcome and model calls).

    With *new_index* every product is embedded into a new index (for a new model or mapping)
    while searches go on against the live one; the alias moves to the new index only if it
    holds every product that was not quarantined. The old index is kept for a rollback.
    """
    target = prepare_indices(client, config, new_index=new_index)
    products: list[Product] = []
    deletes: list[str] = []
    rejected: list[RejectedRow] = []
    for row in read_catalogue(catalogue):
        if isinstance(row, CatalogueRow):
            products.append(row.product)
        elif isinstance(row, DeleteRow):
            deletes.append(row.product_id)
        else:
            rejected.append(row)
    name = str(catalogue)
    _clear_row_records(client, config, name)
    started = dt.datetime.now(dt.timezone.utc)
    # Tasks name the concrete index, so an alias moved mid-run cannot split a run across two.
    summary = _run(
        client, config, name, [p.model_dump(mode="json") for p in products], deletes, rejected, eager, progress, timeout,
        target=target, queue=queue,
    )
    if new_index:
        # Predicted before the alias moves, so that filters by prediction find them at once (with --eager; workers may still be at it).
        _predict_tags(client, config, target, None, eager, queue)
        _swap_if_complete(client, config, target, summary)
        summary["new_index"] = target  # type: ignore[assignment]
    elif summary.get("indexed") or summary.get("updated"):
        # A new index holds the same catalogue again: only a live run's new and changed products are news.
        _tell_saved_searches(client, config, [p.id for p in products], started)
        _predict_tags(client, config, target, started, eager, queue)
    return summary


def _predict_tags(client: OpenSearch, config: Config, target: str, since: dt.datetime | None, eager: bool, queue: str | None = None) -> None:
    """Predict categories and tags for the run's changed products and their neighbours (every
    product of a new index), on a worker; a failure is logged, never the run's."""
    if not config.ingest.predict_tags:
        return
    from ingest import tasks
    from ingest.celery_app import background_queue

    # A minute's margin, for workers whose clocks run behind the runner's: it costs predicting
    # again the products written in the minute before the run.
    args = (None if since is None else (since - dt.timedelta(minutes=1)).isoformat(), target)
    try:
        if eager:
            context = tasks.IngestContext(config, client, backend_for(config), MemoryRunTracker())
            with tasks.running_here(context):
                tasks.predict_tags.apply(args, throw=True)
        else:
            with _broker_lost_is_one_sentence(config.ingest.broker_url):
                _send([(tasks.predict_tags, args)], config.ingest.broker_url, background_queue(queue))
    except Exception:  # the products are in and searchable: the run must not be reported failed for it
        log.exception("categories and tags were not predicted after the run")


def _tell_saved_searches(client: OpenSearch, config: Config, product_ids: list[str], since: dt.datetime) -> None:
    """Shoppers' saved searches learn of the run's new and changed products; a failure here is
    logged, never the run's: its products are indexed and searchable either way."""
    try:
        notify_matches(client, config, product_ids, since)
    except Exception:  # whatever it is, the products are in: the run must not be reported failed for it
        log.exception("saved searches were not told of %d products", len(product_ids))


def _swap_if_complete(client: OpenSearch, config: Config, index: str, summary: dict[str, int]) -> None:
    expected = sum(summary.get(outcome, 0) for outcome in ("indexed", "updated", "unchanged"))
    found = client.count(index=index)["count"]
    if found != expected:
        raise IncompleteIndex(
            f"The new index {index} holds {found} products where {expected} were ingested; "
            f"the alias {config.index_alias} was left where it was."
        )
    go_live(client, config, index, spec_for_model(config.model))


def retry_failed(
    client: OpenSearch, config: Config, *, eager: bool = False, progress: Progress | None = None, timeout: float | None = None
) -> dict[str, int]:
    """Ingest again every quarantined product (rows that are malformed must be fixed in the catalogue)."""
    target = prepare_indices(client, config)
    products: dict[str, dict[str, Any]] = {}
    for record in list_records(client, config, size=None):
        if record.get("kind") in ("image", "product") and record.get("product"):
            products.setdefault(record["product_id"], record["product"])
    started = dt.datetime.now(dt.timezone.utc)
    summary = _run(client, config, "retry-failed", list(products.values()), [], [], eager, progress, timeout, target=target)
    if summary.get("indexed") or summary.get("updated"):
        _tell_saved_searches(client, config, list(products), started)
        _predict_tags(client, config, target, started, eager)
    return summary


def _run(
    client: OpenSearch,
    config: Config,
    catalogue: str,
    products: list[dict[str, Any]],
    deletes: list[str],
    rejected: list[RejectedRow],
    eager: bool,
    progress: Progress | None,
    timeout: float | None,
    target: str,
    queue: str | None = None,
) -> dict[str, int]:
    # Imported here: importing ingest.tasks builds the Celery app from the environment, which
    # the API and the command line need only once they hand work to it.
    from ingest import tasks

    size = task_size(config)
    relaxed = config.ingest.large_run_refresh if is_large_run(config, len(products) + len(deletes)) else None
    run_id = new_run_id()
    tracker: RunTracker = MemoryRunTracker() if eager else RedisRunTracker(config.ingest.broker_url)
    with _broker_lost_is_one_sentence(config.ingest.broker_url):
        tracker.start(run_id, len(products) + len(deletes) + len(rejected), catalogue=catalogue, alias=config.index_alias)

    write_records(
        client,
        config,
        [
            QuarantineRecord(kind="row", reason=row.code, message=row.reason, catalogue=catalogue, line=row.line, raw=row.raw)
            for row in rejected
        ],
    )
    with _broker_lost_is_one_sentence(config.ingest.broker_url):
        tracker.record(run_id, {f"row:{row.line}": "quarantined" for row in rejected})
    work: list[tuple[Task, tuple[Any, ...]]] = [(tasks.delete_products, (run_id, deletes, target))] if deletes else []
    work += [
        (tasks.ingest_products, (run_id, catalogue, products[start : start + size], 1, target)) for start in range(0, len(products), size)
    ]
    with relaxed_refresh(client, target, relaxed) if relaxed is not None else contextlib.nullcontext():
        if eager:
            context = tasks.IngestContext(config, client, backend_for(config), tracker)
            _apply_here(context, work, run_id)
        else:
            with _broker_lost_is_one_sentence(config.ingest.broker_url):
                _send(work, config.ingest.broker_url, queue)
        summary = _wait(tracker, run_id, progress, timeout, redelivery=config.ingest.visibility_timeout + REDELIVERY_GRACE_SECONDS)
    client.indices.refresh(index=target)  # searchable as soon as the run reports done
    return summary


def task_size(config: Config) -> int:
    """Products per task: several embedding batches, which the pipeline overlaps."""
    return config.ingest.batch_size * config.ingest.batches_per_task


def is_large_run(config: Config, products: int) -> bool:
    """Whether a run of *products* relaxes the refresh interval of the index it fills."""
    return products >= config.ingest.large_run


@contextlib.contextmanager
def relaxed_refresh(client: OpenSearch, index: str, interval: str) -> Iterator[None]:
    """Refresh *index* every *interval* (``-1``: not at all) while the block runs, then as before,
    also when the block fails.

    An index already refreshed every *interval* is left as it is, during the block and after:
    another run relaxed it and puts it back when that run ends, or the shop chose it.
    """
    previous = _refresh_interval(client, index)
    if previous == interval:
        yield
        return
    _set_refresh_interval(client, index, interval)
    try:
        yield
    except BaseException:
        try:
            _set_refresh_interval(client, index, previous)
        except Exception:  # noqa: BLE001 - the run's own error is the one to report
            log.exception("could not put back the refresh interval of %s (%s)", index, previous or "the default")
        raise
    _set_refresh_interval(client, index, previous)


def _refresh_interval(client: OpenSearch, index: str) -> str | None:
    """*index*'s own refresh interval, or None when it has the cluster's default."""
    response = client.indices.get_settings(index=index, name="index.refresh_interval", flat_settings=True)
    settings = next(iter(response.values()), {}).get("settings", {})
    return settings.get("index.refresh_interval")


def _set_refresh_interval(client: OpenSearch, index: str, interval: str | None) -> None:
    # None (JSON null) takes the setting away, which brings the default back.
    client.indices.put_settings(index=index, body={"index": {"refresh_interval": interval}})


@contextlib.contextmanager
def _broker_lost_is_one_sentence(url: str) -> Iterator[None]:
    """Report a broker lost while the run is handed out as :class:`BrokerUnavailable`, not as a traceback."""
    from kombu.exceptions import OperationalError

    try:
        yield
    except (redis.RedisError, OperationalError) as exc:
        raise BrokerUnavailable(f"Lost the broker at {url} while starting the run ({exc}); start the ingest again once it is back.") from exc


def _send(work: list[tuple[Task, tuple[Any, ...]]], broker_url: str, queue: str | None) -> None:
    """Hand the tasks to the workers through *broker_url*, the broker the run is tracked on."""
    from ingest.celery_app import app

    with app.connection_for_write(broker_url) as connection:
        for task, args in work:
            task.apply_async(args, queue=queue, connection=connection)


def _apply_here(context: IngestContext, work: list[tuple[Task, tuple[Any, ...]]], run_id: str) -> None:
    """Run the tasks in this process, one after the other, as a worker would: retries and quarantine included.

    The shared Celery app is left as it is (never ``task_always_eager``): the tasks are
    applied here, and the context is handed to them for as long as this run lasts.
    """
    from ingest.tasks import running_here

    with running_here(context):
        results = [task.apply(args, throw=False) for task, args in work]
    summary = context.tracker.summary(run_id)
    if summary["done"] < summary["total"]:
        # A task failed in a way that left products without an outcome: waiting would be forever.
        for result in results:
            result.maybe_throw()


#: Seconds without any product finishing before the wait says that workers may be missing.
STALL_HINT_SECONDS = 20.0

#: Seconds, past the broker's visibility timeout, for a worker to take back a task whose worker
#: died: kombu's Redis transport looks for such tasks when a worker starts and every 100 s
#: (every tenth of its 10-second ticks), and the worker then needs a moment to start it.
REDELIVERY_GRACE_SECONDS = 120.0

#: Seconds between two looks at a broker that could not be reached.
BROKER_RETRY_SECONDS = 1.0


def _wait(
    tracker: RunTracker, run_id: str, progress: Progress | None, timeout: float | None, redelivery: float = 0.0
) -> dict[str, int]:
    """Follow the run until every product has an outcome, reporting each look to *progress*.

    A *timeout* gives up waiting, but not while a task the workers have started may still
    come back from the broker (for *redelivery* seconds after a product last finished or a
    worker last took a task), since a task whose worker died is handed out again only after
    the visibility timeout. A
    broker that cannot be reached is looked at again every second; *progress* sees
    ``broker_lost`` meanwhile.
    """
    started = last_change = time.monotonic()
    last_seen: tuple[int, int] = (-1, -1)
    summary: dict[str, int] = {"total": 0, "done": 0}
    while True:
        try:
            summary = tracker.summary(run_id)
        except redis.RedisError:
            summary = {**summary, "broker_lost": 1}
        seen = (summary["done"], summary.get("deliveries", 0))  # a product finished, or a worker took a task
        if seen != last_seen:
            last_seen, last_change = seen, time.monotonic()
        summary["stalled_seconds"] = stalled = int(time.monotonic() - last_change)
        if progress is not None:
            progress(summary)
        if summary["done"] >= summary["total"] and not summary.get("broker_lost"):
            del summary["stalled_seconds"]
            return summary
        awaited = summary.get("deliveries", 0) > 0 and stalled <= redelivery  # a task may come back
        if timeout is not None and time.monotonic() - started > timeout and not awaited:
            lost = " The broker cannot be reached." if summary.get("broker_lost") else ""
            raise IngestTimeout(
                f"{summary['done']} of {summary['total']} products were done after {time.monotonic() - started:.0f} s; "
                f"are workers running (lookalike worker)?{lost} The run goes on in the background."
            )
        time.sleep(BROKER_RETRY_SECONDS if summary.get("broker_lost") else 0.25)


def _clear_row_records(client: OpenSearch, config: Config, catalogue: str) -> None:
    """Forget the malformed rows of an earlier run of this catalogue: this run judges them anew."""
    client.delete_by_query(
        index=config.quarantine_index,
        body={"query": {"bool": {"filter": [{"term": {"kind": "row"}}, {"term": {"catalogue": catalogue}}]}}},
        refresh=True,
        conflicts="proceed",
    )

