"""``GET /products/<id>/recommendations`` and ``GET /users/<id>/recommendations``, and searches ranked by a shopper's taste."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from plugin.config import Config
from plugin.opensearch.client import connect
from plugin.recommend.cooccurrence import (
    events_pattern,
    related_index,
    sessions_index,
    update_related,
)


@pytest.fixture(scope="module")
def seen_together(api: FlaskClient, shop_config: Config, products: dict[str, dict[str, Any]]) -> Iterator[dict[str, str]]:
    """Three shoppers who looked at the hard drive and then the cactus (none at anything alike), folded in;
    the shop's events, counts and sessions are deleted afterwards."""
    ids = {"drive": products["Hard Drive"]["id"], "cactus": products["Spiky Cactus"]["id"]}
    now = dt.datetime.now(dt.timezone.utc)
    events = [
        {"type": "view", "user": f"shopper-{n}", "session": f"visit-{n}", "product_id": ids[name], "at": (now - dt.timedelta(minutes=2 - step)).isoformat()}
        for n in range(3)
        for step, name in enumerate(("drive", "cactus"))
    ]
    assert api.post("/events", json={"events": events}).status_code == 202
    client = connect(shop_config)
    update_related(client, shop_config)
    yield ids
    for index in (events_pattern(shop_config.index_alias), related_index(shop_config.index_alias), sessions_index(shop_config.index_alias)):
        client.indices.delete(index=index, ignore_unavailable=True, expand_wildcards="all")


def test_a_product_is_recommended_what_shoppers_saw_with_it_then_its_look_alikes(api: FlaskClient, seen_together: dict[str, str]) -> None:
    answer = api.get(f"/products/{seen_together['drive']}/recommendations?size=4")

    assert answer.status_code == 200
    found = answer.get_json()["recommendations"]
    assert len(found) == 4
    assert found[0]["product_id"] == seen_together["cactus"]
    assert found[0]["reason"] == {"kind": "viewed_together", "with": seen_together["drive"], "sessions": 3}
    assert found[0]["thumbnails"] and found[0]["title"] == "Spiky Cactus"  # ready to show, as a search hit is
    assert {hit["reason"]["kind"] for hit in found[1:]} == {"looks_like"}
    assert seen_together["drive"] not in {hit["product_id"] for hit in found}


def test_a_shopper_is_recommended_from_their_events(api: FlaskClient, shop_config: Config, seen_together: dict[str, str]) -> None:
    now = dt.datetime.now(dt.timezone.utc).isoformat()
    assert api.post("/events", json={"events": [{"type": "view", "user": "newcomer", "product_id": seen_together["drive"], "at": now}]}).status_code == 202
    connect(shop_config).indices.refresh(index=events_pattern(shop_config.index_alias))

    found = api.get("/users/newcomer/recommendations?size=3").get_json()["recommendations"]
    strangers = api.get("/users/never-seen/recommendations?size=2").get_json()["recommendations"]

    assert found[0]["product_id"] == seen_together["cactus"] and seen_together["drive"] not in {hit["product_id"] for hit in found}
    assert [hit["reason"]["kind"] for hit in strangers] == ["popular", "popular"]  # no history: what is popular


def test_a_shoppers_id_in_a_failed_requests_path_stays_out_of_the_log(api: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="api.logs"):
        api.get("/users/s-4f1c9e/recommendations?size=0")

    assert "s-4f1c9e" not in caplog.text and "/users/…/recommendations 400" in caplog.text


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        ("/products/no-such-product/recommendations", 404, None),
        ("/products/{drive}/recommendations?size=0", 400, "size"),
        ("/products/{drive}/recommendations?size=51", 400, "size"),
        ("/products/{drive}/recommendations?size=ten", 400, "size"),
        ("/users/ana@example.com/recommendations", 400, "user"),
        ("/users/{long}/recommendations", 400, "user"),
    ],
)
def test_a_bad_recommendation_request_is_a_clear_4xx(api: FlaskClient, seen_together: dict[str, str], path: str, status: int, field: str | None) -> None:
    answer = api.get(path.format(drive=seen_together["drive"], long="x" * 129))

    assert answer.status_code == status
    if field:
        assert answer.get_json()["error"]["field"] == field


def test_a_search_ranked_by_the_personal_profile_names_the_shopper_or_is_refused(api: FlaskClient, seen_together: dict[str, str]) -> None:
    refused = api.post("/search", json={"text": "plant", "profile": "personal"})
    bad_id = api.post("/search", json={"text": "plant", "profile": "personal", "shopper": "ana@example.com"})
    answer = api.post("/search", json={"text": "plant", "profile": "personal", "shopper": "shopper-0", "explain": True})

    assert refused.status_code == 400 and refused.get_json()["error"]["field"] == "shopper"
    assert bad_id.status_code == 400 and bad_id.get_json()["error"]["field"] == "shopper"
    assert answer.status_code == 200
    profile = answer.get_json()["hits"][0]["explain"]["signals"]["profile"]
    assert profile["name"] == "personal" and 0 <= profile["personal"] <= 1
