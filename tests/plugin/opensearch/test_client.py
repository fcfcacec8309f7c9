"""The client: built from the configuration, and a cluster that cannot be reached named as such."""

from __future__ import annotations

import dataclasses
import time

import pytest
from opensearchpy import OpenSearch
from opensearchpy.exceptions import TransportError

from plugin.config import Config
from plugin.errors import (
    EngineBusy,
    EngineUnavailable,
    IndexMissing,
    LookalikeError,
    SearchFailed,
)
from plugin.opensearch.client import (
    answer_error,
    cluster_health,
    connect,
    engine_error,
    lost_a_node,
)
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


def test_a_node_that_cannot_be_reached_costs_a_retry_not_an_error(config: Config) -> None:
    lost = f"http://127.0.0.1:{free_port()}"  # nothing listens: a node that is down
    client = connect(dataclasses.replace(config, opensearch_url=f"{lost},{config.opensearch_url}", request_timeout=5.0))

    answers = [client.cluster.health()["status"] for _ in range(6)]

    assert set(answers) <= {"green", "yellow"}  # every request answered, though the rotation included the lost node
    assert {c.host for c in client.transport.connection_pool.dead_count} == {lost}  # taken out of rotation


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


def test_the_clusters_failures_become_product_errors_and_a_bad_request_stays_a_bug(config: Config, client: OpenSearch) -> None:
    """Engine states (lost, missing index) are product errors; a query the cluster refuses is not disguised as one."""
    closed = connect(dataclasses.replace(config, opensearch_url=f"http://127.0.0.1:{free_port()}", request_timeout=2.0))
    with pytest.raises(TransportError) as lost:
        closed.search(index=config.index_alias)
    with pytest.raises(TransportError) as missing:
        client.search(index=f"{config.index_alias}-nowhere")
    client.indices.create(index=f"{config.index_alias}-here")
    with pytest.raises(TransportError) as refused:
        client.get(index=f"{config.index_alias}-here", id="x" * 600)

    assert type(engine_error(lost.value)) is EngineUnavailable
    assert type(engine_error(missing.value)) is IndexMissing
    assert engine_error(refused.value) is None  # an id over 512 bytes: a request of ours to fix, not an engine state
    closed.close()


@pytest.mark.parametrize(
    ("status", "kind", "error"),
    [(429, "circuit_breaking_exception", EngineBusy), (429, "es_rejected_execution_exception", EngineBusy),
     (503, "search_phase_execution_exception", EngineUnavailable), (500, "script_exception", SearchFailed)],
)
def test_each_failed_item_of_an_msearch_is_named_by_its_status(status: int, kind: str, error: type[LookalikeError]) -> None:
    assert type(answer_error(status, {"type": kind, "reason": "as OpenSearch words it"})) is error


def test_a_cluster_that_just_lost_a_node_is_told_from_other_failures() -> None:
    # The answer OpenSearch gave in the fault test (tests/engine/test_local_cluster.py) while a
    # SIGKILLed node was still counted in the cluster: the real test produces it only by chance.
    lost = {"type": "search_phase_execution_exception", "phase": "fetch", "caused_by": {"type": "node_not_connected_exception", "reason": "Node not connected"}}

    assert lost_a_node(TransportError(500, "search_phase_execution_exception", lost))
    assert lost_a_node(answer_error(500, lost))  # an _msearch item's error, raised as the product's
    assert not lost_a_node(TransportError(500, "search_phase_execution_exception", {"type": "query_shard_exception"}))
    assert not lost_a_node(answer_error(400, {"type": "parsing_exception"}))
