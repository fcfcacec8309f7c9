"""Ingest as the admin sees it (``api/admin/ingest_monitor.py``): runs from the broker's Redis, the retry."""

from __future__ import annotations

import dataclasses
import json

import pytest
from opensearchpy import OpenSearch

from api.admin import IngestMonitor
from engine.local_redis import LocalRedis
from plugin.config import Config
from plugin.errors import BrokerUnavailable


def test_a_broker_that_is_down_is_reported_not_raised(app_config: Config, client: OpenSearch) -> None:
    monitor = IngestMonitor(client, app_config)

    state = monitor.state()

    assert state["runs"] == [] and app_config.ingest.broker_url in state["broker"]
    assert state["retry_running"] is False and isinstance(state["quarantined"], int)
    with pytest.raises(BrokerUnavailable):
        monitor.start_retry()  # refused at once, not in a thread nobody watches
    assert not monitor.retry_running()


def test_with_the_broker_up_the_state_streams_as_server_sent_events(config: Config, client: OpenSearch, redis_server: LocalRedis) -> None:
    up = dataclasses.replace(config, ingest=dataclasses.replace(config.ingest, broker_url=redis_server.url))
    monitor = IngestMonitor(client, up)

    events = list(monitor.events(stream_seconds=0.2))

    assert events[0] == "retry: 1000\n\n"
    kind, data = events[1].strip().split("\n")
    assert kind == "event: ingest"
    state = json.loads(data.removeprefix("data: "))
    assert state["broker"] == "ok" and state["runs"] == [] and state["quarantined"] == 0
