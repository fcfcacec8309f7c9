"""``/metrics``: the API's operations signals in Prometheus's text format, for the admin key only.

Each app has a registry of its own (never prometheus_client's global one), so several apps in
one process, as in the tests, count apart. Requests are counted by route (the URL rule, never
the raw path, so a scan of random paths adds one series, ``unmatched``), method and status,
timed from Flask's ``request_started`` signal, before any ``before_request`` hook, so that a
request refused early (a rate limit, a bad cookie, a routing 404) is counted with the rest.

What lives elsewhere is read when Prometheus scrapes, by :class:`OperationsCollector`: the
query-vector cache, the latest ingest run's outcomes from the broker's Redis, the live index's
size and the quarantine's. Each probe has a short deadline and a failure becomes a gauge at 0
(``lookalike_broker_up``, ``lookalike_engine_up``), never a failed scrape: a scrape is most
wanted when something is down.

The API runs as one process with threads (waitress), and prometheus_client is thread-safe, so
its plain in-process metrics are exact; several API processes would need its multiprocess mode.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator

from flask import Blueprint, Flask, Response, current_app, g, request, request_started
from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from api.auth import (
    ADMIN_OFF,
    AdminKeyRequired,
    AdminOff,
    WrongAdminKey,
    key_matches,
    record_failure,
)
from api.service import SearchService
from ingest import RedisRunTracker
from plugin.config import Config
from plugin.search.query_vectors import QueryEmbedder

log = logging.getLogger(__name__)

#: Latency buckets for a search API, in seconds: a cached text query takes a few milliseconds,
#: a photo search tens to hundreds, a slow ``image_url`` fetch seconds; past 10 s is an outage.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: How long one scrape-time probe (Redis, OpenSearch) may take. Prometheus gives a whole scrape
#: 10 s by default; the probes must fit in it together, even against a host that never answers.
PROBE_SECONDS = 2.0
#: The route label of a request that matched no URL rule (404, 405): one value, whatever the path.
UNMATCHED = "unmatched"
#: Methods kept as they are in the ``method`` label; any other (clients choose it) is ``other``.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: The outcomes of an ingest run, as ``lookalike ingest`` prints them (products still without one are ``pending``).
OUTCOMES = ("indexed", "updated", "unchanged", "deleted", "quarantined")
#: The key of this module's state in ``app.extensions``.
EXTENSION = "lookalike.metrics"

bp = Blueprint("metrics", __name__)


class RequestMetrics:
    """The request counter and latency histogram of one app, in that app's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ("route", "method", "status")
        self.requests = Counter("lookalike_http_requests", "HTTP requests answered, by route, method and status.", labels, registry=registry)
        self.latency = Histogram(
            "lookalike_http_request_duration_seconds", "Time from a request's start to its response, by route, method and status.",
            labels, registry=registry, buckets=LATENCY_BUCKETS,
        )

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method, str(status)).observe(seconds)


class OperationsCollector(Collector):
    """What the API does not count itself, read at scrape time: the cache, the broker, the engine."""

    def __init__(self, service: SearchService) -> None:
        self.embedder: QueryEmbedder = service.embedder
        self.client = service.client
        self.config: Config = service.config
        self._tracker: RedisRunTracker | None = None

    def describe(self) -> Iterable[Metric]:
        return []  # no names to check against the registry's others; collect() is only for scrapes

    def collect(self) -> Iterator[Metric]:
        yield from self._cache()
        yield from self._ingest()
        yield from self._engine()

    def _cache(self) -> Iterator[Metric]:
        stats = self.embedder.stats()
        yield CounterMetricFamily("lookalike_query_vector_cache_hits", "Query vectors answered from the cache (a repeated photo or text).", value=stats.hits)
        yield CounterMetricFamily("lookalike_query_vector_cache_misses", "Query vectors the model had to compute.", value=stats.misses)
        yield GaugeMetricFamily("lookalike_query_vector_cache_entries", "Query vectors held in the cache.", value=stats.entries)
        yield GaugeMetricFamily("lookalike_query_vector_cache_max_entries", "Query vectors the cache can hold.", value=stats.max_entries)

    def _ingest(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("lookalike_broker_up", "Whether the broker's Redis (ingest progress) answered this scrape (1) or not (0).")
        try:
            runs = self.tracker().recent_runs(self.config.index_alias, limit=1)
        except Exception as exc:  # noqa: BLE001 - whatever Redis did, the scrape still answers
            if self._tracker is not None:  # connect afresh next time
                self._tracker.redis.close()
                self._tracker = None
            log.warning("metrics: the broker at %s did not answer: %s", self.config.ingest.broker_url, exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        if not runs:
            return
        run = runs[0]
        products = GaugeMetricFamily(
            "lookalike_ingest_last_run_products", "Products of the latest ingest run into the live alias, by outcome (pending: none yet).", labels=["outcome"]
        )
        for outcome in OUTCOMES:
            products.add_metric([outcome], run.get(outcome, 0))
        products.add_metric(["pending"], max(run["total"] - run["done"], 0))
        yield products
        yield GaugeMetricFamily("lookalike_ingest_last_run_started_timestamp_seconds", "When the latest ingest run started (Unix time).", value=run["started_at"])
        yield GaugeMetricFamily("lookalike_ingest_last_run_finished", "Whether every product of the latest ingest run has an outcome.", value=int(run["finished"]))
        yield GaugeMetricFamily("lookalike_ingest_last_run_seconds", "How long the latest ingest run took, or has taken so far.", value=run["elapsed_seconds"])

    def tracker(self) -> RedisRunTracker:
        """The run tracker the workers write to, on a Redis client that answers within :data:`PROBE_SECONDS`."""
        if self._tracker is None:
            self._tracker = RedisRunTracker(self.config.ingest.broker_url, timeout=PROBE_SECONDS)
        return self._tracker

    def _engine(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("lookalike_engine_up", "Whether OpenSearch answered this scrape's cluster health request (1) or not (0).")
        try:
            self.client.cluster.health(request_timeout=PROBE_SECONDS)
        except Exception as exc:  # noqa: BLE001 - an engine down is what this gauge reports
            log.warning("metrics: the search engine did not answer: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        for name, index, documentation in (
            ("lookalike_index_documents", self.config.index_alias, "Products in the live index (behind the alias)."),
            ("lookalike_quarantine_records", self.config.quarantine_index, "Products and catalogue rows in the quarantine, each with its reason."),
        ):
            try:
                # An index that does not exist yet (nothing ingested, nothing quarantined) holds nothing.
                count = self.client.count(index=index, ignore_unavailable=True, allow_no_indices=True, request_timeout=PROBE_SECONDS)["count"]
            except Exception as exc:  # noqa: BLE001 - the sample is left out; the scrape goes on
                log.warning("metrics: counting %s failed: %s", index, exc)
                continue
            yield GaugeMetricFamily(name, documentation, value=count)


def init_app(app: Flask, service: SearchService) -> None:
    """Count and time every request of *app*, and serve ``/metrics`` from a registry of its own."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    registry.register(OperationsCollector(service))
    metrics = RequestMetrics(registry)
    app.extensions[EXTENSION] = registry

    def started(sender: Flask, **_: object) -> None:
        g.metrics_started = time.perf_counter()

    # A signal rather than before_request: it fires before every hook, whoever registered it first.
    # Held by the app (blinker keeps receivers weakly), so it lives exactly as long as the app.
    app.extensions[EXTENSION + ".started"] = started
    request_started.connect(started, app)

    @app.after_request
    def note_status(response: Response) -> Response:
        g.metrics_status = response.status_code
        return response

    @app.teardown_request
    def observe(exc: BaseException | None) -> None:
        start = g.pop("metrics_started", None)
        if start is None:
            return  # a context pushed without a request (a test's app.test_request_context)
        # No status noted: the response was never made, an exception escaped (when errors propagate, as in tests).
        status = g.pop("metrics_status", 500)
        route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
        method = request.method if request.method in METHODS else "other"
        metrics.observe(route, method, status, time.perf_counter() - start)

    app.register_blueprint(bp)


@bp.get("/metrics")
def scrape() -> Response:
    """The metrics in the format the scraper asks for (Prometheus text, or OpenMetrics), for the admin key only."""
    _require_scraper(current_app.extensions["lookalike"].config.admin_key)
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return Response(encoder(current_app.extensions[EXTENSION]), content_type=content_type, headers={"Cache-Control": "no-store"})


def _require_scraper(admin_key: str | None) -> None:
    """The admin key, as ``X-API-Key`` or as ``Authorization: Bearer`` (Prometheus's ``authorization``)."""
    if not admin_key:
        raise AdminOff(ADMIN_OFF)
    credentials = request.authorization
    bearer = credentials.token if credentials is not None and credentials.type == "bearer" else None
    supplied = [key for key in (request.headers.get("X-API-Key"), bearer) if key is not None]
    if not supplied:
        raise AdminKeyRequired("/metrics needs the admin key: header X-API-Key, or Authorization: Bearer <key>.")
    if not all(key_matches(admin_key, key) for key in supplied):
        record_failure()  # counted against the client, as a wrong key anywhere else is
        raise WrongAdminKey("That is not the admin key (header X-API-Key or Authorization: Bearer).")


__all__ = ["LATENCY_BUCKETS", "OperationsCollector", "RequestMetrics", "init_app"]
