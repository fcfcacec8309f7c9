"""Recommendations for a product and for a shopper: co-occurrence and look-alikes in turn, look-alikes alone for cold start, each with its reason."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from opensearchpy import OpenSearch

from plugin.config import Config
from plugin.errors import IndexMissing, ProductNotFound, ProductTakenDown
from plugin.opensearch.events import write_events
from plugin.opensearch.takedowns import take_down
from plugin.recommend.cooccurrence import update_related
from plugin.recommend.related import for_product, for_shopper, most_popular


def views(*sessions: tuple[str, list[str]]) -> list[dict[str, Any]]:
    """Each (shopper, products) a session of views a minute apart, ending now."""
    now = dt.datetime.now(dt.timezone.utc)
    return [
        {"type": "view", "user": user, "session": f"{user}-s", "product_id": product, "at": now - dt.timedelta(minutes=len(products) - n)}
        for user, products in sessions
        for n, product in enumerate(products)
    ]


@pytest.fixture
def history(client: OpenSearch, config: Config, shop: str) -> str:
    """The red sneaker seen with the green scarf by two shoppers and with the grey sock by one."""
    write_events(client, config, views(("ana", ["red-sneaker", "green-scarf"]), ("ben", ["green-scarf", "red-sneaker"]), ("cai", ["red-sneaker", "grey-sock"])))
    update_related(client, config)
    return shop


def test_a_product_without_history_is_recommended_its_look_alikes(client: OpenSearch, shop: str) -> None:
    found = for_product(client, shop, "red-sneaker", size=3)

    assert [rec.product_id for rec in found] == ["red-bag", "red-boot", "blue-sneaker"]  # by their photos' closeness
    assert all(rec.reason["kind"] == "looks_like" and rec.cooccurrence == 0 for rec in found)
    assert found[0].reason["similarity"] == pytest.approx(0.95 / (0.95**2 + 0.1**2) ** 0.5, abs=1e-3)
    assert found[0].product["title"] == "Red leather bag"  # ready to show


def test_products_seen_together_come_first_with_how_often_and_look_alikes_fill_the_list(client: OpenSearch, history: str) -> None:
    found = for_product(client, history, "red-sneaker", size=4)

    # The two lists take turns, co-occurrence first: the scarf and the sock look nothing like a sneaker.
    assert [rec.product_id for rec in found] == ["green-scarf", "red-bag", "grey-sock", "red-boot"]
    assert found[0].reason == {"kind": "viewed_together", "with": "red-sneaker", "sessions": 2}
    # Sessions with both over the root of each one's sessions: 2 / sqrt(3 x 2), 1 / sqrt(3 x 1).
    assert found[0].cooccurrence == pytest.approx(2 / 6**0.5) and found[2].cooccurrence == pytest.approx(1 / 3**0.5)
    assert found[1].reason["kind"] == found[3].reason["kind"] == "looks_like"


def test_carts_together_are_named_as_bought_together(client: OpenSearch, config: Config, shop: str) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    write_events(client, config, [
        {"type": "add_to_cart", "user": "dan", "product_id": "red-boot", "at": now - dt.timedelta(minutes=2)},
        {"type": "purchase", "user": "dan", "product_id": "green-scarf", "at": now - dt.timedelta(minutes=1)},
    ])
    update_related(client, config)

    first = for_product(client, shop, "red-boot", size=1)[0]

    assert (first.product_id, first.reason) == ("green-scarf", {"kind": "bought_together", "with": "red-boot", "sessions": 1})


def test_a_taken_down_or_deleted_product_is_never_recommended(client: OpenSearch, config: Config, history: str) -> None:
    write_events(client, config, views(("eve", ["red-sneaker", "gone-for-good"])))
    update_related(client, config)
    take_down(client, config, "green-scarf", "green-scarf-0.jpg", "a claim", "test")

    found = [rec.product_id for rec in for_product(client, history, "red-sneaker", size=10)]

    assert "green-scarf" not in found and "gone-for-good" not in found
    assert found[0] == "grey-sock"
    with pytest.raises(ProductTakenDown):
        for_product(client, history, "green-scarf")  # as its own page: withheld


def test_an_unknown_product_has_no_recommendations_and_a_missing_catalogue_says_so(client: OpenSearch, shop: str) -> None:
    with pytest.raises(ProductNotFound):
        for_product(client, shop, "no-such-product")
    with pytest.raises(IndexMissing):
        for_product(client, shop + "-never-made", "red-sneaker")


def test_a_shopper_is_recommended_what_others_saw_with_their_products_never_what_they_saw(client: OpenSearch, history: str) -> None:
    found = [rec.product_id for rec in for_shopper(client, history, "ana", size=3)]

    assert found[0] == "grey-sock"  # seen with the red sneaker by cai
    assert "red-sneaker" not in found and "green-scarf" not in found


def test_a_shopper_without_history_is_shown_what_is_popular(client: OpenSearch, config: Config, history: str) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    write_events(client, config, [{"type": "purchase", "user": "fay", "product_id": "blue-sneaker", "at": now}])
    update_related(client, config)

    found = for_shopper(client, history, "new-shopper", size=2)

    # The purchase weighs 8; the red sneaker's three views 3.
    assert [(rec.product_id, rec.reason["kind"]) for rec in found] == [("blue-sneaker", "popular"), ("red-sneaker", "popular")]
    assert [rec.product_id for rec in most_popular(client, history, 1, exclude=["blue-sneaker"])] == ["red-sneaker"]
