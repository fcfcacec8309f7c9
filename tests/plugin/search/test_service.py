"""The hybrid search against the real node, on the hand-made shop (``conftest.py``) whose right answers are known."""

from __future__ import annotations

from typing import Any

import pytest
from opensearchpy import OpenSearch, helpers
from opensearchpy.exceptions import TransportError

from plugin.search.profiles import store_profiles
from plugin.search.request import Filters, Query
from plugin.search.service import search
from tests.support.models import hand_made_document


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


def test_near_duplicates_can_be_collapsed_to_the_best_ranked_one(client: OpenSearch, shop: str) -> None:
    query = {"image_vector": [1, 0, 0, 0], "weights": {"image": 1.0}}

    everything = ids(search(client, shop, Query(**query)))  # type: ignore[arg-type]
    collapsed = ids(search(client, shop, Query(**query, collapse_duplicates=True)))  # type: ignore[arg-type]

    assert everything[:2] == ["red-sneaker", "red-bag"]
    assert collapsed == [pid for pid in everything if pid != "red-bag"]


def test_words_match_a_category_at_any_level_and_forgive_a_typo(client: OpenSearch, shop: str) -> None:
    keywords = {"keywords": 1.0, "text": 0.0, "text_image": 0.0}

    assert set(ids(search(client, shop, Query(text="accessories", weights=keywords)))) == {"green-scarf", "grey-sock"}
    assert set(ids(search(client, shop, Query(text="women", weights=keywords)))) == {"red-sneaker", "red-boot", "red-bag", "green-scarf"}
    assert set(ids(search(client, shop, Query(text="sneakrs", weights=keywords)))) == {"blue-sneaker", "red-sneaker"}
    # A word matched exactly outranks one matched through a typo: "sock" is one letter from "rock", not from "scarf".
    typo = search(client, shop, Query(text="wool sock", weights=keywords, explain=True))
    assert ids(typo)[0] == "grey-sock"


def test_a_product_matching_more_of_the_words_ranks_first(client: OpenSearch, shop: str) -> None:
    result = search(client, shop, Query(text="leather sneaker", weights={"keywords": 1.0}, explain=True))

    coverage = {hit["product_id"]: hit["explain"]["signals"]["keywords"]["coverage"] for hit in result.hits}
    assert ids(result)[0] == "red-sneaker"
    assert coverage == {"red-sneaker": 1.0, "red-bag": 0.5, "blue-sneaker": 0.5}


def searches_and_gets(client: OpenSearch, index: str) -> tuple[int, int]:
    """How many searches and document reads the node has run on *index* so far (its own statistics)."""
    stats = client.indices.stats(index=index, metric="search,get")["_all"]["total"]
    return stats["search"]["query_total"], stats["get"]["total"]


def cost(client: OpenSearch, index: str, query: Query) -> tuple[int, int]:
    """The searches and document reads *query* made the node run."""
    searches, gets = searches_and_gets(client, index)
    search(client, index, query)
    after = searches_and_gets(client, index)
    return after[0] - searches, after[1] - gets


def test_a_photo_query_is_one_search_and_facets_profiles_and_sorts_cost_only_when_asked(client: OpenSearch, shop: str) -> None:
    store_profiles(client)
    photo = {"image_vector": [1, 0, 0, 0], "weights": {"image": 1.0}, "size": 3}

    assert cost(client, shop, Query(**photo)) == (1, 0)  # type: ignore[arg-type]  # the page came with the signal
    assert cost(client, shop, Query(**photo, page=2)) == (1, 0)  # type: ignore[arg-type]
    assert cost(client, shop, Query(**photo, facets=True)) == (2, 0)  # type: ignore[arg-type]
    assert cost(client, shop, Query(**photo, sort="price_asc", facets=True)) == (2, 0)  # type: ignore[arg-type]  # page and facets in one
    assert cost(client, shop, Query(**photo, profile="popular")) == (3, 0)  # type: ignore[arg-type]
    # Words alone: three signals in one _msearch, then the fused page by id (never an mget).
    assert cost(client, shop, Query(text="red sneaker", text_vector=[1, 0, 0], text_image_vector=[1, 0, 0, 0])) == (4, 0)


@pytest.mark.parametrize("fusion", ["adaptive", "rrf", "weighted"])
def test_products_that_tie_are_paged_in_product_id_order_as_fusion_breaks_ties(client: OpenSearch, shop: str, fusion: str) -> None:
    # Three products with the same photo, indexed in reverse: OpenSearch lists tied hits in index
    # order (tie-c first), fusion by product id (tie-a first), so a page taken from the signal's
    # own order would be wrong and the fused page must be fetched.
    twins = [
        {"_index": shop, "_id": pid, "_source": hand_made_document({"id": pid, "title": f"Twin {pid}", "price": 5}, [([0, 0, 0.6, 0.8], pid)], [0, 0, 1])}
        for pid in ("tie-c", "tie-b", "tie-a")
    ]
    helpers.bulk(client, twins, refresh=True)
    query = {"image_vector": [0, 0, 0.6, 0.8], "weights": {"image": 1.0}, "fusion": fusion, "explain": True}

    whole = search(client, shop, Query(**query, size=9))  # type: ignore[arg-type]
    pages = [search(client, shop, Query(**query, page=n, size=1)) for n in (1, 2, 3, 4)]  # type: ignore[arg-type]

    # Reciprocal rank fusion scores the signal's ranks, so its ties keep OpenSearch's order.
    assert ids(whole)[:3] == (["tie-c", "tie-b", "tie-a"] if fusion == "rrf" else ["tie-a", "tie-b", "tie-c"])
    assert [hit for page in pages for hit in page.hits] == whole.hits[:4]
    assert {page.total for page in pages} == {whole.total}


def test_keyword_pages_follow_the_fused_order_where_bm25_ties(client: OpenSearch, shop: str) -> None:
    # The three red products match "red" alike: OpenSearch lists them in index order, fusion by id.
    query = {"text": "red wool", "weights": {"keywords": 1.0}, "explain": True}

    whole = search(client, shop, Query(**query, size=6))  # type: ignore[arg-type]
    pages = [hit for n in range(1, 6) for hit in search(client, shop, Query(**query, page=n, size=1)).hits]  # type: ignore[arg-type]

    assert ids(whole)[2:] == ["red-bag", "red-boot", "red-sneaker"]
    assert pages == whole.hits


class _FailsOnce:
    """The real client, except that its first ``_msearch`` fails with *error*: a cluster that still
    counts a node that has just died answers so, which the real fault test
    (tests/engine/test_local_cluster.py) produces only by chance."""

    def __init__(self, client: OpenSearch, error: dict[str, Any]) -> None:
        self.client, self.error, self.calls = client, error, 0

    def msearch(self, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls == 1:
            raise TransportError(500, self.error["type"], self.error)
        return self.client.msearch(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def test_a_search_that_meets_a_lost_node_is_run_again_and_answers(client: OpenSearch, shop: str) -> None:
    flaky = _FailsOnce(client, {"type": "search_phase_execution_exception", "caused_by": {"type": "node_not_connected_exception"}})

    result = search(flaky, shop, Query(text="red sneaker", size=3))  # type: ignore[arg-type]

    assert flaky.calls == 2
    assert ids(result) == ids(search(client, shop, Query(text="red sneaker", size=3)))


def test_a_search_that_fails_otherwise_is_not_run_again(client: OpenSearch, shop: str) -> None:
    broken = _FailsOnce(client, {"type": "search_phase_execution_exception", "caused_by": {"type": "query_shard_exception"}})

    with pytest.raises(TransportError):
        search(broken, shop, Query(text="red sneaker", size=3))  # type: ignore[arg-type]
    assert broken.calls == 1
