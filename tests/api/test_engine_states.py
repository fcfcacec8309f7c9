"""The cluster's passing states, produced for real, answer 503 with Retry-After and one log line each.

A node starting has no shard allocated yet: an index whose shard may only live on a node that
does not exist is in that state for as long as it exists. A circuit breaker under load is
produced by a request breaker set to one byte, for as short a time as the test takes (the node
is shared; the setting is always restored). The slow test stops and starts a node of its own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from opensearchpy import OpenSearch

from api.app import create_app
from engine.local_node import LocalNode
from plugin.config import Config
from plugin.models.registry import spec_for_model
from plugin.opensearch.indices import product_index_body, swap_alias
from tests.support.cli import local_engine_config


def failures_logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "api.logs"]


def assert_one_line_each_and_no_traceback(caplog: pytest.LogCaptureFixture, count: int, code: str) -> None:
    lines = failures_logged(caplog)
    assert len(lines) == count and all(f" 503 {code} " in line.getMessage() for line in lines), [r.getMessage() for r in lines]
    assert not [record for record in caplog.records if record.exc_info], "a passing engine state is not worth a traceback"
    # The client's own warning for each failed call (with a traceback for a lost connection): said once, above.
    assert not [record for record in caplog.records if record.name == "opensearch" and record.levelno >= logging.WARNING]


def assert_retry_later(response: object, code: str) -> None:
    assert response.status_code == 503, response.get_json()  # type: ignore[attr-defined]
    assert response.headers["Retry-After"] == "5"  # type: ignore[attr-defined]
    assert response.get_json()["error"]["code"] == code  # type: ignore[attr-defined]
    assert "shard" not in response.get_data(as_text=True)  # type: ignore[attr-defined]  # the engine's words stay in the log


@pytest.fixture
def starting(config: Config, client: OpenSearch) -> Iterator[FlaskClient]:
    """An API whose live index has no shard allocated, as while its node starts."""
    body = product_index_body(config, spec_for_model(config.model))
    body["settings"]["index.routing.allocation.require._name"] = "no-such-node"
    index = f"{config.index_alias}-unassigned"
    client.indices.create(index=index, body=body, params={"wait_for_active_shards": "0"})
    try:
        swap_alias(client, config.index_alias, index)
        yield create_app(config, warm=False).test_client()
    finally:  # the shared cluster is red while it exists: keep that short
        client.indices.delete(index=index)


def test_searches_and_products_while_shards_are_unassigned_answer_503_with_retry_after(
    starting: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    answers = [
        starting.post("/search", json={"text": "laptop"}),  # an _msearch: its items fail inside a 200
        starting.post("/search", json={"facets": True}),  # a plain search: OpenSearch answers 503
        starting.get("/products/laptop"),  # a get: no_shard_available_action_exception
        starting.get("/products/laptop/similar"),
    ]

    for response in answers:
        assert_retry_later(response, "search_unavailable")
    assert_one_line_each_and_no_traceback(caplog, len(answers), "search_unavailable")
    assert all("all shards failed" in line.getMessage() or "No shard available" in line.getMessage() for line in failures_logged(caplog))


@contextlib.contextmanager
def tripped_breaker(config: Config) -> Iterator[None]:
    """The request circuit breaker at one byte, so that any aggregation trips it; restored however the block ends."""
    client = OpenSearch(config.opensearch_url)
    client.cluster.put_settings(body={"transient": {"indices.breaker.request.limit": "1b"}})
    try:
        yield
    finally:
        client.cluster.put_settings(body={"transient": {"indices.breaker.request.limit": None}})
        client.close()


def test_a_tripped_circuit_breaker_answers_503_with_retry_after_not_500(shop_config: Config, caplog: pytest.LogCaptureFixture) -> None:
    api = create_app(shop_config, warm=False).test_client()
    api.post("/search", json={"text": "laptop"})  # the model and the profiles are ready before the breaker trips
    caplog.set_level(logging.INFO)
    caplog.clear()

    with tripped_breaker(shop_config):
        # One signal brings its page along in a top_hits aggregation: an _msearch item answers 429.
        one_signal = api.post("/search", json={"text": "laptop", "weights": {"text": 1, "keywords": 0, "text_image": 0}})
        browse = api.post("/search", json={"facets": True})  # a plain search with aggregations: OpenSearch answers 429

    for response in (one_signal, browse):
        assert_retry_later(response, "engine_busy")
    assert_one_line_each_and_no_traceback(caplog, 2, "engine_busy")
    assert all("circuit_breaking_exception" in line.getMessage() for line in failures_logged(caplog))
    assert api.post("/search", json={"facets": True}).status_code == 200  # restored: the breaker passes again


@pytest.mark.slow
def test_a_node_stopped_and_started_again_answers_503_until_its_shards_are_back(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A node of its own, stopped and started under the API: 503 with Retry-After while it is away or starting, then answers."""
    if os.environ.get("OPENSEARCH_URL"):
        pytest.skip("OPENSEARCH_URL names an external cluster; this test starts and stops a node of its own")
    node = LocalNode(local_engine_config(tmp_path / "engine"))
    node.start(die_with_caller=True)
    config = dataclasses.replace(Config.from_env(), opensearch_url=node.url, index_alias="restarting-shop", request_timeout=2)
    try:
        client = OpenSearch(node.url)
        client.indices.create(index="restarting-shop-v1", body=product_index_body(config, spec_for_model(config.model)))
        client.index(index="restarting-shop-v1", id="lamp", body={"product_id": "lamp", "title": "a lamp"}, refresh=True)
        swap_alias(client, config.index_alias, "restarting-shop-v1")
        client.indices.flush(index="restarting-shop-v1")
        api = create_app(config, warm=False).test_client()
        assert api.get("/products/lamp").status_code == 200
        caplog.set_level(logging.INFO)

        node.stop()
        answers = [api.get("/products/lamp")]
        # Not die_with_caller: the kernel would stop the node when this short-lived thread ends
        # (PR_SET_PDEATHSIG follows the thread that started it); the finally below stops it.
        starting = threading.Thread(target=node.start)
        starting.start()
        deadline = time.monotonic() + 2 * node.config.start_timeout
        while starting.is_alive() or answers[-1].status_code != 200:  # shopper traffic all through the start
            assert time.monotonic() < deadline, f"the node did not come back: last answer {answers[-1].status_code}"
            answers.append(api.get("/products/lamp"))
            time.sleep(0.05)
        starting.join()
    finally:
        node.stop()

    failed = [response for response in answers if response.status_code != 200]
    for response in failed:
        assert_retry_later(response, "search_unavailable")
    assert answers[-1].status_code == 200 and len(failed) >= 2
    assert len(failures_logged(caplog)) == len(failed)
    assert not [record for record in caplog.records if record.exc_info]
    # Not only refused connections: the node answered before its shards were back, and that was a 503 too.
    assert any("No shard available" in line.getMessage() or "all shards failed" in line.getMessage() for line in failures_logged(caplog))
