"""``/thumbnails/<fingerprint>`` with ``LOOKALIKE_WATERMARK`` set serves a copy carrying the shop's
invisible mark (read back from the bytes served), cached, under an ETag that names the mark."""

from __future__ import annotations

import dataclasses
import io

import pytest
from flask.testing import FlaskClient
from PIL import Image

from api.app import create_app
from plugin.config import Config
from plugin.images.thumbnails import load_thumbnail
from plugin.images.watermark import read, read_bytes, watermark_tag
from plugin.opensearch.client import connect

SHOP = "demo-shop-7"


@pytest.fixture(scope="module")
def marking_api(app_config: Config) -> FlaskClient:
    return create_app(dataclasses.replace(app_config, watermark=SHOP), warm=False).test_client()


@pytest.fixture(scope="module")
def fingerprint(api: FlaskClient) -> str:
    return str(api.get("/products/laptop").get_json()["images"][0]["fingerprint"])


def test_a_marked_thumbnail_is_served_when_the_shop_sets_a_watermark(marking_api: FlaskClient, fingerprint: str, app_config: Config) -> None:
    response = marking_api.get(f"/thumbnails/{fingerprint}")

    assert response.status_code == 200 and response.mimetype == "image/webp"
    assert read_bytes(response.data, SHOP).carries
    assert not read_bytes(response.data, "another-shop").carries
    stored = load_thumbnail(connect(app_config), app_config.thumbnail_index, fingerprint)
    assert stored is not None and response.data != stored
    assert Image.open(io.BytesIO(response.data)).size == Image.open(io.BytesIO(stored)).size
    # Not kept for a year: the same URL changes bytes when the mark does.
    assert "immutable" not in response.headers["Cache-Control"] and "max-age=86400" in response.headers["Cache-Control"]
    assert response.headers["ETag"] == f'"{fingerprint}.{watermark_tag(SHOP)}"'


def test_the_served_mark_survives_jpeg_50_after_a_halving(marking_api: FlaskClient, fingerprint: str) -> None:
    served = Image.open(io.BytesIO(marking_api.get(f"/thumbnails/{fingerprint}").data)).convert("RGB")
    buffer = io.BytesIO()
    served.resize((served.width // 2, served.height // 2), Image.LANCZOS).save(buffer, format="JPEG", quality=50)

    assert read_bytes(buffer.getvalue(), SHOP).carries


def test_a_browser_revalidating_its_marked_copy_gets_304_and_the_same_bytes_again(marking_api: FlaskClient, fingerprint: str) -> None:
    first = marking_api.get(f"/thumbnails/{fingerprint}")
    again = marking_api.get(f"/thumbnails/{fingerprint}", headers={"If-None-Match": first.headers["ETag"]})
    unmarked_copy = marking_api.get(f"/thumbnails/{fingerprint}", headers={"If-None-Match": f'"{fingerprint}"'})

    assert again.status_code == 304 and not again.data
    assert unmarked_copy.status_code == 200 and unmarked_copy.data == first.data  # the cached marked bytes


def test_without_a_watermark_the_stored_thumbnail_is_served_as_it_is(api: FlaskClient, fingerprint: str, app_config: Config) -> None:
    assert app_config.watermark is None
    response = api.get(f"/thumbnails/{fingerprint}")

    assert response.data == load_thumbnail(connect(app_config), app_config.thumbnail_index, fingerprint)
    assert not read(Image.open(io.BytesIO(response.data)), SHOP).carries
    assert "immutable" in response.headers["Cache-Control"] and response.headers["ETag"] == f'"{fingerprint}"'


def test_a_missing_thumbnail_is_404_with_or_without_a_watermark(marking_api: FlaskClient, api: FlaskClient) -> None:
    for client in (marking_api, api):
        response = client.get("/thumbnails/" + "0" * 64)
        assert response.status_code == 404 and response.get_json()["error"]["field"] == "fingerprint"
