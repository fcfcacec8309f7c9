"""Saved searches: a shopper's photo or words are kept, and when an ingest run makes a new or
changed product that matches one searchable, the shopper's page is told over server-sent events."""

from __future__ import annotations

import dataclasses
import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from opensearchpy import helpers
from PIL import Image

from api.app import create_app
from ingest import runner
from plugin.config import Config
from plugin.opensearch.client import connect
from plugin.opensearch.takedowns import take_down
from sample_data.vendure import prepare_vendure

FIRST = ("Laptop", "Tent", "Orchid")


@pytest.fixture(scope="module")
def demo_rows(base_config: Config) -> dict[str, dict[str, Any]]:
    source = prepare_vendure(base_config.data_dir)
    return {row["title"]: row for row in map(json.loads, source.read_text(encoding="utf-8").splitlines())}


@pytest.fixture
def shop(base_config: Config, demo_rows: dict[str, dict[str, Any]], tmp_path: Path) -> Iterator[Config]:
    """A shop of three demo products, on an alias of its own."""
    images = Path(demo_rows["Laptop"]["images"][0]).parent
    config = dataclasses.replace(
        base_config,
        index_alias=f"test-saved-{uuid.uuid4().hex[:8]}",
        cors_origins=("https://shop.example",),
        fetch=dataclasses.replace(base_config.fetch, local_roots=(images,)),
    )
    runner.run_catalogue(connect(config), config, _catalogue(tmp_path, "first", [demo_rows[t] for t in FIRST]), eager=True)
    yield config
    connect(config).indices.delete(index=f"{config.index_alias}*", expand_wildcards="all", ignore_unavailable=True)


@pytest.fixture
def api(shop: Config) -> FlaskClient:
    return create_app(shop, warm=False).test_client()


def _catalogue(folder: Path, name: str, rows: list[dict[str, Any]]) -> Path:
    path = folder / f"{name}.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _matches(api: FlaskClient, shopper: str, after: str | None = None) -> list[dict[str, Any]]:
    """The match events of one answer of the stream, parsed as a browser's EventSource would."""
    answer = api.get(f"/saved-searches/matches?shopper={shopper}", headers={"Last-Event-ID": after} if after else {})
    assert answer.status_code == 200 and answer.mimetype == "text/event-stream"
    assert answer.get_data(as_text=True).startswith("retry: 1000\n\n")
    events = [block for block in answer.get_data(as_text=True).split("\n\n") if block.startswith("id: ")]
    out = []
    for block in events:
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        assert fields["event"] == "match"
        out.append(json.loads(fields["data"]) | {"event_id": fields["id"]})
    return out


def _save_photo(api: FlaskClient, shopper: str, path: str) -> dict[str, Any]:
    data = io.BytesIO()
    Image.open(path).convert("RGB").save(data, format="JPEG", quality=85)
    answer = api.post("/saved-searches", data={"shopper": shopper, "image": (io.BytesIO(data.getvalue()), "photo.jpg")}, content_type="multipart/form-data")
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def test_a_new_product_matching_a_saved_photo_or_words_is_told_to_that_shopper_only(
    api: FlaskClient, shop: Config, demo_rows: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    bike = demo_rows["Road Bike"]
    by_photo = _save_photo(api, "s-photo", bike["images"][0])
    by_words = api.post("/saved-searches", json={"shopper": "s-words", "text": "running shoe"}).get_json()
    api.post("/saved-searches", json={"shopper": "s-other", "text": "orchid in a pot"})
    assert _matches(api, "s-photo") == [] and by_photo["photo"] is True and by_words["text"] == "running shoe"

    runner.run_catalogue(connect(shop), shop, _catalogue(tmp_path, "new", [bike, demo_rows["Ultraboost Running Shoe"]]), eager=True)

    photo_matches, word_matches = _matches(api, "s-photo"), _matches(api, "s-words")
    assert [(m["product_id"], m["search_id"]) for m in photo_matches] == [(bike["id"], by_photo["search_id"])]
    assert photo_matches[0]["similarity"] >= 0.85 and photo_matches[0]["title"] == "Road Bike"
    assert [m["product_id"] for m in word_matches] == [demo_rows["Ultraboost Running Shoe"]["id"]]
    assert _matches(api, "s-other") == []  # the orchid was there before: not news
    # The page sends the id of the last event it holds; nothing after it yet.
    assert _matches(api, "s-photo", after=photo_matches[-1]["event_id"]) == []


def test_products_ingested_again_unchanged_are_not_news(api: FlaskClient, shop: Config, demo_rows: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    api.post("/saved-searches", json={"shopper": "s-1", "text": "tent for camping"})

    runner.run_catalogue(connect(shop), shop, _catalogue(tmp_path, "again", [demo_rows[t] for t in FIRST]), eager=True)

    assert _matches(api, "s-1") == []


def test_a_shopper_lists_and_forgets_their_saved_searches_and_no_one_elses(api: FlaskClient) -> None:
    first = api.post("/saved-searches", json={"shopper": "s-a", "text": "red chair", "min_similarity": 0.6}).get_json()
    api.post("/saved-searches", json={"shopper": "s-b", "text": "blue lamp"})

    listed = api.get("/saved-searches?shopper=s-a").get_json()["saved_searches"]
    assert [(s["search_id"], s["text"], s["min_similarity"]) for s in listed] == [(first["search_id"], "red chair", 0.6)]
    assert "text_vector" not in listed[0]
    assert api.delete(f"/saved-searches/{first['search_id']}?shopper=s-b").status_code == 404
    assert api.delete(f"/saved-searches/{first['search_id']}?shopper=s-a").status_code == 204
    assert api.get("/saved-searches?shopper=s-a").get_json()["saved_searches"] == []
    assert api.delete(f"/saved-searches/{first['search_id']}?shopper=s-a").status_code == 404


@pytest.mark.parametrize(
    ("request_args", "field"),
    [
        ({"json": {"text": "lamp"}}, "shopper"),
        ({"json": {"shopper": "has space", "text": "lamp"}}, "shopper"),
        ({"json": {"shopper": "s-1"}}, "text"),
        ({"json": {"shopper": "s-1", "text": "lamp", "min_similarity": 2}}, "min_similarity"),
        ({"json": {"shopper": "s-1", "text": "x" * 501}}, "text"),
        ({"json": {"shopper": "s-1", "image_base64": "%%%"}}, "image_base64"),
        ({"data": {"shopper": "s-1", "text": "lamp", "min_similarity": "high"}, "content_type": "multipart/form-data"}, "min_similarity"),
        ({"data": {"text": "lamp"}, "content_type": "multipart/form-data"}, "shopper"),
    ],
)
def test_a_bad_save_is_refused_with_the_field_at_fault(api: FlaskClient, request_args: dict[str, Any], field: str) -> None:
    answer = api.post("/saved-searches", **request_args)

    assert answer.status_code == 400 and answer.get_json()["error"]["field"] == field


def test_a_corrupt_photo_or_a_bad_stream_position_is_a_clear_4xx(api: FlaskClient) -> None:
    corrupt = api.post("/saved-searches", data={"shopper": "s-1", "image": (io.BytesIO(b"\xff\xd8 not a jpeg"), "x.jpg")}, content_type="multipart/form-data")
    assert corrupt.status_code in (415, 422) and "error" in corrupt.get_json()
    assert api.get("/saved-searches/matches?shopper=s-1&after=abc").status_code == 400
    assert api.get("/saved-searches/matches?shopper=s-1&after=%C2%B2").status_code == 400  # a digit to str.isdigit, not to int
    assert api.get(f"/saved-searches/matches?shopper=s-1&after={'9' * 20}").status_code == 400  # past a long
    assert api.get("/saved-searches/matches").status_code == 400
    assert api.get("/saved-searches?shopper=").status_code == 400


def test_the_shops_page_on_another_origin_may_save_listen_and_forget(api: FlaskClient) -> None:
    answer = api.post("/saved-searches", json={"shopper": "s-1", "text": "lamp"}, headers={"Origin": "https://shop.example"})
    preflight = api.options(f"/saved-searches/{answer.get_json()['search_id']}", headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "DELETE"})

    assert answer.status_code == 201 and answer.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "DELETE" in preflight.headers["Access-Control-Allow-Methods"]


def test_a_shopper_keeps_at_most_fifty_saved_searches(api: FlaskClient, shop: Config) -> None:
    first = api.post("/saved-searches", json={"shopper": "s-many", "text": "lamp 0"}).get_json()
    index = f"{shop.index_alias}-saved-searches"
    stored = connect(shop).get(index=index, id=first["search_id"])["_source"]
    # 49 more written straight to the index: saving waits for a refresh, a second each.
    helpers.bulk(connect(shop), ({"_index": index, "_id": f"many-{n}", "_source": stored | {"search_id": f"many-{n}"}} for n in range(49)), refresh=True)

    refused = api.post("/saved-searches", json={"shopper": "s-many", "text": "one more lamp"})

    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "saved_search_limit"


def test_a_taken_down_product_or_a_search_saved_under_another_model_is_told_to_no_one(
    api: FlaskClient, shop: Config, demo_rows: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    client = connect(shop)
    shoe = demo_rows["Ultraboost Running Shoe"]
    api.post("/saved-searches", json={"shopper": "s-shoe", "text": "running shoe"})
    old = api.post("/saved-searches", json={"shopper": "s-old-model", "text": "running shoe"}).get_json()
    client.update(index=f"{shop.index_alias}-saved-searches", id=old["search_id"], body={"doc": {"model": "another-model:1"}}, refresh=True)
    runner.run_catalogue(client, shop, _catalogue(tmp_path, "shoe", [shoe]), eager=True)
    take_down(client, shop, shoe["id"], shoe["images"][0], "a copied photo", "tester")
    api.post("/saved-searches", json={"shopper": "s-late", "text": "running shoe"})
    changed = dict(shoe, title="Ultraboost Running Shoe 2")

    runner.run_catalogue(client, shop, _catalogue(tmp_path, "changed", [changed]), eager=True)

    assert [m["product_id"] for m in _matches(api, "s-shoe")] == [shoe["id"]]  # told before the takedown
    assert _matches(api, "s-late") == [] and _matches(api, "s-old-model") == []
