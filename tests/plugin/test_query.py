"""The hybrid query against the real node, on hand-made products whose right answers are known."""

from __future__ import annotations

from typing import Any

import pytest
from opensearchpy import OpenSearch, helpers

from plugin.opensearch import indices as index_lifecycle
from plugin.config import Config
from plugin.search.request import Filters, Query
from plugin.search.service import search
from tests.support.models import TINY_SPEC

# id: (image vectors, text vector, title, category, brand, tags, price, in stock, rating, popularity)
PRODUCTS: dict[str, tuple[list[list[float]], list[float], str, str, str, list[str], float, bool, float, float]] = {
    "red-sneaker": ([[1, 0, 0, 0]], [1, 0, 0], "Red leather sneaker", "Women > Shoes > Sneakers", "Acme", ["red", "leather"], 80, True, 4.5, 10),
    "red-boot": ([[0.9, 0.3, 0, 0], [0, 0, 0, 1]], [0.8, 0.2, 0], "Red ankle boot", "Women > Shoes > Boots", "Acme", ["red"], 120, True, 4.0, 50),
    "blue-sneaker": ([[0.7, 0.7, 0, 0]], [0.9, 0, 0.1], "Blue canvas sneaker", "Men > Shoes > Sneakers", "Zeta", ["blue", "canvas"], 60, False, 3.5, 30),
    "red-bag": ([[0.95, 0, 0.1, 0]], [0, 1, 0], "Red leather bag", "Women > Bags", "Acme", ["red", "leather"], 200, True, 5.0, 5),
    "green-scarf": ([[0, 0, 1, 0]], [0, 0, 1], "Green wool scarf", "Women > Accessories", "Zeta", ["green", "wool"], 30, True, 4.8, 70),
    "grey-sock": ([[0, 0.2, 0.9, 0]], [0.1, 0.1, 0.9], "Grey wool sock", "Men > Accessories", "Zeta", ["grey", "wool"], 10, True, 3.0, 90),
}


@pytest.fixture
def shop(client: OpenSearch, config: Config) -> str:
    index_lifecycle.ensure_product_index(client, config, TINY_SPEC)
    actions = []
    for pid, (images, text, title, category, brand, tags, price, stock, rating, popularity) in PRODUCTS.items():
        levels = category.split(" > ")
        source: dict[str, Any] = {
            "product_id": pid, "title": title, "category": category, "brand": brand, "tags": tags, "price": price,
            "in_stock": stock, "rating": rating, "popularity": popularity, "text_vector": text,
            "category_path": [" > ".join(levels[: i + 1]) for i in range(len(levels))],
            "images": [{"url": f"{pid}-{i}.jpg", "position": i, "vector": v} for i, v in enumerate(images)],
            # The red sneaker and the red bag share a (pretend) main photo: near duplicates.
            "dup_group": "ff00" if pid in ("red-sneaker", "red-bag") else pid,
        }
        actions.append({"_index": config.index_alias, "_id": pid, "_source": source})
    helpers.bulk(client, actions, refresh=True)
    return config.index_alias


def ids(result: Any) -> list[str]:
    return [hit["product_id"] for hit in result.hits]


def test_a_photo_query_ranks_by_the_best_matching_image_and_returns_each_product_once(client: OpenSearch, shop: str) -> None:
    result = search(client, shop, Query(image_vector=[0, 0, 0, 1], weights={"image": 1.0}))

    assert ids(result)[0] == "red-boot"  # its second photo is the match
    assert len(ids(result)) == len(set(ids(result))) == 6


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (Filters(category="Women > Shoes"), {"red-sneaker", "red-boot"}),
        (Filters(category="Women"), {"red-sneaker", "red-boot", "red-bag", "green-scarf"}),
        (Filters(tags_any=("wool", "canvas")), {"blue-sneaker", "green-scarf", "grey-sock"}),
        (Filters(tags_all=("red", "leather")), {"red-sneaker", "red-bag"}),
        (Filters(tags_none=("red",)), {"blue-sneaker", "green-scarf", "grey-sock"}),
        (Filters(brands=("Zeta",), in_stock=True), {"green-scarf", "grey-sock"}),
        (Filters(price_min=50, price_max=120), {"red-sneaker", "red-boot", "blue-sneaker"}),
        (Filters(rating_min=4.5), {"red-sneaker", "red-bag", "green-scarf"}),
        (Filters(exclude_ids=("red-sneaker",), category="Women > Shoes"), {"red-boot"}),
    ],
)
def test_filters_apply_inside_the_vector_search(client: OpenSearch, shop: str, filters: Filters, expected: set[str]) -> None:
    # k=2 per signal: only an efficient filter (inside k-NN) can still fill it from the matching products.
    for signal, vector in (("image", {"image_vector": [1, 0, 0, 0]}), ("text", {"text_vector": [1, 0, 0]})):
        result = search(client, shop, Query(**vector, weights={signal: 1.0}, filters=filters, window=2, size=2))  # type: ignore[arg-type]
        assert set(ids(result)) <= expected
        if not filters.tags_none:  # exclusions are applied after k-NN, so they may leave fewer than k
            assert len(ids(result)) == min(2, len(expected))

    browse = search(client, shop, Query(filters=filters))
    assert set(ids(browse)) == expected and browse.total == len(expected)


def test_hybrid_fusion_puts_what_photo_and_words_agree_on_first(client: OpenSearch, shop: str) -> None:
    photo_only = search(client, shop, Query(image_vector=[1, 0, 0, 0], weights={"image": 1.0}))
    hybrid = search(client, shop, Query(image_vector=[1, 0, 0, 0], text="leather bag", explain=True))

    assert ids(photo_only)[0] == "red-sneaker"
    assert ids(hybrid)[0] == "red-bag"
    signals = hybrid.hits[0]["explain"]["signals"]
    assert signals["keywords"]["rank"] == 1 and signals["image"]["rank"] == 2
    assert hybrid.hits[0]["score"] == pytest.approx(sum(s["contribution"] for s in signals.values()), abs=1e-6)


@pytest.mark.parametrize("fusion", ["rrf", "weighted"])
def test_pages_are_slices_of_one_stable_ranking(client: OpenSearch, shop: str, fusion: str) -> None:
    def page(number: int, size: int) -> list[str]:
        return ids(search(client, shop, Query(image_vector=[1, 0.1, 0, 0], text="red sneaker", fusion=fusion, page=number, size=size)))

    whole = page(1, 6)
    assert page(1, 2) + page(2, 2) + page(3, 2) == whole
    assert page(1, 3) + page(2, 3) == whole


def test_sorting_orders_the_result_set_and_facets_count_it(client: OpenSearch, shop: str) -> None:
    query = Query(text="red", weights={"keywords": 1.0}, sort="price_asc", facets=True)

    result = search(client, shop, query)

    assert ids(result) == ["red-sneaker", "red-boot", "red-bag"]
    assert ids(search(client, shop, Query(text="red", weights={"keywords": 1.0}, sort="price_desc"))) == ["red-bag", "red-boot", "red-sneaker"]
    facets = {name: {b.get("value", (b.get("from"), b.get("to"))): b["count"] for b in buckets} for name, buckets in result.facets.items()}
    assert facets["tags"] == {"red": 3, "leather": 2}
    assert facets["brand"] == {"Acme": 3}
    assert facets["category"]["Women > Shoes"] == 2 and facets["category"]["Women"] == 3
    assert facets["price"][(50.0, 100.0)] == 1 and facets["price"][(100.0, 250.0)] == 2


def test_min_score_drops_weak_matches(client: OpenSearch, shop: str) -> None:
    everything = search(client, shop, Query(image_vector=[1, 0, 0, 0], weights={"image": 1.0}, fusion="weighted"))
    strong = search(client, shop, Query(image_vector=[1, 0, 0, 0], weights={"image": 1.0}, fusion="weighted", min_score=0.5))

    assert strong.total < everything.total
    assert all(hit["score"] >= 0.5 for hit in strong.hits)


def test_bad_pagination_and_sorts_are_refused() -> None:
    with pytest.raises(ValueError, match="sort must be one of"):
        Query(sort="cheapest")
    with pytest.raises(ValueError, match="page \\* size must not exceed 100"):
        Query(page=6, size=20)


def test_a_ranking_profile_reorders_by_the_shops_rule(client: OpenSearch, shop: str) -> None:
    from plugin.search.profiles import store_profiles

    store_profiles(client)
    plain = search(client, shop, Query(text="wool", weights={"keywords": 1.0}, explain=True))
    popular = search(client, shop, Query(text="wool", weights={"keywords": 1.0}, profile="popular", explain=True,
                                         profile_params={"popularity_weight": 5.0, "rating_weight": 0.0}))

    assert set(ids(plain)) == set(ids(popular)) == {"green-scarf", "grey-sock"}
    assert ids(popular)[0] == "grey-sock"  # popularity 90 against 70
    expected_factor = 1 + 5.0 * __import__("math").log1p(90)
    assert popular.hits[0]["explain"]["signals"]["profile"]["factor"] == pytest.approx(expected_factor, rel=1e-4)

    stocked = search(client, shop, Query(image_vector=[0.8, 0.5, 0, 0], weights={"image": 1.0}, profile="in_stock_first",
                                         profile_params={"out_of_stock_factor": 0.0}))
    assert ids(stocked)[-1] == "blue-sneaker"  # the only product out of stock sinks to the end

    with pytest.raises(ValueError, match="profile must be one of"):
        Query(profile="cheapest-first")


def test_near_duplicates_can_be_collapsed_to_the_best_ranked_one(client: OpenSearch, shop: str) -> None:
    query = {"image_vector": [1, 0, 0, 0], "weights": {"image": 1.0}}

    everything = ids(search(client, shop, Query(**query)))  # type: ignore[arg-type]
    collapsed = ids(search(client, shop, Query(**query, collapse_duplicates=True)))  # type: ignore[arg-type]

    assert everything[:2] == ["red-sneaker", "red-bag"]
    assert collapsed == [pid for pid in everything if pid != "red-bag"]
