"""A shopper's taste from their recent events, and popularity from events, as the ranking profiles read them."""

from __future__ import annotations

import datetime as dt

import pytest
from opensearchpy import OpenSearch

from plugin.config import Config
from plugin.opensearch.events import write_events
from plugin.recommend.cooccurrence import update_related
from plugin.recommend.taste import (
    RECENCY,
    event_popularity,
    personal_scores,
    recent_products,
)


def test_recent_products_weigh_by_kind_and_recency(client: OpenSearch, config: Config, shop: str) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    write_events(client, config, [
        {"type": "view", "user": "ana", "product_id": "green-scarf", "at": now - dt.timedelta(minutes=2)},
        {"type": "add_to_cart", "user": "ana", "product_id": "grey-sock", "at": now - dt.timedelta(minutes=1)},
        {"type": "view", "user": "ben", "product_id": "red-bag", "at": now},
    ])
    client.indices.refresh(index=f"{config.index_alias}-events-*")

    assert recent_products(client, shop, "ana") == {"grey-sock": 4.0, "green-scarf": pytest.approx(1.0 * RECENCY)}
    assert recent_products(client, shop, "nobody") == {}


def test_personal_scores_rank_the_candidates_by_closeness_to_the_shoppers_taste(client: OpenSearch, config: Config, shop: str) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    write_events(client, config, [
        {"type": "view", "user": "ana", "product_id": "green-scarf", "at": now - dt.timedelta(minutes=2)},
        {"type": "view", "user": "ana", "product_id": "grey-sock", "at": now - dt.timedelta(minutes=1)},
    ])
    client.indices.refresh(index=f"{config.index_alias}-events-*")

    scores = personal_scores(client, shop, "ana", ["red-sneaker", "green-scarf", "grey-sock", "red-bag"])

    assert set(scores) == {"red-sneaker", "green-scarf", "grey-sock", "red-bag"}
    assert min(scores.values()) == 0 and max(scores.values()) == 1  # scaled over the candidates
    assert scores["red-sneaker"] == 0
    assert scores["grey-sock"] > scores["red-bag"] and scores["green-scarf"] > scores["red-bag"]
    assert personal_scores(client, shop, "nobody", ["red-sneaker"]) == {}  # no history: no push


def test_taste_by_category_alone_weighs_each_candidates_category_among_the_shoppers_products(client: OpenSearch, config: Config, shop: str) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    write_events(client, config, [
        {"type": "view", "user": "ana", "product_id": "green-scarf", "at": now - dt.timedelta(minutes=2)},
        {"type": "add_to_cart", "user": "ana", "product_id": "grey-sock", "at": now - dt.timedelta(minutes=1)},
    ])
    client.indices.refresh(index=f"{config.index_alias}-events-*")

    scores = personal_scores(client, shop, "ana", ["red-sneaker", "green-scarf", "grey-sock", "red-bag"], category_weight=1.0)

    # grey-sock's category (Men > Accessories) has the cart's weight, green-scarf's (Women > Accessories) a view's.
    assert scores["grey-sock"] == 1 and 0 < scores["green-scarf"] < 1
    assert scores["red-sneaker"] == scores["red-bag"] == 0


def test_event_popularity_is_read_decayed_and_is_empty_before_any_run(client: OpenSearch, config: Config, shop: str) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    assert event_popularity(client, shop, ["red-bag"]) == {}
    write_events(client, config, [{"type": "purchase", "user": "ana", "product_id": "red-bag", "at": now - dt.timedelta(days=14)}])
    update_related(client, config)

    assert event_popularity(client, shop, ["red-bag", "green-scarf"]) == {"red-bag": pytest.approx(8 / 4, rel=1e-3)}  # two half lives
    assert event_popularity(client, shop, ["red-bag"], now + dt.timedelta(days=7))["red-bag"] == pytest.approx(1, rel=1e-3)
