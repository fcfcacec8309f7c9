"""``docker-compose.yml``: one node by default, and a ``cluster`` profile of three nodes the API and workers all use.

There is no Docker engine here to start it, so these tests read the file as Compose would
(YAML anchors and merge keys resolved) and check what a cluster needs: nodes that find each
other, data of their own, and clients configured with every node and a replica.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from plugin.config import Config

REPO = Path(__file__).resolve().parents[2]
NODES = ("opensearch-node1", "opensearch-node2", "opensearch-node3")


def interpolated(environment: dict[str, str]) -> dict[str, str]:
    """The environment as Compose passes it when none of the variables it names is set: ``${X:-default}`` is the default."""
    return {key: re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(value)) for key, value in environment.items()}


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]


def test_the_default_stack_is_one_node_and_the_cluster_stays_off(services: dict[str, Any]) -> None:
    default = sorted(name for name, service in services.items() if "profiles" not in service)

    assert default == ["api", "opensearch", "opensearch-dashboards", "redis", "worker"]
    assert services["opensearch"]["environment"]["discovery.type"] == "single-node"
    assert services["api"]["environment"]["OPENSEARCH_URL"] == "http://opensearch:9200"


def test_the_cluster_profile_has_three_nodes_that_find_each_other_with_data_of_their_own(services: dict[str, Any]) -> None:
    nodes = [services[name] for name in NODES]

    assert all(node["profiles"] == ["cluster"] for node in nodes)
    assert [node["environment"]["node.name"] for node in nodes] == list(NODES)
    for node in nodes:
        environment = node["environment"]
        assert "discovery.type" not in environment
        assert environment["cluster.name"] == "lookalike"
        assert environment["discovery.seed_hosts"].split(",") == list(NODES)
        assert environment["cluster.initial_cluster_manager_nodes"].split(",") == list(NODES)
    assert len({node["volumes"][0].split(":")[0] for node in nodes}) == 3
    assert len({node["ports"][0] for node in nodes}) == 3


@pytest.mark.parametrize("name", ["api-cluster", "worker-cluster"])
def test_the_clusters_api_and_workers_use_every_node_with_a_replica(services: dict[str, Any], name: str) -> None:
    service = services[name]

    config = Config.from_env(interpolated(service["environment"]))

    assert service["profiles"] == ["cluster"]
    assert config.opensearch_urls == tuple(f"http://{node}:9200" for node in NODES)
    assert (config.index_shards, config.index_replicas) == (3, 1)
    assert sorted(service["depends_on"]) == sorted([*NODES, "redis"])
    assert service["image"] == services["worker"]["image"]  # the same image, scaled with --scale
