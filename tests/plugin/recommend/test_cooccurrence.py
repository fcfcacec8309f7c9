"""Co-occurrence and popularity: what a periodic run folds in from shopper events, and what it keeps."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from opensearchpy import OpenSearch

from plugin.config import Config
from plugin.opensearch.events import write_events
from plugin.recommend.cooccurrence import (
    PAIRED_WITH,
    popularity_now,
    related_index,
    sessions_index,
    update_related,
)


def event(kind: str, user: str, product: str, minutes: float = 0, session: str | None = None) -> dict[str, Any]:
    """One event, *minutes* before now (the moment of the call: popularity decays from it)."""
    out = {"type": kind, "user": user, "product_id": product, "at": dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=minutes)}
    return out | ({"session": session} if session else {})


def counts(client: OpenSearch, config: Config, product: str) -> dict[str, Any]:
    return client.get(index=related_index(config.index_alias), id=product)["_source"]


def test_products_seen_in_one_session_co_occur_once_however_often_each_is_seen(client: OpenSearch, config: Config) -> None:
    write_events(client, config, [
        event("view", "ana", "sneaker", 9), event("view", "ana", "bag", 8), event("view", "ana", "sneaker", 7), event("click", "ana", "bag", 6),
        event("view", "ben", "sneaker", 5), event("view", "ben", "scarf", 4),
    ])

    summary = update_related(client, config)

    assert (summary.events, summary.sessions, summary.products) == (6, 2, 3)
    sneaker = counts(client, config, "sneaker")
    assert sneaker["sessions"] == 2
    assert sneaker["together"] == {"bag": 1, "scarf": 1}
    assert sneaker["bought"] == {}
    assert counts(client, config, "bag")["together"] == {"sneaker": 1}
    assert counts(client, config, "sneaker")["popularity"] == pytest.approx(3, rel=1e-3)  # three views
    assert counts(client, config, "bag")["popularity"] == pytest.approx(1 + 2, rel=1e-3)  # a view and a click


def test_carts_and_purchases_of_one_session_are_bought_together(client: OpenSearch, config: Config) -> None:
    write_events(client, config, [event("add_to_cart", "ana", "sneaker", 3), event("view", "ana", "sock", 2), event("purchase", "ana", "bag", 1)])

    update_related(client, config)

    assert counts(client, config, "sneaker")["bought"] == {"bag": 1}
    assert counts(client, config, "sock")["bought"] == {}
    assert counts(client, config, "sneaker")["together"] == {"sock": 1, "bag": 1}


def test_folding_in_two_runs_counts_what_one_run_counts(client: OpenSearch, config: Config) -> None:
    once = dataclasses.replace(config, index_alias=config.index_alias + "-once")
    first = [event("view", "ana", "sneaker", 9, "s1"), event("view", "ana", "bag", 8, "s1"), event("view", "ben", "bag", 7)]
    second = [event("view", "ana", "scarf", 6, "s1"), event("view", "ana", "bag", 5, "s1"), event("add_to_cart", "ben", "sock", 4)]

    write_events(client, config, first)
    update_related(client, config)
    write_events(client, config, second)
    update_related(client, config)
    write_events(client, once, first + second)
    update_related(client, once)

    for product in ("sneaker", "bag", "scarf", "sock"):
        split, whole = counts(client, config, product), counts(client, once, product)
        assert (split["sessions"], split["together"], split["bought"]) == (whole["sessions"], whole["together"], whole["bought"]), product
        later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)  # after both runs, whose moments differ
        assert popularity_now(split, later) == pytest.approx(popularity_now(whole, later), rel=1e-9)
    assert counts(client, config, "scarf")["together"] == {"sneaker": 1, "bag": 1}  # paired with what the session saw in the first run


def test_a_run_with_nothing_new_changes_nothing(client: OpenSearch, config: Config) -> None:
    write_events(client, config, [event("view", "ana", "sneaker", 2), event("view", "ana", "bag", 1)])
    update_related(client, config)
    before = counts(client, config, "sneaker")

    again = update_related(client, config)

    assert again.events == 0
    assert counts(client, config, "sneaker") == before


def test_a_shoppers_events_after_a_long_pause_are_a_new_session(client: OpenSearch, config: Config) -> None:
    write_events(client, config, [event("view", "ana", "sneaker", 60 * 30), event("view", "ana", "bag", 60 * 26), event("view", "ana", "scarf", 1)])

    update_related(client, config)

    assert counts(client, config, "sneaker")["together"] == {"bag": 1}
    assert counts(client, config, "scarf")["together"] == {}  # 26 hours after the bag: the idle limit is 24


def test_idle_sessions_are_forgotten_and_nothing_about_the_shopper_stays(client: OpenSearch, config: Config) -> None:
    write_events(client, config, [event("view", "ana", "sneaker", 2), event("view", "ana", "bag", 1)])
    update_related(client, config)
    client.indices.refresh(index=sessions_index(config.index_alias))
    assert client.count(index=sessions_index(config.index_alias), body={"query": {"term": {"kind": "session"}}})["count"] == 1

    update_related(client, config, now=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=25))

    client.indices.refresh(index=sessions_index(config.index_alias))
    assert client.count(index=sessions_index(config.index_alias), body={"query": {"term": {"kind": "session"}}})["count"] == 0
    stored = client.search(index=sessions_index(config.index_alias))["hits"]["hits"]
    assert [hit["_source"]["kind"] for hit in stored] == ["watermark"]


def test_popularity_halves_every_half_life(client: OpenSearch, config: Config) -> None:
    write_events(client, config, [event("purchase", "ana", "bag", 60 * 24 * 7)])  # a purchase a week ago: weight 8

    update_related(client, config)

    assert counts(client, config, "bag")["popularity"] == pytest.approx(4, rel=1e-3)


def test_an_event_sent_late_still_finds_the_session_it_belongs_to(client: OpenSearch, config: Config) -> None:
    write_events(client, config, [event("view", "ana", "sneaker", 60 * 48, "s1")])  # two days ago
    update_related(client, config)

    write_events(client, config, [event("view", "ana", "bag", 60 * 48 - 1, "s1")])  # a minute later, sent only now
    update_related(client, config)

    assert counts(client, config, "bag")["together"] == {"sneaker": 1}


def test_a_product_seen_again_late_in_a_long_session_is_still_counted_once(client: OpenSearch, config: Config) -> None:
    browsing = [event("view", "ana", f"p{n:02d}", 100 - n) for n in range(60)]

    write_events(client, config, [*browsing, event("view", "ana", "p00", 1)])
    update_related(client, config)

    first = counts(client, config, "p00")
    assert first["sessions"] == 1
    assert len(first["together"]) == PAIRED_WITH  # paired with each product seen after it while it was among the latest 50
    assert counts(client, config, "p59")["together"].keys() == {f"p{n:02d}" for n in range(9, 59)}
