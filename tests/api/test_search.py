"""The public routes (``api/search.py``) on the demo catalogue, through Flask's test client, against the real node and model."""

from __future__ import annotations

import base64
import io
import json
import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image

from api.app import create_app
from plugin.config import Config
from plugin.opensearch.client import connect
from plugin.opensearch.ranking_store import save_ranking
from plugin.search.ranking import KindWeights, RankingSettings
from plugin.timing import parse_header
from tests.support.api import titles, upload
from tests.support.images import degraded


@pytest.fixture(scope="module")
def api(shop_config: Config) -> FlaskClient:
    """The shop's API as it is served: the default configuration, the model warmed up."""
    return create_app(shop_config).test_client()


@pytest.mark.parametrize("title", ["Laptop", "Tennis Ball", "Wooden Side Desk", "Hi-Top Basketball Shoe"])
def test_a_degraded_photo_finds_its_product_first(api: FlaskClient, products: dict[str, dict[str, Any]], title: str) -> None:
    assert titles(upload(api, degraded(products[title]["images"][0])))[0] == title


def test_the_same_photo_as_base64_gives_the_same_answer_without_running_the_model_again(
    api: FlaskClient, products: dict[str, dict[str, Any]]
) -> None:
    data = degraded(products["Tripod"]["images"][0])
    embedder = api.application.extensions["lookalike"].embedder
    by_upload = titles(upload(api, data, size="5"))
    misses = embedder.misses

    by_base64 = titles(api.post("/search", json={"image_base64": base64.b64encode(data).decode(), "size": 5}))

    assert by_base64 == by_upload and by_upload[0] == "Tripod"
    assert embedder.misses == misses  # served from the query-embedding cache


def test_words_find_products_by_title_and_through_the_bridge_by_picture(api: FlaskClient) -> None:
    assert titles(api.post("/search", json={"text": "basketball shoe", "size": 3}))[0] == "Hi-Top Basketball Shoe"
    # Only the picture path: the bridge from words to photos, with keywords and text vectors off.
    by_picture = titles(api.post("/search", json={"text": "tennis ball", "size": 5, "weights": {"keywords": 0, "text": 0, "text_image": 1}}))
    assert "Tennis Ball" in by_picture


def test_words_the_catalogue_never_uses_or_misspells_still_find_the_product(api: FlaskClient) -> None:
    # No product says "couch": the text vector knows a sofa is one.
    assert set(titles(api.post("/search", json={"text": "couch", "size": 2}))) == {"Grey Fabric Sofa", "Leather Sofa"}
    assert titles(api.post("/search", json={"text": "tenis ball", "size": 1})) == ["Tennis Ball"]
    # A category's name finds the products filed under it, at any level of the path.
    shoes = {"Ultraboost Running Shoe", "Freerun Running Shoe", "Hi-Top Basketball Shoe", "Pureboost Running Shoe", "RunX Running Shoe", "Allstar Sneakers"}
    assert set(titles(api.post("/search", json={"text": "footwear", "size": 6}))) == shoes
    garden = api.post("/search", json={"text": "garden", "size": 10}).get_json()["hits"]
    assert {hit["category"].split(" > ")[0] for hit in garden} == {"Home & Garden"}  # the parent of Furniture and Plants


def test_filters_facets_and_sorting_agree_with_the_results(api: FlaskClient) -> None:
    body = {"text": "camera", "filters": {"category": "Electronics > Photo", "price_max": 600}, "sort": "price_asc", "size": 50, "facets": True}

    response = api.post("/search", json=body).get_json()

    hits = response["hits"]
    assert hits and all(h["category"].startswith("Electronics > Photo") and h["price"] <= 600 for h in hits)
    assert [h["price"] for h in hits] == sorted(h["price"] for h in hits)
    brand_counts: dict[str, int] = {}
    for hit in hits:
        if hit.get("brand"):
            brand_counts[hit["brand"]] = brand_counts.get(hit["brand"], 0) + 1
    assert {b["value"]: b["count"] for b in response["facets"]["brand"]} == brand_counts
    assert response["total"] == len(hits)


def test_pages_do_not_overlap_and_follow_one_order(api: FlaskClient) -> None:
    def page(number: int, size: int) -> list[str]:
        return titles(api.post("/search", json={"text": "chair", "page": number, "size": size}))

    assert page(1, 4) + page(2, 4) == page(1, 8)


def test_more_like_this_excludes_the_product_itself(api: FlaskClient) -> None:
    similar = titles(api.get("/products/road-bike/similar?size=5"))

    assert "Road Bike" not in similar and len(similar) == 5


def test_product_health_and_thumbnail_routes(api: FlaskClient) -> None:
    product = api.get("/products/laptop").get_json()
    assert product["title"] == "Laptop" and "vector" not in json.dumps(product)
    thumbnail = api.get(f"/thumbnails/{product['images'][0]['fingerprint']}")
    assert thumbnail.status_code == 200 and thumbnail.mimetype == "image/webp"
    assert Image.open(io.BytesIO(thumbnail.data)).format == "WEBP"
    health = api.get("/health").get_json()
    assert health["status"] == "ok" and health["opensearch"] in ("green", "yellow")


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"sort": "cheapest"}, 400, "sort"),
        ({"size": 500}, 400, "size"),
        ({"page": 30, "size": 10}, 400, "page"),
        ({"filters": {"price_min": 10, "price_max": 5}}, 400, "filters.price_min"),
        ({"filters": {"colour": "red"}}, 400, "filters.colour"),
        ({"image_base64": "***"}, 400, "image_base64"),
        ({"image_base64": base64.b64encode(b"%PDF-1.4 no photo").decode()}, 415, "image_base64"),
        ({"image_url": "http://127.0.0.1:9/photo.jpg"}, 400, "image_url"),
        ({"image_url": "file:///etc/passwd"}, 400, "image_url"),
        ({"product_id": "no-such-product"}, 404, "product_id"),
        ({"product_id": "laptop", "image_url": "https://shop.example/x.jpg"}, 400, "product_id"),
        ({"text": "tent", "ranking_version": 999}, 404, "ranking_version"),
        ({"text": "tent", "ranking_version": -1}, 400, "ranking_version"),
        ({"text": "tent", "fusion": "max"}, 400, "fusion"),
    ],
)
def test_bad_requests_get_a_precise_error(api: FlaskClient, body: dict[str, Any], status: int, field: str) -> None:
    response = api.post("/search", json=body)

    assert response.status_code == status
    assert response.get_json()["error"]["field"] == field


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/products/" + "a" * 10_000, "product_id"),  # OpenSearch ids are at most 512 bytes: once a 500
        ("/products/" + "a" * 10_000 + "/similar", "product_id"),
        ("/products/laptop/similar?size=²", "size"),  # str.isdigit() takes "²"; int() does not
        ("/products/laptop/similar?size=" + "1" * 5_000, "size"),  # int() refuses more than 4,300 digits
        ("/products/laptop/similar?size=0", "size"),
        ("/products/laptop/similar?size=+5", "size"),
        ("/thumbnails/" + "A" * 64, "fingerprint"),
        ("/thumbnails/" + "a" * 10_000, "fingerprint"),
    ],
)
def test_bad_path_and_query_parameters_get_a_400_naming_them(api: FlaskClient, path: str, field: str) -> None:
    response = api.get(path)

    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == field


def test_malformed_bodies_get_a_400_not_a_500_nor_an_empty_search(api: FlaskClient) -> None:
    deep = api.post("/search", data="[" * 100_000 + "]" * 100_000, content_type="application/json")
    no_boundary = api.post("/search", data=b"text=shoe", content_type="multipart/form-data")
    wrong_boundary = api.post("/search", data=b'--xx\r\nContent-Disposition: form-data; name="text"\r\n\r\nshoe', content_type="multipart/form-data; boundary=yy")
    nan = api.post("/search", data='{"text": "shoe", "profile": "popular", "profile_params": {"popularity_weight": NaN}}', content_type="application/json")

    assert [r.status_code for r in (deep, no_boundary, wrong_boundary, nan)] == [400] * 4
    assert [r.get_json()["error"]["code"] for r in (deep, no_boundary, wrong_boundary)] == ["invalid_json", "invalid_multipart", "invalid_multipart"]
    assert nan.get_json()["error"]["field"] == "profile_params.popularity_weight"


def test_no_public_answer_shows_where_the_server_keeps_its_files(api: FlaskClient, shop_config: Config) -> None:
    """The demo shop's photos are local files: shoppers get their thumbnails, never their paths."""
    image_root = str(shop_config.fetch.local_roots[0])
    answers = [
        api.post("/search", json={"text": "laptop", "size": 5}),
        api.post("/search", json={"size": 5}),  # browsing
        api.get("/products/laptop"),
        api.get("/products/laptop/similar?size=5"),
    ]

    for response in answers:
        assert response.status_code == 200
        text = response.get_data(as_text=True)
        assert image_root not in text and '"url"' not in text
    product = answers[2].get_json()
    assert product["images"][0]["fingerprint"] and product["thumbnails"] == [f"/thumbnails/{product['images'][0]['fingerprint']}"]


def test_a_saved_version_of_the_ranking_settings_can_be_searched_with_beside_the_defaults(api: FlaskClient, app_config: Config) -> None:
    client = connect(app_config)
    keywords_only = RankingSettings(text=KindWeights(keywords=1.0))
    saved = save_ranking(client, app_config, keywords_only, "test", {})
    try:
        body = {"text": "running shoe", "size": 3, "explain": True}
        tuned = api.post("/search", json={**body, "ranking_version": saved.version}).get_json()["hits"]
        defaults = api.post("/search", json={**body, "ranking_version": 0}).get_json()["hits"]
    finally:
        client.indices.delete(index=app_config.ranking_index)

    assert {name for hit in tuned for name in hit["explain"]["signals"]} == {"keywords"}
    assert {"keywords", "text"} <= {name for hit in defaults for name in hit["explain"]["signals"]}


def test_a_ranking_profile_is_chosen_per_request(api: FlaskClient) -> None:
    body = {"text": "shoe", "size": 5, "explain": True, "profile": "in_stock_first"}
    response = api.post("/search", json=body)

    assert response.status_code == 200
    assert response.get_json()["hits"][0]["explain"]["signals"]["profile"]["name"] == "in_stock_first"
    bad = api.post("/search", json={**body, "profile_params": {"margin": 2}})
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "profile_params"
    assert api.post("/search", json={**body, "profile": "cheapest"}).get_json()["error"]["field"] == "profile"


def stages(response: Any) -> list[str]:
    """The stages a response's ``Server-Timing`` header names, in order."""
    return list(parse_header(response.headers["Server-Timing"]))


def test_each_search_says_how_long_each_stage_took_in_a_server_timing_header(api: FlaskClient, products: dict[str, dict[str, Any]]) -> None:
    photo = upload(api, degraded(products["Laptop"]["images"][0]), size="3")
    words = api.post("/search", json={"text": "laptop", "size": 3})
    both = upload(api, degraded(products["Tripod"]["images"][0]), text="tripod", size="3")
    similar = api.get("/products/laptop/similar?size=3")

    # A photo is looked at for objects (detect: auto), its regions embedded, the products under a takedown read
    # (withheld from every search), and the region that found the first result named.
    assert stages(photo) == ["parse", "decode", "detect", "embed", "takedowns", "signals", "fusion", "page", "explain_region", "serialise", "total"]
    assert stages(words) == ["parse", "embed_text", "takedowns", "signals", "fusion", "page", "serialise", "total"]
    assert stages(both) == ["parse", "decode", "detect", "embed", "embed_text", "takedowns", "signals", "fusion", "page", "explain_region", "serialise", "total"]
    assert stages(similar) == ["product", "takedowns", "signals", "fusion", "page", "serialise", "total"]
    for response in (photo, words, both, similar):
        # The W3C form, which browsers' developer tools read: name;dur=milliseconds, comma-separated.
        assert all(re.fullmatch(r"[a-z_]+;dur=\d+\.\d{2}", entry) for entry in response.headers["Server-Timing"].split(", "))
        timings = parse_header(response.headers["Server-Timing"])
        assert sum(ms for name, ms in timings.items() if name != "total") <= timings["total"]


def test_facets_profiles_and_sorts_are_timed_only_when_asked_and_failures_are_timed_too(api: FlaskClient) -> None:
    plain = api.post("/search", json={"text": "shoe", "size": 3})
    asked = api.post("/search", json={"text": "shoe", "size": 3, "facets": True, "profile": "popular", "collapse_duplicates": True})
    refused = api.post("/search", json={"sort": "cheapest"})

    assert not {"facets", "profile", "collapse"} & set(stages(plain))
    assert stages(asked)[stages(asked).index("fusion") :] == ["fusion", "profile", "collapse", "page", "facets", "serialise", "total"]
    assert refused.status_code == 400 and stages(refused) == ["parse", "total"]
    assert "Server-Timing" not in api.get("/health").headers  # nothing was timed


def test_the_openapi_document_describes_what_is_validated(api: FlaskClient) -> None:
    document = api.get("/openapi.json").get_json()

    assert set(document["paths"]) == {
        "/search", "/products/{product_id}", "/products/{product_id}/similar", "/thumbnails/{fingerprint}", "/health", "/events",
        "/saved-searches", "/saved-searches/{search_id}", "/saved-searches/matches",
        "/products/{product_id}/recommendations", "/users/{user}/recommendations",
    }
    search_body = document["components"]["schemas"]["SearchBody"]
    assert search_body["additionalProperties"] is False
    assert {"text", "image_base64", "image_url", "product_id", "filters", "sort", "profile"} <= set(search_body["properties"])
    # The pages and the admin views are for browsers, /metrics for the operator's Prometheus: not part of the public JSON API.
    api_rules = [rule for rule in api.application.url_map.iter_rules() if rule.endpoint.split(".")[0] not in ("pages", "admin", "metrics")]
    routes = {rule.rule.replace("<", "{").replace(">", "}") for rule in api_rules}
    assert routes - {"/openapi.json"} == set(document["paths"])  # every route is documented, and nothing else


def test_an_index_of_another_model_is_refused_rather_than_searched(config: Config, client: Any) -> None:
    """Vectors of two models are not comparable: /health says so, and vector searches answer 503."""
    from plugin.opensearch.indices import create_product_index, swap_alias
    from tests.support.models import TINY_SPEC

    swap_alias(client, config.index_alias, create_product_index(client, config, TINY_SPEC))
    api = create_app(config).test_client()
    health = api.get("/health").get_json()
    assert health["status"] == "model_mismatch"
    assert "tiny-test-model v7" in health["problem"]
    response = api.post("/search", json={"text": "laptop"})
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "model_mismatch"
    assert "--new-index" in response.get_json()["error"]["message"]
