"""``lookalike engine start --nodes 3``: three real nodes form one cluster, and losing one loses nothing.

One cluster serves the module (starting three nodes takes half a minute on two cores); the
fault test, which kills a node, runs after the tests that describe the whole cluster.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import failover
from engine.errors import PortInUse
from engine.local_cluster import LocalCluster, running_clusters
from engine.local_redis import LocalRedis
from plugin.config import Config
from plugin.opensearch.client import connect
from sample_data.fashion_mnist import write_catalogue
from tests.support.cli import run_cli
from tests.support.workers import Worker

pytestmark = pytest.mark.slow


def free_ports(count: int) -> int:
    """The first of *count* consecutive free ports."""
    for first in range(21000, 60000, 97):
        try:
            for port in range(first, first + count):
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return first
    raise RuntimeError("no run of free ports")


@pytest.fixture(scope="module")
def cluster_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a user who runs a local cluster of three: its home, ports and heap."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOKALIKE_", "OPENSEARCH_", "CELERY_"))}
    first = free_ports(6)
    env.update(
        LOOKALIKE_ENGINE_HOME=str(tmp_path_factory.mktemp("cluster")),
        LOOKALIKE_ENGINE_PORT=str(first),
        LOOKALIKE_ENGINE_TRANSPORT_PORT=str(first + 3),
        LOOKALIKE_ENGINE_HEAP="512m",
        LOOKALIKE_ENGINE_NODES="3",
        LOOKALIKE_ENGINE_START_TIMEOUT="180",
    )
    return env


@pytest.fixture(scope="module")
def cluster(cluster_env: dict[str, str]) -> Iterator[LocalCluster]:
    local = LocalCluster(Config.from_env(cluster_env).engine)
    local.start(die_with_caller=True)  # an interrupted run must not leave three nodes running
    yield local
    local.stop(timeout=30)


def test_three_nodes_form_one_cluster_with_an_elected_manager(cluster: LocalCluster) -> None:
    status = cluster.status()

    assert status.health == "green"
    assert [node["name"] for node in status.nodes] == ["lookalike-0", "lookalike-1", "lookalike-2"]
    assert sum(node["cluster_manager"] == "*" for node in status.nodes) == 1
    assert all("d" in node["node.role"] and "m" in node["node.role"] for node in status.nodes)
    assert len({member.pid for member in status.members}) == 3
    assert len({member.home for member in cluster.members}) == 3  # each its own data


def test_engine_status_lists_every_node_and_its_roles(cluster: LocalCluster, cluster_env: dict[str, str]) -> None:
    result = run_cli("engine", "status", env=cluster_env)

    assert result.returncode == 0, result.stderr
    assert "OpenSearch 2.19.1 cluster of 3 nodes, health green." in result.stdout
    for i, url in enumerate(cluster.urls):
        assert f"{url}: running" in result.stdout
        assert f"node lookalike-{i}: roles data, ingest, cluster_manager" in result.stdout
    assert result.stdout.count("(elected cluster manager)") == 1


def test_the_default_url_of_a_three_node_setting_names_every_node(cluster: LocalCluster, cluster_env: dict[str, str]) -> None:
    config = Config.from_env(cluster_env)

    assert config.opensearch_urls == tuple(cluster.urls)
    assert connect(config).cluster.health()["number_of_nodes"] == 3


def test_a_node_lost_mid_ingest_costs_no_query_and_no_product(
    cluster: LocalCluster, cluster_env: dict[str, str], redis_server: LocalRedis, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data = tmp_path_factory.mktemp("failover-data")
    catalogue = write_catalogue(data / "fashion", 240)
    config = Config.from_env(cluster_env | {"LOOKALIKE_INDEX_ALIAS": "failover", "CELERY_BROKER_URL": redis_server.url})
    worker_env = cluster_env | {
        "LOOKALIKE_INDEX_ALIAS": "failover",
        "LOOKALIKE_INDEX_SHARDS": "3",
        "LOOKALIKE_INDEX_REPLICAS": "1",
        "CELERY_BROKER_URL": redis_server.url,
        "LOOKALIKE_IMAGE_ROOTS": str(catalogue.parent / "png"),
        "LOOKALIKE_INGEST_BATCH_SIZE": "4",
        "LOOKALIKE_INFERENCE_THREADS": "1",
    }
    worker = Worker(worker_env, data / "worker.log")
    worker.start()
    try:
        result = failover.run(config, cluster, failover.Scenario(products=240, kill_after=3.0, down_for=8.0), catalogue)
    finally:
        worker.stop()

    assert "error" not in result["ingest"], result["ingest"]
    assert result["ingest_ran_through_the_loss"]  # the node died mid-ingest...
    assert result["queries_during_loss"] > 10  # ...shoppers searched while it was gone...
    assert result["failed"] == 0, result["failed_by_status"]  # ...and every search was answered
    assert result["products_found"] == result["products_expected"] == 240
    assert result["documents_in_index"] == 240  # once each: a retried write did not add a copy
    assert result["ingest"].get("quarantined", 0) == 0
    assert 0 < result["seconds_to_green"] < 300
    assert connect(config).cluster.health()["status"] == "green"


def test_engine_stop_stops_every_node(cluster: LocalCluster, cluster_env: dict[str, str]) -> None:
    result = run_cli("engine", "stop", env=cluster_env)

    assert result.returncode == 0, result.stderr
    assert "OpenSearch stopped (3 nodes)." in result.stdout
    assert running_clusters(cluster.config) == []
    assert all(member.running_pid() is None for member in cluster.members)


def test_a_member_that_cannot_start_leaves_none_of_the_others_running(tmp_path: Path) -> None:
    first = free_ports(6)
    config = Config.from_env({"LOOKALIKE_ENGINE_HOME": str(tmp_path), "LOOKALIKE_ENGINE_PORT": str(first), "LOOKALIKE_ENGINE_TRANSPORT_PORT": str(first + 3), "LOOKALIKE_ENGINE_HEAP": "256m"})
    local = LocalCluster(config.engine, 3)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", first + 2))  # the third node's HTTP port, held by another program
        taken.listen()

        with pytest.raises(PortInUse, match=f"Port {first + 2}"):
            local.start(die_with_caller=True)

    assert running_clusters(config.engine) == []
    assert all(member.running_pid() is None for member in local.members)
