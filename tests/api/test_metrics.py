"""``/metrics`` (``api/metrics.py``): requests by route and status, the query-vector cache, ingest and the engine.

The app is the real one over the demo shop; what it reports is checked against what the test
did, read back with Prometheus's own parser. Every count is a difference between two scrapes,
as PromQL's ``increase`` would read it, so the module's tests may share one app.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import waitress
from flask.testing import FlaskClient
from opensearchpy import OpenSearch
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from api.metrics import PROBE_SECONDS
from engine.local_redis import LocalRedis
from ingest import RedisRunTracker
from plugin.config import Config
from plugin.opensearch.quarantine import QuarantineRecord, write_records
from tests.support.api import KEY

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(api: FlaskClient) -> Samples:
    """Every sample of ``/metrics``, as Prometheus reads them."""
    response = api.get("/metrics", headers={"X-API-Key": KEY})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain; version=0.0.4")
    return parse(response.get_data(as_text=True))


def parse(text: str) -> Samples:
    """The samples of a scrape, parsed with Prometheus's text format parser, by name and labels."""
    return {(sample.name, frozenset(sample.labels.items())): sample.value for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value; 0 for a series not exported yet (a counter nobody incremented)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def requests(samples: Samples, route: str, method: str, status: int) -> float:
    return value(samples, "lookalike_http_requests_total", route=route, method=method, status=str(status))


def timed(samples: Samples, route: str, method: str, status: int) -> float:
    return value(samples, "lookalike_http_request_duration_seconds_count", route=route, method=method, status=str(status))


def test_requests_are_counted_and_timed_by_route_and_status_errors_included(api: FlaskClient) -> None:
    before = scrape(api)

    assert api.post("/search", json={"text": "shoe", "size": 3}).status_code == 200
    assert api.post("/search", json={"text": "mug", "size": 3}).status_code == 200
    assert api.post("/search", json={"sort": "cheapest"}).status_code == 400
    assert api.get("/products/no-such-product").status_code == 404
    scanned = [f"/wp-admin/{uuid.uuid4().hex}.php" for _ in range(3)]
    assert all(api.get(path).status_code == 404 for path in scanned)  # a scan: paths nobody routes

    after = scrape(api)
    for route, method, status, count in (
        ("/search", "POST", 200, 2),
        ("/search", "POST", 400, 1),
        ("/products/<product_id>", "GET", 404, 1),  # the rule, not the product id
        ("unmatched", "GET", 404, 3),
    ):
        assert requests(after, route, method, status) - requests(before, route, method, status) == count, (route, status)
        assert timed(after, route, method, status) - timed(before, route, method, status) == count, (route, status)
    labels = {value for _, pairs in after for _, value in pairs}
    assert not {"no-such-product", *scanned} & labels  # what clients choose never becomes a series
    # The previous scrape itself is counted, as any request is.
    assert requests(after, "/metrics", "GET", 200) - requests(before, "/metrics", "GET", 200) == 1


def test_a_client_over_its_rate_limit_shows_as_429s(app_config: Config) -> None:
    limited = dataclasses.replace(app_config, limits=dataclasses.replace(app_config.limits, storage_url="memory://", search="2/minute"))
    api = create_app(limited, warm=False).test_client()

    statuses = [api.post("/search", json={"text": "shoe", "size": 1}).status_code for _ in range(4)]

    assert statuses == [200, 200, 429, 429]
    samples = scrape(api)
    assert requests(samples, "/search", "POST", 200) == 2 and requests(samples, "/search", "POST", 429) == 2


def test_latency_lands_in_buckets_that_suit_a_search(api: FlaskClient) -> None:
    api.post("/search", json={"text": "shoe", "size": 3})  # the model loaded, the query's vectors cached
    before = scrape(api)
    api.post("/search", json={"text": "shoe", "size": 3})
    after = scrape(api)

    name, labels = "lookalike_http_request_duration_seconds_bucket", {"route": "/search", "method": "POST", "status": "200"}
    bounds = sorted(float(dict(pairs)["le"]) for sample, pairs in after if sample == name and {*labels.items()} <= pairs)
    assert bounds == [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, float("inf")]
    added = [value(after, name, **labels, le=str(bound).replace("inf", "+Inf")) - value(before, name, **labels, le=str(bound).replace("inf", "+Inf")) for bound in bounds]
    assert added == sorted(added) and added[-1] == 1  # cumulative: one search, in every bucket from its own up
    assert added[bounds.index(2.5)] == 1  # a cached search answers in well under the seconds a photo fetch may take
    took = value(after, "lookalike_http_request_duration_seconds_sum", **labels) - value(before, "lookalike_http_request_duration_seconds_sum", **labels)
    assert 0 < took < 2.5


def test_concurrent_requests_on_waitress_threads_are_each_counted_once(app_config: Config) -> None:
    server = waitress.create_server(create_app(app_config, warm=False), host="127.0.0.1", port=0, threads=4)
    url = f"http://127.0.0.1:{server.effective_port}"  # type: ignore[union-attr]
    threading.Thread(target=server.run, daemon=True).start()
    try:
        def fetch(_: int) -> int:
            with urllib.request.urlopen(f"{url}/openapi.json", timeout=30) as response:
                return response.status

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(fetch, range(200))) == {200}
        with urllib.request.urlopen(urllib.request.Request(f"{url}/metrics", headers={"Authorization": f"Bearer {KEY}"}), timeout=30) as scraped:
            samples = parse(scraped.read().decode())
    finally:
        server.close()

    assert requests(samples, "/openapi.json", "GET", 200) == 200
    assert timed(samples, "/openapi.json", "GET", 200) == 200


def test_a_method_the_client_makes_up_is_one_label_value(api: FlaskClient) -> None:
    before = scrape(api)

    assert api.open("/health", method="BREW").status_code == 405
    assert api.open("/health", method="PROPFIND").status_code == 405

    after = scrape(api)
    assert requests(after, "unmatched", "other", 405) - requests(before, "unmatched", "other", 405) == 2
    assert not {"BREW", "PROPFIND"} & {value for _, pairs in after for _, value in pairs}


def test_a_repeated_query_is_answered_by_the_query_vector_cache(api: FlaskClient) -> None:
    text = f"walnut coffee table {uuid.uuid4().hex[:6]}"  # a text no other test asked for
    before = scrape(api)

    api.post("/search", json={"text": text})
    first = scrape(api)
    api.post("/search", json={"text": text.upper()})  # the same query, however it is cased
    again = scrape(api)

    computed = value(first, "lookalike_query_vector_cache_misses_total") - value(before, "lookalike_query_vector_cache_misses_total")
    assert computed >= 1 and value(first, "lookalike_query_vector_cache_hits_total") == value(before, "lookalike_query_vector_cache_hits_total")
    assert value(again, "lookalike_query_vector_cache_misses_total") == value(first, "lookalike_query_vector_cache_misses_total")
    assert value(again, "lookalike_query_vector_cache_hits_total") - value(first, "lookalike_query_vector_cache_hits_total") == computed
    assert 0 < value(again, "lookalike_query_vector_cache_entries") <= value(again, "lookalike_query_vector_cache_max_entries")


def test_with_the_broker_down_the_scrape_answers_and_says_so(api: FlaskClient, app_config: Config) -> None:
    # app_config's broker is a port nobody listens on.
    samples = scrape(api)

    assert value(samples, "lookalike_broker_up") == 0
    assert not [name for name, _ in samples if name.startswith("lookalike_ingest_")]
    assert value(samples, "lookalike_engine_up") == 1


def test_the_live_index_and_the_quarantine_are_counted_in_the_engine(api: FlaskClient, app_config: Config) -> None:
    client = api.application.extensions["lookalike"].client

    samples = scrape(api)

    assert value(samples, "lookalike_index_documents") == client.count(index=app_config.index_alias)["count"] == 54
    assert ("lookalike_quarantine_records", frozenset()) in samples
    assert value(samples, "lookalike_quarantine_records") == client.count(index=app_config.quarantine_index)["count"]


def test_a_new_quarantine_record_is_counted(config: Config, client: OpenSearch) -> None:
    api = create_app(dataclasses.replace(config, admin_key=KEY), warm=False).test_client()
    assert value(scrape(api), "lookalike_quarantine_records") == 0  # no quarantine index yet: nothing in it
    assert value(scrape(api), "lookalike_index_documents") == 0  # nor a live index

    write_records(client, config, [QuarantineRecord(kind="product", reason="no_image", message="no image could be read", product_id="p1")])

    assert value(scrape(api), "lookalike_quarantine_records") == 1


def test_ingest_outcomes_of_the_latest_run_are_read_from_the_workers_tracker(shop_config: Config, redis_server: LocalRedis) -> None:
    up = dataclasses.replace(shop_config, admin_key=KEY, ingest=dataclasses.replace(shop_config.ingest, broker_url=redis_server.url))
    api = create_app(up, warm=False).test_client()
    tracker = RedisRunTracker(redis_server.url)  # as the workers write it
    run_id = uuid.uuid4().hex[:16]

    tracker.start(run_id, 5, catalogue="catalogue.jsonl", alias=up.index_alias)
    tracker.record(run_id, {"a": "indexed", "b": "indexed", "row:7": "quarantined", "c": "unchanged"})
    running = scrape(api)
    tracker.record(run_id, {"d": "updated"})
    done = scrape(api)

    assert value(running, "lookalike_broker_up") == 1
    outcomes = {"indexed": 2, "updated": 0, "unchanged": 1, "deleted": 0, "quarantined": 1, "pending": 1}
    assert {o: value(running, "lookalike_ingest_last_run_products", outcome=o) for o in outcomes} == outcomes
    assert value(running, "lookalike_ingest_last_run_finished") == 0
    assert value(done, "lookalike_ingest_last_run_products", outcome="updated") == 1
    assert value(done, "lookalike_ingest_last_run_products", outcome="pending") == 0
    assert value(done, "lookalike_ingest_last_run_finished") == 1
    assert abs(value(done, "lookalike_ingest_last_run_started_timestamp_seconds") - time.time()) < 60


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers, as a hung server does."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)  # the kernel completes handshakes; nobody ever reads
        yield server.getsockname()[1]


def test_a_broker_and_engine_that_never_answer_cost_the_scrape_seconds_not_its_answer(shop_config: Config, silent_port: int) -> None:
    hung = dataclasses.replace(
        shop_config, admin_key=KEY, opensearch_url=f"http://127.0.0.1:{silent_port}",
        ingest=dataclasses.replace(shop_config.ingest, broker_url=f"redis://127.0.0.1:{silent_port}/0"),
        # The rate limiter's own wait for that Redis (api/limits.py, tested there) is not the scrape's.
        limits=dataclasses.replace(shop_config.limits, storage_url="memory://"),
    )
    api = create_app(hung, warm=False).test_client()

    started = time.monotonic()
    samples = scrape(api)
    took = time.monotonic() - started

    assert value(samples, "lookalike_broker_up") == 0 and value(samples, "lookalike_engine_up") == 0
    assert took < 2 * PROBE_SECONDS + 2  # one deadline each, well inside Prometheus's 10 s scrape timeout
    assert value(samples, "lookalike_query_vector_cache_max_entries") > 0  # what the API knows itself is still there


def test_the_scrape_needs_the_admin_key(api: FlaskClient) -> None:
    assert api.get("/metrics").status_code == 401
    assert api.get("/metrics", headers={"X-API-Key": "wrong"}).status_code == 401
    assert api.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert api.get("/metrics", headers={"Authorization": f"Basic {KEY}"}).status_code == 401
    refused = api.get("/metrics")
    assert refused.get_json()["error"]["code"] == "unauthorized" and "Bearer" in refused.get_json()["error"]["message"]

    bearer = api.get("/metrics", headers={"Authorization": f"Bearer {KEY}"})  # what Prometheus's `authorization` sends
    assert bearer.status_code == 200 and bearer.headers["Cache-Control"] == "no-store"
    assert "process_cpu_seconds_total" in bearer.get_data(as_text=True)  # the process's own view comes with it
    openmetrics = api.get("/metrics", headers={"Authorization": f"Bearer {KEY}", "Accept": "application/openmetrics-text; version=1.0.0"})
    assert openmetrics.content_type.startswith("application/openmetrics-text") and openmetrics.get_data(as_text=True).endswith("# EOF\n")


def test_without_an_admin_key_configured_nobody_may_scrape(app_config: Config) -> None:
    api = create_app(dataclasses.replace(app_config, admin_key=None), warm=False).test_client()

    refused = api.get("/metrics", headers={"X-API-Key": "", "Authorization": "Bearer "})

    assert refused.status_code == 403 and "LOOKALIKE_ADMIN_KEY" in refused.get_json()["error"]["message"]


def test_apps_in_one_process_count_apart(app_config: Config) -> None:
    first, second = (create_app(app_config, warm=False).test_client() for _ in range(2))

    first.get("/health")
    first.get("/health")
    second.get("/health")

    assert requests(scrape(first), "/health", "GET", 200) == 2
    assert requests(scrape(second), "/health", "GET", 200) == 1


def test_metrics_are_for_operators_not_part_of_the_public_api_document(api: FlaskClient) -> None:
    assert "/metrics" not in api.get("/openapi.json").get_json()["paths"]
