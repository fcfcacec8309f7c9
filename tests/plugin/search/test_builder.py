"""Request bodies built from a query, and results shaped from responses: pure, checked without a node."""

from __future__ import annotations

from typing import Any

import pytest

from plugin.opensearch.documents import SOURCE_FIELDS
from plugin.search import builder
from plugin.search.fusion import FusedHit
from plugin.search.request import Filters, Query

ALL_SIGNALS: dict[str, Any] = {
    "image_vector": [1.0, 0.0, 0.0, 0.0],
    "text": "red sneaker",
    "text_vector": [0.0, 1.0, 0.0],
    "text_image_vector": [0.0, 0.0, 1.0, 0.0],
    # The builder takes a query whose weights the ranking settings have filled in.
    "weights": {"image": 1.0, "text": 1.0, "text_image": 0.5, "keywords": 1.0},
}


def test_each_signal_with_input_and_weight_gets_its_own_query_over_the_window() -> None:
    bodies = builder.signal_queries(Query(**ALL_SIGNALS, window=40))

    assert list(bodies) == ["image", "text_image", "text", "keywords"]
    # Ids from doc values and no stored field: reading one would decompress the product's vectors.
    assert all(body["size"] == 40 and body["stored_fields"] == "_none_" and "_source" not in body for body in bodies.values())
    assert all(body["docvalue_fields"] == ["product_id"] for body in bodies.values())
    assert bodies["image"]["query"] == {
        "nested": {"path": "images", "score_mode": "max", "query": {"knn": {"images.vector": {"vector": [1.0, 0.0, 0.0, 0.0], "k": 40, "method_parameters": {"ef_search": 256}}}}}
    }
    assert bodies["text_image"]["query"]["nested"]["query"]["knn"]["images.vector"]["vector"] == [0.0, 0.0, 1.0, 0.0]
    assert bodies["text"]["query"] == {"knn": {"text_vector": {"vector": [0.0, 1.0, 0.0], "k": 40, "method_parameters": {"ef_search": 256}}}}
    # The graph search is never narrower than the window it must fill.
    wide = builder.signal_queries(Query(**ALL_SIGNALS, window=400, size=10))
    assert wide["text"]["query"]["knn"]["text_vector"]["method_parameters"] == {"ef_search": 400}
    assert bodies["keywords"]["query"] == builder.keyword_query("red sneaker", Filters().clause())


def test_keywords_forgive_typos_at_a_discount_and_name_one_clause_per_word() -> None:
    query = builder.keyword_query("The red sneakers, red!", {"match_all": {}})["bool"]

    exact, fuzzy, description = query["must"][0]["bool"]["should"]
    assert "fuzziness" not in exact["multi_match"] and fuzzy["multi_match"]["boost"] == builder.FUZZY_BOOST
    assert fuzzy["multi_match"]["fuzziness"] == "AUTO:4,8"
    assert description == {"match": {"description": {"query": "The red sneakers, red!"}}}  # no typos in prose
    # Stop words cannot match, so they are not counted; each word is counted once.
    named = [clause["bool"] for clause in query["should"]]
    assert [clause["should"][0]["multi_match"]["query"] for clause in named] == ["red", "sneakers"]
    assert [clause["_name"] for clause in named] == ["term:0", "term:1"]
    assert all(clause["boost"] == 0 for clause in named)
    assert named[0]["should"][1] == {"match": {"description": {"query": "red"}}}  # prose: exact words only
    assert query["filter"] == [{"match_all": {}}]


def test_query_words_are_split_as_the_analyser_splits_them() -> None:
    assert builder.query_terms("Men's 2.4GHz mouse, don't") == ["men", "2.4ghz", "mouse", "don't"]
    assert builder.query_terms("the and of") == []


def test_a_signal_without_input_or_with_weight_0_is_not_queried() -> None:
    assert list(builder.signal_queries(Query(text="mug", weights={"keywords": 1.0}))) == ["keywords"]
    assert builder.signal_queries(Query()) == {}
    weights = {"image": 1.0, "text": 0.0, "text_image": 0.0, "keywords": 0.0}
    assert list(builder.signal_queries(Query(**(ALL_SIGNALS | {"weights": weights})))) == ["image"]
    assert list(builder.signal_queries(Query(**(ALL_SIGNALS | {"weights": {"keywords": 1.0}})))) == ["keywords"]  # left out: not queried


def test_filters_go_inside_every_k_nn_search_and_beside_the_keywords() -> None:
    filters = Filters(category="Women", in_stock=True)
    inside = {"bool": {"filter": [{"term": {"category_path": "Women"}}, {"term": {"in_stock": True}}]}}

    bodies = builder.signal_queries(Query(**ALL_SIGNALS, filters=filters))

    assert bodies["image"]["query"]["nested"]["query"]["knn"]["images.vector"]["filter"] == inside
    assert bodies["text_image"]["query"]["nested"]["query"]["knn"]["images.vector"]["filter"] == inside
    assert bodies["text"]["query"]["knn"]["text_vector"]["filter"] == inside
    assert bodies["keywords"]["query"]["bool"]["filter"] == [filters.clause()]


def test_exclusions_are_applied_outside_the_k_nn_search() -> None:
    filters = Filters(brands=("Acme",), tags_none=("used",), exclude_ids=("sku-1",))
    exclusions = [{"terms": {"tags": ["used"]}}, {"ids": {"values": ["sku-1"]}}]

    bodies = builder.signal_queries(Query(**ALL_SIGNALS, filters=filters))

    image = bodies["image"]["query"]["bool"]
    assert image["must_not"] == exclusions
    assert image["must"][0]["nested"]["query"]["knn"]["images.vector"]["filter"] == {"bool": {"filter": [{"terms": {"brand": ["Acme"]}}]}}
    text = bodies["text"]["query"]["bool"]
    assert text["must_not"] == exclusions and "must_not" not in str(text["must"])
    only_exclusions = builder.signal_queries(Query(text_vector=[1.0, 0.0, 0.0], weights={"text": 1.0}, filters=Filters(exclude_ids=("sku-1",))))
    assert only_exclusions["text"]["query"] == {
        "bool": {"must": [{"knn": {"text_vector": {"vector": [1.0, 0.0, 0.0], "k": 100, "method_parameters": {"ef_search": 256}}}}], "must_not": [{"ids": {"values": ["sku-1"]}}]}
    }


def test_browsing_shows_the_filtered_catalogue_most_popular_first() -> None:
    filters = Filters(category="Women")

    body = builder.browse_body(Query(filters=filters, page=3, size=10))

    assert body == {
        "from": 20, "size": 10, "_source": SOURCE_FIELDS, "query": filters.clause(),
        "sort": [{"popularity": {"order": "desc", "missing": "_last"}}, {"product_id": "asc"}], "track_total_hits": True,
    }
    sorted_browse = builder.browse_body(Query(sort="price_desc", facets=True))
    assert sorted_browse["sort"] == [{"price": {"order": "desc", "missing": "_last"}}, {"product_id": "asc"}]
    assert sorted_browse["aggs"] == builder.aggregations()


@pytest.mark.parametrize("sort", ["price_asc", "price_desc", "popularity", "rating", "newest"])
def test_a_sorted_page_orders_the_result_set_by_the_field_then_by_id(sort: str) -> None:
    body = builder.sorted_page_body(Query(text="red", sort=sort, page=2, size=5), ["a", "b", "c"])

    assert body["query"] == {"ids": {"values": ["a", "b", "c"]}}
    assert (body["from"], body["size"], body["_source"]) == (5, 5, SOURCE_FIELDS)
    assert body["sort"] == [*builder.SORTS[sort], {"product_id": "asc"}]  # type: ignore[misc]
    assert "aggs" not in body


def test_price_facets_cover_every_price_in_contiguous_ranges() -> None:
    ranges = builder.aggregations()["price"]["range"]["ranges"]

    assert ranges[0] == {"to": 25.0} and ranges[-1] == {"from": 250.0}
    assert all(left["to"] == right["from"] for left, right in zip(ranges, ranges[1:]))


def test_facets_are_read_from_the_aggregations_of_a_response() -> None:
    def terms(*pairs: tuple[str, int]) -> dict[str, Any]:
        return {"buckets": [{"key": key, "doc_count": count} for key, count in pairs]}

    response = {
        "aggregations": {
            "tags": terms(("red", 3), ("leather", 2)),
            "brand": terms(("Acme", 3)),
            "category": terms(("Women", 3), ("Women > Shoes", 2)),
            "price": {"buckets": [{"key": "*-25.0", "to": 25.0, "doc_count": 0}, {"key": "250.0-*", "from": 250.0, "doc_count": 1}]},
        }
    }

    assert builder.facets(response) == {
        "tags": [{"value": "red", "count": 3}, {"value": "leather", "count": 2}],
        "brand": [{"value": "Acme", "count": 3}],
        "category": [{"value": "Women", "count": 3}, {"value": "Women > Shoes", "count": 2}],
        "price": [{"from": None, "to": 25.0, "count": 0}, {"from": 250.0, "to": None, "count": 1}],
    }


def test_a_hit_carries_its_rounded_score_and_explains_itself_only_when_asked() -> None:
    fused = FusedHit("a", 0.123456789, {"image": {"rank": 1, "score": 0.9, "contribution": 0.123456789}})
    source = {"product_id": "a", "title": "Mug"}

    assert builder.hit(source, fused, explain=False) == {"product_id": "a", "title": "Mug", "score": 0.123457}
    assert builder.hit(source, fused, explain=True)["explain"] == {"fused_score": 0.123456789, "signals": fused.signals}
    assert builder.hit(source, None, explain=True) == source  # browsing: no score to show
    assert "score" not in source  # the source itself is left as it was
