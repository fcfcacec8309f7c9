"""``POST /events``: shopper events in batches, validated field by field, stored by month, expired by age."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from opensearchpy import OpenSearch

from api.app import create_app
from plugin.config import Config
from plugin.opensearch.client import connect
from plugin.opensearch.events import events_index, expire_events


@pytest.fixture
def shop(base_config: Config) -> Iterator[Config]:
    config = dataclasses.replace(base_config, index_alias=f"test-events-{uuid.uuid4().hex[:8]}", cors_origins=("https://shop.example",))
    yield config
    connect(config).indices.delete(index=f"{config.index_alias}*", expand_wildcards="all", ignore_unavailable=True)


@pytest.fixture
def api(shop: Config) -> FlaskClient:
    return create_app(shop, warm=False).test_client()


def _stored(client: OpenSearch, config: Config) -> list[dict[str, Any]]:
    client.indices.refresh(index=f"{config.index_alias}-events-*")
    hits = client.search(index=f"{config.index_alias}-events-*", body={"size": 100, "sort": [{"at": "asc"}]})["hits"]["hits"]
    return [hit["_source"] for hit in hits]


def test_a_batch_is_stored_in_its_months_with_nothing_but_what_was_sent(api: FlaskClient, shop: Config) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    last_month = (now.replace(day=1) - dt.timedelta(days=1)).replace(hour=12)
    batch = {
        "events": [
            {"type": "view", "user": "s-1a2b", "session": "t-9", "product_id": "laptop", "at": last_month.isoformat()},
            {"type": "click", "user": "s-1a2b", "product_id": "tablet"},
            {"type": "purchase", "user": "s-77", "product_id": "tablet", "at": now.isoformat()},
        ]
    }

    answer = api.post("/events", json=batch, headers={"Origin": "https://shop.example"})

    assert answer.status_code == 202 and answer.get_json() == {"accepted": 3}
    assert answer.headers["Access-Control-Allow-Origin"] == "https://shop.example"  # the widget posts from the shop's page
    client = connect(shop)
    assert set(client.indices.get(index=f"{shop.index_alias}-events-*")) == {events_index(shop.index_alias, last_month), events_index(shop.index_alias, now)}
    stored = _stored(client, shop)
    assert sorted((e["type"], e["user"], e["product_id"]) for e in stored) == [
        ("click", "s-1a2b", "tablet"), ("purchase", "s-77", "tablet"), ("view", "s-1a2b", "laptop"),
    ]
    assert set(stored[0]) == {"type", "user", "session", "product_id", "at", "received_at"}  # the oldest: last month's view


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"type": "like", "user": "s-1", "product_id": "p"}, "events.0.type"),
        ({"type": "view", "user": "ana@example.com", "product_id": "p"}, "events.0.user"),
        ({"type": "view", "user": "s-1", "product_id": ""}, "events.0.product_id"),
        ({"type": "view", "user": "s-1", "product_id": "p", "email": "ana@example.com"}, "events.0.email"),
        ({"type": "view", "user": "s-1", "product_id": "p", "at": "2026-01-01T10:00:00"}, "events.0.at"),
        ({"type": "view", "user": "s-1", "product_id": "p", "at": "2099-01-01T10:00:00+00:00"}, "events.0.at"),
        ({"type": "view", "user": "s-1", "product_id": "p", "at": "2001-01-01T10:00:00+00:00"}, "events.0.at"),
    ],
)
def test_a_bad_event_is_refused_naming_its_field_and_nothing_of_the_batch_is_stored(
    api: FlaskClient, shop: Config, event: dict[str, Any], field: str
) -> None:
    good = {"type": "view", "user": "s-1", "product_id": "p"}

    answer = api.post("/events", json={"events": [event, good]})

    assert answer.status_code == 400, answer.get_json()
    assert answer.get_json()["error"]["field"] == field
    assert connect(shop).indices.get(index=f"{shop.index_alias}-events-*", ignore_unavailable=True, allow_no_indices=True) == {}


def test_a_batch_must_be_a_list_of_one_to_500_events(api: FlaskClient) -> None:
    one = {"type": "view", "user": "s-1", "product_id": "p"}
    assert api.post("/events", json={"events": []}).status_code == 400
    assert api.post("/events", json={"events": [one] * 501}).status_code == 400
    assert api.post("/events", data="not json", content_type="text/plain").status_code == 415
    assert api.post("/events", json=[one]).status_code == 400


def test_months_wholly_older_than_the_retention_are_deleted_and_the_rest_kept(shop: Config) -> None:
    client = connect(shop)
    kept_days = dataclasses.replace(shop, events_retention_days=40)
    now = dt.datetime(2026, 11, 27, tzinfo=dt.timezone.utc)
    for month in ("2026.08", "2026.09", "2026.10", "2026.11"):
        client.indices.create(index=f"{shop.index_alias}-events-{month}")

    expired = expire_events(client, kept_days, now)

    # 40 days before 27 November is 18 October: September ended before it, October did not.
    assert expired == [f"{shop.index_alias}-events-2026.08", f"{shop.index_alias}-events-2026.09"]
    assert sorted(client.indices.get(index=f"{shop.index_alias}-events-*")) == [f"{shop.index_alias}-events-2026.10", f"{shop.index_alias}-events-2026.11"]
