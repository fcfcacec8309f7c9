"""The search request: validated once, with messages that name the field, and enums stored as plain values."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from plugin.search.request import (
    WINDOW,
    Filters,
    Fusion,
    Query,
    QueryKind,
    SearchOptions,
    Sort,
    Weights,
)


def test_bad_pagination_and_sorts_are_refused() -> None:
    with pytest.raises(ValueError, match="sort must be one of"):
        Query(sort="cheapest")
    with pytest.raises(ValueError, match="page \\* size must not exceed 100"):
        Query(page=6, size=20)


def test_the_sort_message_lists_every_order() -> None:
    with pytest.raises(ValidationError, match="sort must be one of relevance, price_asc, price_desc, popularity, rating, newest"):
        SearchOptions(sort="cheapest")


def test_a_profile_must_exist_and_take_the_parameters_given() -> None:
    with pytest.raises(ValidationError, match="profile must be one of popular, personal, in_stock_first"):
        SearchOptions(profile="cheapest-first")
    with pytest.raises(ValidationError, match="unknown parameter colour, zeal"):
        SearchOptions(profile="popular", profile_params={"zeal": 1.0, "colour": 2.0, "rating_weight": 0.5})
    with pytest.raises(ValidationError, match="unknown parameter rating_weight"):
        SearchOptions(profile_params={"rating_weight": 0.5})  # parameters without a profile
    assert SearchOptions(profile="popular", profile_params={"rating_weight": 0.5}).profile_params == {"rating_weight": 0.5}


def test_a_page_must_lie_inside_the_window_that_the_query_sets() -> None:
    assert WINDOW == 100
    assert SearchOptions(page=5, size=20).page == 5  # the last page the default window reaches
    with pytest.raises(ValidationError, match="page \\* size must not exceed 100"):
        SearchOptions(page=6, size=20)
    assert Query(page=10, size=20, window=200).page == 10
    with pytest.raises(ValidationError, match="page \\* size must not exceed 120"):
        Query(page=3, size=50, window=120)


def test_price_bounds_must_be_in_order() -> None:
    assert Filters(price_min=10, price_max=10).price_max == 10
    with pytest.raises(ValidationError, match="price_min must not exceed price_max"):
        Filters(price_min=10, price_max=5)


def test_weights_may_name_only_known_signals_within_0_to_100() -> None:
    with pytest.raises(ValidationError, match="weights name unknown signals colour; use image, text, text_image, keywords"):
        Query(weights={"image": 1.0, "colour": 1.0})
    with pytest.raises(ValidationError, match="each weight must be from 0 to 100"):
        Query(weights={"image": 101.0})
    assert Query(weights={"keywords": 0.0}).weights == {"keywords": 0.0}


def test_enums_are_stored_as_their_values() -> None:
    query = Query(sort=Sort.price_asc, fusion=Fusion.weighted)

    assert query.sort == "price_asc" and type(query.sort) is str
    assert query.fusion == "weighted" and type(query.fusion) is str
    assert Query(sort="newest").sort == "newest"
    assert Query().model_dump()["sort"] == "relevance"


def test_weights_left_out_stay_unset_so_the_shops_defaults_fill_them() -> None:
    assert Weights().given() == {}
    assert Weights(text_image=0).given() == {"text_image": 0.0}
    assert Query().weights == {} and Query().fusion is None
    first = Query()
    first.weights["image"] = 9.0
    assert Query().weights == {}  # each query gets its own dict


def test_a_query_knows_its_kind_from_what_it_holds() -> None:
    assert Query(text="red shoe").kind == QueryKind.text
    assert Query(image_vector=[1.0, 0.0]).kind == QueryKind.photo
    assert Query(image_vector=[1.0, 0.0], text="red").kind == QueryKind.photo_and_text
    assert Query(image_vector=[1.0, 0.0], text="").kind == QueryKind.photo


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError, match="colour"):
        Filters(colour="red")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="pages"):
        SearchOptions(pages=2)  # type: ignore[call-arg]


def test_filters_become_one_bool_clause_with_tags_in_lower_case() -> None:
    filters = Filters(
        category="Women > Shoes", brands=("Acme",), tags_any=("Red", "Blue"), tags_all=("Leather",), tags_none=("Used",),
        price_max=100, in_stock=True, rating_min=4, exclude_ids=("sku-1",),
    )

    assert filters.clause() == {
        "bool": {
            "filter": [
                {"term": {"category_path": "Women > Shoes"}},
                {"terms": {"brand": ["Acme"]}},
                {"terms": {"tags": ["red", "blue"]}},
                {"term": {"tags": "leather"}},
                {"range": {"price": {"lte": 100}}},
                {"term": {"in_stock": True}},
                {"range": {"rating": {"gte": 4}}},
            ],
            "must_not": [{"terms": {"tags": ["used"]}}, {"ids": {"values": ["sku-1"]}}],
        }
    }


def test_knn_parts_keep_exclusions_out_of_the_vector_search() -> None:
    inside, exclusions = Filters(brands=("Acme",), exclude_ids=("sku-1",)).knn_parts()
    assert inside == {"bool": {"filter": [{"terms": {"brand": ["Acme"]}}]}}
    assert exclusions == [{"ids": {"values": ["sku-1"]}}]

    assert Filters(exclude_ids=("sku-1",)).knn_parts() == (None, [{"ids": {"values": ["sku-1"]}}])
    assert Filters().knn_parts() == (None, [])


def test_options_are_what_a_query_can_be_built_from() -> None:
    options = SearchOptions(sort="rating", size=5, facets=True)

    query = Query(**options.options(), text="mug")

    assert set(options.options()) == set(SearchOptions.model_fields)
    assert (query.sort, query.size, query.facets, query.text) == ("rating", 5, True, "mug")
