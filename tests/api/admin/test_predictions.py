"""A merchandiser accepts or rejects predicted categories and tags on the admin API, and a shop
that opts in filters and counts its search results by them."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from api.app import create_app
from plugin.config import Config
from plugin.opensearch.client import connect
from tests.support.api import KEY
from tests.support.catalogues import UNTAGGED, tagged_shop_config

HEADERS = {"X-API-Key": KEY}
FOOTWEAR = "Sports & Outdoor > Footwear"


@pytest.fixture(scope="module")
def shop(base_config: Config, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Config]:
    config = tagged_shop_config(dataclasses.replace(base_config, admin_key=KEY), tmp_path_factory.mktemp("predictions"))
    yield config
    connect(config).indices.delete(index=f"{config.index_alias}*", expand_wildcards="all", ignore_unavailable=True)


@pytest.fixture(scope="module")
def api(shop: Config) -> FlaskClient:
    return create_app(shop, warm=False).test_client()


@pytest.fixture(scope="module")
def opted_in(shop: Config) -> FlaskClient:
    return create_app(dataclasses.replace(shop, predicted_filters=True), warm=False).test_client()


def decide(api: FlaskClient, product_id: str, **body: str) -> object:
    return api.post(f"/admin/api/products/{product_id}/predictions", json={"operator": "Robin", **body}, headers=HEADERS)


def test_the_product_page_data_shows_what_is_predicted_and_what_searches_filter_by(api: FlaskClient) -> None:
    predicted = api.get(f"/admin/api/products/{UNTAGGED}", headers=HEADERS).get_json()["predicted"]

    assert predicted["category"] == FOOTWEAR and not predicted["category_agrees"]  # the shop gave it none
    assert predicted["stored"]["category"] == FOOTWEAR and predicted["stored"]["at"]


def test_rejecting_a_category_stores_the_next_at_once_and_undo_brings_it_back(api: FlaskClient) -> None:
    rejected = decide(api, UNTAGGED, kind="category", value=FOOTWEAR, decision="reject")
    undone = decide(api, UNTAGGED, kind="category", value=FOOTWEAR, decision="undo")

    assert rejected.status_code == 200, rejected.get_json()
    assert rejected.get_json()["rejected_categories"] == [FOOTWEAR]
    assert rejected.get_json()["stored"]["category"] != FOOTWEAR
    assert undone.get_json()["stored"]["category"] == FOOTWEAR and undone.get_json()["rejected_categories"] == []


def test_an_accepted_tag_is_kept_and_a_rejected_one_leaves(api: FlaskClient) -> None:
    # Tags are stored in lower case, as ingest stores the shop's.
    accepted = decide(api, "tablet", kind="tag", value=" Color:Silver ", decision="accept").get_json()
    rejected = decide(api, "tablet", kind="tag", value="color:silver", decision="reject").get_json()

    assert "color:silver" in accepted["stored"]["tags"] and accepted["accepted_tags"] == ["color:silver"]
    assert "color:silver" not in rejected["stored"]["tags"] and rejected["accepted_tags"] == [] and rejected["rejected_tags"] == ["color:silver"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "colour", "value": "x", "decision": "accept"}, "kind"),
        ({"kind": "tag", "value": "", "decision": "accept"}, "value"),
        ({"kind": "tag", "value": "   ", "decision": "accept"}, "value"),
        ({"kind": "tag", "value": "x", "decision": "maybe"}, "decision"),
        ({"kind": "tag", "value": "x", "decision": "accept", "operator": ""}, "operator"),
    ],
)
def test_a_malformed_decision_is_refused_naming_its_field(api: FlaskClient, body: dict[str, str], field: str) -> None:
    response = api.post(f"/admin/api/products/{UNTAGGED}/predictions", json={"operator": "Robin"} | body, headers=HEADERS)

    assert response.status_code == 400 and response.get_json()["error"]["field"] == field


def test_a_decision_on_an_unknown_product_is_a_404_and_needs_the_key(api: FlaskClient) -> None:
    assert decide(api, "no-such-product", kind="tag", value="x", decision="accept").status_code == 404
    assert api.post(f"/admin/api/products/{UNTAGGED}/predictions", json={"kind": "tag", "value": "x", "decision": "accept", "operator": "R"}).status_code == 401


def test_searches_filter_by_predictions_only_where_the_shop_opts_in(api: FlaskClient, opted_in: FlaskClient) -> None:
    body = {"text": "running shoe", "filters": {"predicted_category": FOOTWEAR}, "facets": True}

    refused = api.post("/search", json=body)
    answered = opted_in.post("/search", json=body).get_json()

    assert refused.status_code == 400
    assert refused.get_json()["error"] == refused.get_json()["error"] | {"code": "predictions_off", "field": "filters.predicted_category"}
    ids = [hit["product_id"] for hit in answered["hits"]]
    assert UNTAGGED in ids and "laptop" not in ids and "aloe-vera" not in ids
    assert answered["facets"]["predicted_category"] == [{"value": FOOTWEAR, "count": len(ids)}]
    assert "predicted_category" not in api.post("/search", json={"text": "shoe", "facets": True}).get_json()["facets"]
