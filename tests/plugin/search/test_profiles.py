"""Ranking profiles: their parameters, their stored scripts, and rescoring on the real node."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest
from opensearchpy import OpenSearch

from plugin.config import Config
from plugin.opensearch.events import write_events
from plugin.recommend.cooccurrence import update_related
from plugin.search.profiles import (
    PROFILES,
    SCRIPT_PREFIX,
    rescore,
    store_profiles,
    unknown_params,
)
from plugin.search.request import Query
from plugin.search.service import search


def ids(result: Any) -> list[str]:
    return [hit["product_id"] for hit in result.hits]


def test_a_ranking_profile_reorders_by_the_shops_rule(client: OpenSearch, shop: str) -> None:
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


def test_unknown_params_names_what_the_profile_does_not_take_sorted() -> None:
    assert unknown_params("popular", {"rating_weight": 1.0, "zeal": 2.0, "colour": 3.0}) == ["colour", "zeal"]
    assert unknown_params("popular", {"popularity_weight": 1.0}) == []
    assert unknown_params("in_stock_first", None) == []
    assert unknown_params(None, {"rating_weight": 1.0}) == ["rating_weight"]  # without a profile nothing is known
    assert unknown_params("no-such-profile", {"x": 1.0}) == ["x"]


def test_every_profile_is_stored_as_a_painless_script_and_storing_again_is_harmless(client: OpenSearch) -> None:
    store_profiles(client)
    store_profiles(client)

    for name, profile in PROFILES.items():
        stored = client.get_script(id=SCRIPT_PREFIX + name)["script"]
        assert stored["lang"] == "painless" and stored["source"] == profile.source


def test_rescore_multiplies_the_fused_scores_by_the_profiles_factor(client: OpenSearch, shop: str) -> None:
    store_profiles(client)
    fused = {"green-scarf": 0.5, "grey-sock": 0.5, "red-bag": 0.25}

    scored = dict(rescore(client, shop, PROFILES["popular"], fused, {"rating_weight": 0.0}))

    # The default popularity weight (0.1) stays; popularity 70, 90 and 5.
    assert scored == pytest.approx(
        {"green-scarf": 0.5 * (1 + 0.1 * math.log1p(70)), "grey-sock": 0.5 * (1 + 0.1 * math.log1p(90)),
         "red-bag": 0.25 * (1 + 0.1 * math.log1p(5))},
        rel=1e-5,
    )


def test_rescore_ranks_best_first_and_breaks_ties_by_id(client: OpenSearch, shop: str) -> None:
    store_profiles(client)
    fused = {"red-sneaker": 1.0, "blue-sneaker": 1.0, "red-boot": 1.0}

    ranked = rescore(client, shop, PROFILES["in_stock_first"], fused, {"out_of_stock_factor": 0.5})

    assert ranked == [("red-boot", pytest.approx(1.0)), ("red-sneaker", pytest.approx(1.0)), ("blue-sneaker", pytest.approx(0.5))]


def test_rescore_refuses_a_parameter_the_profile_does_not_take_and_needs_no_request_for_nothing(client: OpenSearch, shop: str) -> None:
    with pytest.raises(ValueError, match="profile popular has no parameter out_of_stock_factor"):
        rescore(client, shop, PROFILES["popular"], {"red-bag": 1.0}, {"out_of_stock_factor": 0.0})
    assert rescore(client, "no-such-index", PROFILES["popular"], {}) == []


def test_the_personal_profile_raises_what_is_close_to_the_shoppers_recent_views(client: OpenSearch, config: Config, shop: str) -> None:
    store_profiles(client)
    now = dt.datetime.now(dt.timezone.utc)
    write_events(client, config, [
        {"type": "view", "user": "ana", "product_id": "green-scarf", "at": now - dt.timedelta(minutes=2)},
        {"type": "click", "user": "ana", "product_id": "grey-sock", "at": now - dt.timedelta(minutes=1)},
    ])
    client.indices.refresh(index=f"{config.index_alias}-events-*")
    # A photo of something red, ranked by rank alone (rrf): every product is a candidate, a few per cent apart.
    photo = {"image_vector": [0.8, 0.5, 0, 0], "weights": {"image": 1.0}, "fusion": "rrf", "explain": True}

    plain = search(client, shop, Query(**photo))
    # Taste by look alone, as far as a tenth of the best relevance.
    look = {"personal_weight": 0.1, "category_weight": 0.0}
    mine = search(client, shop, Query(**photo, profile="personal", shopper="ana", profile_params=look | {"keep_best": 0}))
    kept = search(client, shop, Query(**photo, profile="personal", shopper="ana", profile_params=look))
    stranger = search(client, shop, Query(**photo, profile="personal", shopper="nobody"))

    assert set(ids(mine)[:2]) == {"green-scarf", "grey-sock"}
    assert set(ids(plain)[:2]) != {"green-scarf", "grey-sock"}
    profile = mine.hits[0]["explain"]["signals"]["profile"]
    assert profile["name"] == "personal" and profile["personal"] > 0.9
    # Taste adds up to a tenth of the best relevance: enough to reorder look-alikes a few per cent apart.
    plain_score = {hit["product_id"]: hit["score"] for hit in plain.hits}
    top = max(plain_score.values())
    assert mine.hits[0]["score"] == pytest.approx(plain_score[ids(mine)[0]] + 0.1 * top * profile["personal"], rel=1e-4)
    # By default the best match keeps its place, wholly to taste, and taste orders the rest.
    assert ids(kept)[0] == ids(plain)[0] and set(ids(kept)[1:3]) == {"green-scarf", "grey-sock"}
    assert kept.hits[0]["explain"]["signals"]["profile"]["kept_best"] is True and "kept_best" not in kept.hits[1]["explain"]["signals"]["profile"]
    assert kept.hits[0]["score"] == pytest.approx(top * 1.1, rel=1e-4)
    # No history, no push: the plain order and scores, and no product marked as kept.
    assert ids(stranger) == ids(plain)
    assert [h["score"] for h in stranger.hits] == pytest.approx([h["score"] for h in plain.hits])
    assert "kept_best" not in stranger.hits[0]["explain"]["signals"]["profile"]


def test_the_personal_profile_needs_a_shopper() -> None:
    with pytest.raises(ValueError, match="needs the shopper"):
        Query(text="red", profile="personal")


def test_the_popular_profile_counts_shopper_events_beside_the_shops_popularity(client: OpenSearch, config: Config, shop: str) -> None:
    store_profiles(client)
    now = dt.datetime.now(dt.timezone.utc)
    # The green scarf's shop popularity is 70, the grey sock's 90: 30 purchases (8 each) put the scarf ahead.
    write_events(client, config, [{"type": "purchase", "user": f"s-{n}", "product_id": "green-scarf", "at": now} for n in range(30)])
    update_related(client, config)

    popular = search(client, shop, Query(text="wool", weights={"keywords": 1.0}, profile="popular", explain=True,
                                         profile_params={"popularity_weight": 5.0, "rating_weight": 0.0}))

    assert ids(popular)[0] == "green-scarf"
    shown = popular.hits[0]["explain"]["signals"]["profile"]
    assert shown["events"] == pytest.approx(240, rel=1e-3)
    assert shown["factor"] == pytest.approx(1 + 5.0 * math.log1p(70 + 240), rel=1e-3)
