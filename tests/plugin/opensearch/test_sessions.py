"""Admin login sessions in the cluster: open until they end or expire, seen by every process at once."""

from __future__ import annotations

import time

from opensearchpy import OpenSearch

from plugin.config import Config
from plugin.opensearch.sessions import (
    end_session,
    session_open,
    start_session,
)


def test_a_session_is_open_from_its_start_until_it_ends(client: OpenSearch, config: Config) -> None:
    assert not session_open(client, config, "never-started")  # no index yet: no session

    start_session(client, config, "one", seconds=60)
    start_session(client, config, "two", seconds=60)
    assert session_open(client, config, "one") and session_open(client, config, "two")  # no refresh needed

    end_session(client, config, "one")
    end_session(client, config, "one")  # ending it again is harmless
    assert not session_open(client, config, "one") and session_open(client, config, "two")


def test_a_session_expires_and_the_next_login_removes_it(client: OpenSearch, config: Config) -> None:
    start_session(client, config, "old", seconds=60, now=time.time() - 120)
    assert not session_open(client, config, "old")
    client.indices.refresh(index=config.sessions_index)  # hours old in life: long searchable

    start_session(client, config, "new", seconds=60)
    client.indices.refresh(index=config.sessions_index)

    assert client.count(index=config.sessions_index)["count"] == 1


def test_the_index_holds_no_session_id(client: OpenSearch, config: Config) -> None:
    start_session(client, config, "the-secret-id", seconds=60)
    client.indices.refresh(index=config.sessions_index)

    stored = client.search(index=config.sessions_index)["hits"]["hits"]
    assert "the-secret-id" not in str(stored)
