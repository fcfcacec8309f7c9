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


def test_with_the_broker_up_the_state_comes_as_one_short_server_sent_event(config: Config, client: OpenSearch, redis_server: LocalRedis) -> None:
    up = dataclasses.replace(config, ingest=dataclasses.replace(config.ingest, broker_url=redis_server.url))
    monitor = IngestMonitor(client, up)

    reconnect, event = monitor.events().split("\n\n", 1)

    assert reconnect == "retry: 1000"  # the response ends; the browser asks again a second later
    event_id, kind, data = event.strip().split("\n")
    assert kind == "event: ingest"
    state = json.loads(data.removeprefix("data: "))
    assert state["broker"] == "ok" and state["runs"] == [] and state["quarantined"] == 0
    # The browser sends back the id it holds: an unchanged state is not sent again.
    assert monitor.events(event_id.removeprefix("id: ")) == "retry: 1000\n\n"
    assert "event: ingest" in monitor.events("an-older-state")
