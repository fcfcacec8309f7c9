"""Shared fixtures: one real OpenSearch node for the whole run, and an index of its own for each test.

Without ``OPENSEARCH_URL`` the session starts the local node (``engine/``) on free ports in
a temporary directory and stops it at the end. With ``OPENSEARCH_URL`` set, the tests run
against that cluster instead, and the tests that manage the local node's process skip.
"""

from __future__ import annotations

import dataclasses
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import OpenSearch

from engine.local_node import LocalNode
from engine.local_redis import LocalRedis
from ingest import runner
from plugin.config import Config
from plugin.opensearch.client import connect
from sample_data.vendure import prepare_vendure
from tests.support.cli import free_port, local_engine_config


@pytest.fixture(scope="session")
def local_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNode | None]:
    """The local node started for this run, or None when ``OPENSEARCH_URL`` names a cluster."""
    if os.environ.get("OPENSEARCH_URL"):
        yield None
        return
    node = LocalNode(local_engine_config(tmp_path_factory.mktemp("engine")))
    node.start(die_with_caller=True)  # an interrupted run must not leave its node running
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def running_local_node(local_node: LocalNode | None) -> LocalNode:
    """The local node, for tests about the node's own process; skips against an external cluster."""
    if local_node is None:
        pytest.skip("OPENSEARCH_URL names an external cluster; this test manages the local node's process")
    return local_node


@pytest.fixture(scope="session")
def base_config(local_node: LocalNode | None) -> Config:
    config = Config.from_env()
    if local_node is None:
        return config
    return dataclasses.replace(config, opensearch_url=local_node.url, engine=local_node.config)


@pytest.fixture
def config(base_config: Config) -> Config:
    """The run's configuration with an alias of this test's own, so tests never share indices."""
    return dataclasses.replace(base_config, index_alias=f"test-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def client(config: Config) -> Iterator[OpenSearch]:
    """A client for the run's cluster; every index under this test's alias prefix is deleted afterwards."""
    client = connect(config)
    yield client
    client.indices.delete(index=f"{config.index_alias}*", ignore_unavailable=True, expand_wildcards="all")
    client.close()


@pytest.fixture
def cli_env(base_config: Config, config: Config) -> dict[str, str]:
    """Environment variables that point the ``lookalike`` command at this run's node and this test's alias."""
    env = dict(os.environ)
    env["OPENSEARCH_URL"] = base_config.opensearch_url
    env["LOOKALIKE_INDEX_ALIAS"] = config.index_alias
    env["LOOKALIKE_ENGINE_HOME"] = str(base_config.engine.home)
    env["LOOKALIKE_ENGINE_PORT"] = str(base_config.engine.http_port)
    env["LOOKALIKE_ENGINE_TRANSPORT_PORT"] = str(base_config.engine.transport_port)
    return env


@pytest.fixture(scope="session")
def shop_config(base_config: Config) -> Iterator[Config]:
    """The demo catalogue (54 products with real photos), ingested once for the run under an alias of its own.

    Tests only read it; a test that writes must use an alias of its own.
    """
    catalogue = prepare_vendure(base_config.data_dir)
    config = dataclasses.replace(
        base_config,
        index_alias=f"test-shop-{uuid.uuid4().hex[:8]}",
        fetch=dataclasses.replace(base_config.fetch, local_roots=(catalogue.parent / "images",)),
    )
    client = connect(config)
    runner.run_catalogue(client, config, catalogue, eager=True)
    yield config
    client.indices.delete(index=f"{config.index_alias}*", expand_wildcards="all", ignore_unavailable=True)
    client.close()


@pytest.fixture(scope="session")
def products(shop_config: Config) -> dict[str, dict[str, Any]]:
    """The demo catalogue's rows by title."""
    lines = prepare_vendure(shop_config.data_dir).read_text(encoding="utf-8").splitlines()
    return {row["title"]: row for row in map(json.loads, lines)}


@pytest.fixture
def image_dir(tmp_path: Path) -> Path:
    """An empty directory for a test's image files."""
    directory = tmp_path / "images"
    directory.mkdir()
    return directory


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 16-d CLIP checkpoint directory (``LOOKALIKE_MODEL=clip:<it>``)."""
    from tests.support.clip import (
        build_tiny_clip,  # torch and transformers load only for the tests that use it
    )

    return build_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRedis]:
    """A real Redis for the broker and the run tracker, on a free port, for the whole run."""
    redis = LocalRedis(tmp_path_factory.mktemp("redis"), free_port())
    redis.start()
    yield redis
    redis.stop()
