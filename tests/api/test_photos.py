"""A request's photo (``api/photos.py``): size and format faults, the crop box, base64 and URL sources."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image

from api.errors import ApiError
from api.photos import (
    MAX_PHOTO_BYTES,
    MIN_CROP_PIXELS,
    crop_region,
    from_base64,
    from_url,
    query_policy,
)
from plugin.models.registry import usable_cores
from tests.support.api import upload
from tests.support.images import degraded


def test_photo_faults_get_413_415_and_422(api: FlaskClient, products: dict[str, dict[str, Any]]) -> None:
    good = Path(products["Laptop"]["images"][0]).read_bytes()

    assert upload(api, good[:2000]).status_code == 422  # cut off: undecodable
    assert upload(api, b"just text, not a photo").status_code == 415
    too_big = upload(api, b"\xff" * (MAX_PHOTO_BYTES + 1))
    assert too_big.status_code == 413 and too_big.get_json()["error"]["field"] == "image"
    assert api.post("/search", data=b"{not json", content_type="application/json").status_code == 400
    assert api.get("/products/no-such-product").status_code == 404


@pytest.mark.parametrize(
    ("crop", "status"),
    [("0.1,0.1,0.9", 400), ("0.5,0.5,0.2,0.9", 400), ("0,0,1.5,1", 400), ("a,b,c,d", 400), ("0.1,0.1,0.12,0.9", 400), ("0,0,1,1", 200), ("0.5,0,1,1", 200)],
)
def test_a_crop_box_is_validated(api: FlaskClient, products: dict[str, dict[str, Any]], crop: str, status: int) -> None:
    response = upload(api, degraded(products["Tent"]["images"][0]), crop=crop, size="3")

    assert response.status_code == status
    if status == 400:
        assert response.get_json()["error"]["field"] == "crop"


def test_a_crop_box_needs_a_photo_and_changes_what_is_searched(api: FlaskClient, products: dict[str, dict[str, Any]]) -> None:
    for body in ({"text": "tent", "crop": [0, 0, 0.5, 0.5]}, {"product_id": "laptop", "crop": [0, 0, 0.5, 0.5]}):
        response = api.post("/search", json=body)
        assert response.status_code == 400 and response.get_json()["error"]["field"] == "crop"
    photo = degraded(products["Tent"]["images"][0])
    whole = upload(api, photo, explain="true", size="1").get_json()["hits"][0]["explain"]["signals"]["image"]["score"]
    corner = upload(api, photo, crop="0,0,0.3,0.3", explain="true", size="1").get_json()["hits"][0]["explain"]["signals"]["image"]["score"]
    assert whole != corner


def test_a_crop_box_is_cut_in_fractions_of_the_photo() -> None:
    photo = Image.new("RGB", (200, 100), "white")
    photo.paste((255, 0, 0), (100, 0, 200, 100))  # the right half is red

    right = crop_region(photo, [0.5, 0.0, 1.0, 1.0])

    assert right.size == (100, 100) and right.getpixel((0, 0)) == (255, 0, 0)
    assert crop_region(photo, None) is photo


def test_a_box_that_leaves_too_few_pixels_is_refused() -> None:
    photo = Image.new("RGB", (200, 100))
    side = (MIN_CROP_PIXELS - 1) / 100  # one pixel short of the minimum height

    with pytest.raises(ApiError) as refused:
        crop_region(photo, [0.0, 0.0, 1.0, side])

    assert (refused.value.status, refused.value.reason, refused.value.field) == (422, "image_too_small", "crop")


def test_base64_photos_may_come_as_data_urls() -> None:
    data = b"\x89PNG some bytes"
    encoded = base64.b64encode(data).decode()

    assert from_base64(encoded) == data
    assert from_base64(f"data:image/png;base64,{encoded}") == data
    with pytest.raises(ApiError) as refused:
        from_base64("not base64 at all!")
    assert (refused.value.status, refused.value.field) == (400, "image_base64")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://shop.example/x.jpg", "/var/photos/x.jpg"])
def test_only_http_urls_are_fetched(api: FlaskClient, url: str) -> None:
    with pytest.raises(ApiError) as refused:
        from_url(url, api.application.extensions["lookalike"])

    assert (refused.value.status, refused.value.reason, refused.value.field) == (400, "unsupported_source", "image_url")


def test_a_url_to_a_private_address_is_refused_with_the_fetchers_reason(api: FlaskClient) -> None:
    with pytest.raises(ApiError) as refused:
        from_url("http://127.0.0.1:9/photo.jpg", api.application.extensions["lookalike"])

    assert (refused.value.status, refused.value.reason, refused.value.field) == (400, "unsafe_url", "image_url")


def test_a_host_name_is_refused_without_naming_the_address_it_resolves_to(api: FlaskClient) -> None:
    with pytest.raises(ApiError) as refused:
        from_url("http://localhost:9/photo.jpg", api.application.extensions["lookalike"])

    assert (refused.value.status, refused.value.reason, refused.value.field) == (400, "unsafe_url", "image_url")
    assert "localhost" in refused.value.message
    assert "127.0.0.1" not in refused.value.message and "::1" not in refused.value.message


def test_query_photos_have_their_own_deadline_and_a_share_of_the_threads(api: FlaskClient) -> None:
    service = api.application.extensions["lookalike"]
    policy = query_policy(service)

    assert policy.total_timeout == service.config.serve.query_fetch_timeout  # the whole fetch, not each read
    assert policy.connect_timeout <= policy.total_timeout
    assert service.config.fetch.total_timeout is None  # ingest keeps its own, longer deadline
    assert service.config.serve.query_fetches == 0 and service.url_fetches == usable_cores()  # half of two threads per core
