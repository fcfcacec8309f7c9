"""The client: built from the configuration, and a cluster that cannot be reached named as such."""

from __future__ import annotations

import dataclasses
import time

import pytest
from opensearchpy import OpenSearch

from plugin.config import Config
from plugin.errors import EngineUnavailable, LookalikeError
from plugin.opensearch.client import cluster_health, connect
from tests.support.cli import free_port


def test_the_health_of_the_running_node(client: OpenSearch) -> None:
    health = cluster_health(client)

    assert health["status"] in ("green", "yellow")
    assert health["number_of_nodes"] >= 1


def test_a_closed_port_is_an_engine_unavailable_error_naming_the_address(config: Config) -> None:
    port = free_port()  # bound and released: nothing listens there, so connecting is refused
    closed = connect(dataclasses.replace(config, opensearch_url=f"http://127.0.0.1:{port}", request_timeout=5.0))

    started = time.monotonic()
    with pytest.raises(EngineUnavailable, match=f"OpenSearch at http://127.0.0.1:{port} cannot be reached") as caught:
        cluster_health(closed)

    assert time.monotonic() - started < 5  # a refusal is reported at once, not after the timeout
    assert isinstance(caught.value, LookalikeError)
    assert caught.value.reason == "search_unavailable" and caught.value.retryable
    closed.close()


def test_the_client_is_configured_from_the_config_without_contacting_the_cluster(config: Config) -> None:
    secured = dataclasses.replace(
        config, opensearch_url=f"https://127.0.0.1:{free_port()}", opensearch_user="admin", opensearch_password="s3cret",
        request_timeout=7.5, http_compress=True,
    )

    client = connect(secured)

    [connection] = client.transport.connection_pool.connections
    assert connection.host.startswith("https://127.0.0.1:")
    assert connection.timeout == 7.5
    assert connection.http_compress is True
    assert connection.headers["authorization"].startswith("Basic ")
    client.close()
