"""Thumbnails: WebP at most 256 pixels a side, without metadata, stored in and loaded from the node."""

from __future__ import annotations

import io

from opensearchpy import OpenSearch, helpers
from PIL import Image

from plugin.config import Config
from plugin.images.decode import decode_image
from plugin.images.thumbnails import (
    THUMBNAIL_SIDE,
    load_thumbnail,
    make_thumbnail,
    thumbnail_action,
)
from plugin.opensearch.indices import ensure_index
from tests.support.images import jpeg_bytes, png_bytes


def test_a_thumbnail_fits_256_pixels_and_keeps_the_proportions() -> None:
    webp, width, height = make_thumbnail(decode_image(png_bytes((1000, 500))))

    assert (width, height) == (THUMBNAIL_SIDE, 128) == (256, 128)
    assert Image.open(io.BytesIO(webp)).size == (256, 128)
    assert make_thumbnail(decode_image(png_bytes((300, 900))))[1:] == (85, 256)


def test_a_small_image_is_not_enlarged() -> None:
    photo = decode_image(png_bytes((100, 60)))

    assert make_thumbnail(photo)[1:] == (100, 60)
    assert photo.size == (100, 60)  # the photo itself is left as it was


def test_a_thumbnail_is_webp_without_exif() -> None:
    photo = Image.open(io.BytesIO(jpeg_bytes(size=(400, 300), exif_orientation=1)))
    assert photo.info.get("exif")  # the source carries a camera's metadata

    webp, _, _ = make_thumbnail(photo)

    assert webp[:4] == b"RIFF" and webp[8:12] == b"WEBP"
    thumb = Image.open(io.BytesIO(webp))
    assert thumb.format == "WEBP"
    assert not thumb.getexif() and "exif" not in thumb.info and b"SecretCam" not in webp


def test_a_stored_thumbnail_is_loaded_back_by_its_fingerprint(client: OpenSearch, config: Config) -> None:
    ensure_index(client, config, config.thumbnail_index, "thumbnails")
    webp, width, height = make_thumbnail(decode_image(jpeg_bytes(size=(640, 480))))

    action = thumbnail_action(config.thumbnail_index, "fp-1", webp, width, height)
    helpers.bulk(client, [action, thumbnail_action(config.thumbnail_index, "fp-1", webp, width, height)], refresh=True)

    assert load_thumbnail(client, config.thumbnail_index, "fp-1") == webp
    assert load_thumbnail(client, config.thumbnail_index, "fp-unknown") is None
    assert client.count(index=config.thumbnail_index)["count"] == 1  # the fingerprint is the id: stored once
    stored = client.get(index=config.thumbnail_index, id="fp-1")["_source"]
    assert (stored["width"], stored["height"]) == (256, 192)
