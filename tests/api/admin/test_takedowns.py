"""A photo taken down as infringing withholds its product from every search at once; undo restores it; both are logged."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from api.app import create_app
from ingest import runner
from plugin.config import Config
from plugin.opensearch.client import connect
from sample_data.vendure import prepare_vendure
from tests.support.api import KEY, log_in, page_token

HEADERS = {"X-API-Key": KEY}
TITLES = ("Laptop", "Tablet", "Wireless Optical Mouse", "Tent")


@pytest.fixture(scope="module")
def shop(base_config: Config, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Config, dict[str, dict[str, Any]]]]:
    """Four demo products under an alias of this module's own: takedowns change what every search sees."""
    source = prepare_vendure(base_config.data_dir)
    rows = [row for row in map(json.loads, source.read_text(encoding="utf-8").splitlines()) if row["title"] in TITLES]
    catalogue = tmp_path_factory.mktemp("takedowns") / "catalogue.jsonl"
    catalogue.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    config = dataclasses.replace(
        base_config,
        index_alias=f"test-takedowns-{uuid.uuid4().hex[:8]}",
        admin_key=KEY,
        fetch=dataclasses.replace(base_config.fetch, local_roots=(source.parent / "images",)),
    )
    client = connect(config)
    runner.run_catalogue(client, config, catalogue, eager=True)
    yield config, {row["title"]: row for row in rows}
    client.indices.delete(index=f"{config.index_alias}*", expand_wildcards="all", ignore_unavailable=True)


@pytest.fixture
def api(shop: tuple[Config, dict[str, dict[str, Any]]]) -> FlaskClient:
    return create_app(shop[0], warm=False).test_client()


def _search_ids(api: FlaskClient, text: str) -> list[str]:
    response = api.post("/search", json={"text": text, "size": 10})
    assert response.status_code == 200, response.get_json()
    return [hit["product_id"] for hit in response.get_json()["hits"]]


def _take_down(api: FlaskClient, product: dict[str, Any], **overrides: str) -> Any:
    body = {"product_id": product["id"], "image": product["images"][0], "reason": "photo copied from studio X", "operator": "Ana"} | overrides
    return api.post("/admin/api/takedowns", json=body, headers=HEADERS)


def test_a_taken_down_product_leaves_search_at_once_and_returns_on_undo(api: FlaskClient, shop: tuple[Config, dict[str, dict[str, Any]]]) -> None:
    laptop = shop[1]["Laptop"]
    assert laptop["id"] in _search_ids(api, "laptop")

    taken = _take_down(api, laptop)

    assert taken.status_code == 201, taken.get_json()
    record = taken.get_json()
    assert record["active"] is True and record["by"] == "Ana (admin key)"
    assert laptop["id"] not in _search_ids(api, "laptop")  # no wait, no refresh: at once
    gone = api.get(f"/products/{laptop['id']}")
    assert gone.status_code == 410 and gone.get_json()["error"]["code"] == "taken_down"
    by_photo = api.post("/search", json={"product_id": laptop["id"]})
    assert by_photo.status_code == 410
    thumbnail = api.get(f"/thumbnails/{record['image_fingerprint']}")
    assert thumbnail.status_code == 410 and thumbnail.get_json()["error"]["code"] == "taken_down"
    assert laptop["id"] not in [hit["product_id"] for hit in api.post("/search", json={"size": 10, "sort": "price_asc"}).get_json()["hits"]]
    assert api.get(f"/admin/api/products/{laptop['id']}", headers=HEADERS).status_code == 200  # the admin still sees it

    undone = api.post(f"/admin/api/takedowns/{record['takedown_id']}/undo", json={"reason": "licence shown", "operator": "Ben"}, headers=HEADERS)

    assert undone.status_code == 200, undone.get_json()
    assert laptop["id"] in _search_ids(api, "laptop")
    assert api.get(f"/products/{laptop['id']}").status_code == 200
    assert api.get(f"/thumbnails/{record['image_fingerprint']}").status_code == 200
    log = api.get("/admin/api/takedowns", headers=HEADERS).get_json()
    assert [(e["action"], e["by"], e["reason"]) for e in log["log"] if e["product_id"] == laptop["id"]] == [
        ("restore", "Ben (admin key)", "licence shown"),
        ("takedown", "Ana (admin key)", "photo copied from studio X"),
    ]
    assert log["active"] == []


def test_undoing_twice_or_an_unknown_takedown_is_a_404(api: FlaskClient, shop: tuple[Config, dict[str, dict[str, Any]]]) -> None:
    record = _take_down(api, shop[1]["Tablet"]).get_json()
    undo = {"reason": "mistake", "operator": "Ana"}
    assert api.post(f"/admin/api/takedowns/{record['takedown_id']}/undo", json=undo, headers=HEADERS).status_code == 200

    again = api.post(f"/admin/api/takedowns/{record['takedown_id']}/undo", json=undo, headers=HEADERS)

    assert again.status_code == 404 and again.get_json()["error"]["code"] == "takedown_not_found"
    assert api.post("/admin/api/takedowns/nope/undo", json=undo, headers=HEADERS).status_code == 404


@pytest.mark.parametrize(
    ("overrides", "status", "field"),
    [
        ({"reason": ""}, 400, "reason"),
        ({"operator": ""}, 400, "operator"),
        ({"product_id": "x" * 600}, 400, "product_id"),
        ({"product_id": "no-such-product"}, 404, None),
        ({"image": "https://elsewhere.example/not-its-photo.jpg"}, 422, None),
    ],
)
def test_a_takedown_naming_nothing_real_is_refused_clearly(
    api: FlaskClient, shop: tuple[Config, dict[str, dict[str, Any]]], overrides: dict[str, str], status: int, field: str | None
) -> None:
    response = _take_down(api, shop[1]["Tent"], **overrides)

    assert response.status_code == status, response.get_json()
    if field:
        assert response.get_json()["error"]["field"] == field
    assert shop[1]["Tent"]["id"] in _search_ids(api, "tent")


def test_takedowns_need_the_admin_key(api: FlaskClient, shop: tuple[Config, dict[str, dict[str, Any]]]) -> None:
    body = {"product_id": shop[1]["Laptop"]["id"], "image": shop[1]["Laptop"]["images"][0], "reason": "r", "operator": "o"}
    assert api.post("/admin/api/takedowns", json=body).status_code == 401
    assert api.get("/admin/api/takedowns").status_code == 401


def test_the_takedowns_page_lists_withheld_products_and_the_product_page_offers_the_form(
    api: FlaskClient, shop: tuple[Config, dict[str, dict[str, Any]]]
) -> None:
    mouse = shop[1]["Wireless Optical Mouse"]
    log_in(api)
    product_page = api.get(f"/admin/catalogue/{mouse['id']}")
    assert 'class="take-down"' in product_page.get_data(as_text=True)
    token = page_token(product_page)
    taken = api.post(
        "/admin/api/takedowns",
        json={"product_id": mouse["id"], "image": mouse["images"][0], "reason": "stock photo", "operator": "Cy"},
        headers={"X-CSRF-Token": token},
    )
    assert taken.status_code == 201 and taken.get_json()["by"] == "Cy (admin session)"

    page = api.get("/admin/takedowns").get_data(as_text=True)

    assert mouse["id"] in page and "stock photo" in page and "Cy (admin session)" in page
    assert "Withheld from search" in api.get(f"/admin/catalogue/{mouse['id']}").get_data(as_text=True)
