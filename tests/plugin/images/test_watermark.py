"""The thumbnails' invisible watermark, on the demo catalogue's real photos: read back as served,
after JPEG 50 and a halving, never claimed where it is not, and nearly invisible."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from plugin.config import Config
from plugin.images.thumbnails import make_thumbnail
from plugin.images.watermark import (
    MIN_BLOCKS,
    THRESHOLD,
    MarkedThumbnails,
    embed,
    mark_webp,
    read,
    read_bytes,
    watermark_tag,
)
from sample_data.vendure import prepare_vendure

SHOP = "shop-4711"


@pytest.fixture(scope="module")
def thumbnails() -> list[bytes]:
    """Stored thumbnails (WebP, as ingest makes them) of twelve of the demo catalogue's photos."""
    images = prepare_vendure(Config.from_env().data_dir).parent / "images"
    return [make_thumbnail(Image.open(path).convert("RGB"))[0] for path in sorted(images.iterdir())[::4][:12]]


def opened(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")


def jpeg(image: Image.Image, quality: int = 50) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def halved(image: Image.Image) -> Image.Image:
    return image.resize((round(image.width / 2), round(image.height / 2)), Image.LANCZOS)


def psnr(a: Image.Image, b: Image.Image) -> float:
    mse = np.mean((np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) ** 2)
    return float(10 * np.log10(255**2 / mse))


def test_a_marked_thumbnail_reads_back_as_its_shop_and_no_other(thumbnails: list[bytes]) -> None:
    served = mark_webp(thumbnails[0], SHOP)

    assert served is not None and opened(served).size == opened(thumbnails[0]).size
    reading = read_bytes(served, SHOP)
    assert reading.carries and reading.score > 3 * THRESHOLD
    assert not read_bytes(served, "another-shop").carries


def test_the_mark_survives_jpeg_50_and_a_halving_in_either_order(thumbnails: list[bytes]) -> None:
    for stored in thumbnails[:4]:
        served = opened(mark_webp(stored, SHOP) or b"")

        assert read_bytes(jpeg(halved(served)), SHOP).carries  # a 128-pixel JPEG: read back at 256 pixels
        assert read(halved(opened(jpeg(served))), SHOP).carries


def test_unmarked_photos_are_never_claimed(thumbnails: list[bytes]) -> None:
    scores = []
    for stored in thumbnails:
        plain = opened(stored)
        for copy in (plain, opened(jpeg(plain)), opened(jpeg(halved(plain)))):
            for shop in (SHOP, "shop-1", "shop-2", "demo"):
                reading = read(copy, shop)
                assert not reading.carries
                scores.append(reading.score)

    assert len(scores) == 144 and max(scores) < THRESHOLD - 1


def test_the_mark_is_nearly_invisible(thumbnails: list[bytes]) -> None:
    served = [psnr(opened(mark_webp(stored, SHOP) or b""), opened(stored)) for stored in thumbnails]

    assert np.mean(served) >= 40 and min(served) >= 36


def test_a_thumbnail_too_small_or_blank_to_hold_the_mark_is_served_unmarked(thumbnails: list[bytes]) -> None:
    tiny = opened(thumbnails[0]).resize((48, 40))
    white = Image.new("RGB", (256, 200), (255, 255, 255))
    for image in (tiny, white):
        buffer = io.BytesIO()
        image.save(buffer, format="WEBP", quality=80)
        stored = buffer.getvalue()

        assert embed(image, SHOP) is None and mark_webp(stored, SHOP) is None
        assert MarkedThumbnails().get("f" * 64, SHOP, lambda: stored) == stored
        assert not read(image, SHOP).carries
    assert read(white, SHOP).blocks < MIN_BLOCKS  # nothing to read either


def test_only_thumbnails_are_marked() -> None:
    with pytest.raises(ValueError, match="256 pixels"):
        embed(Image.new("RGB", (512, 384), (90, 120, 150)), SHOP)


def test_marked_thumbnails_are_made_once_and_kept_within_their_bytes(thumbnails: list[bytes]) -> None:
    loads: list[int] = []

    def loader(number: int) -> Callable[[], bytes]:
        def load() -> bytes:
            loads.append(number)
            return thumbnails[number]

        return load

    cache = MarkedThumbnails()
    first = cache.get("a" * 64, SHOP, loader(0))
    assert cache.get("a" * 64, SHOP, loader(0)) == first and loads == [0]  # the second is a hit
    assert cache.get("a" * 64, "another-shop", loader(0)) != first and loads == [0, 0]  # each shop its own mark
    assert cache.get("b" * 64, SHOP, lambda: None) is None  # no such thumbnail

    room_for_one = max(len(first), len(mark_webp(thumbnails[1], SHOP) or b"")) + 10
    small = MarkedThumbnails(max_bytes=room_for_one)
    small.get("a" * 64, SHOP, loader(0))
    small.get("c" * 64, SHOP, loader(1))
    small.get("a" * 64, SHOP, loader(0))
    assert loads[-3:] == [0, 1, 0]  # the first was evicted to make room


def test_the_tag_names_the_mark_without_showing_the_shop() -> None:
    assert watermark_tag(SHOP) == watermark_tag(SHOP) != watermark_tag("another-shop")
    assert SHOP not in watermark_tag(SHOP) and len(watermark_tag(SHOP)) == 12


def test_a_photo_file_is_read_whatever_its_format(thumbnails: list[bytes], tmp_path: Path) -> None:
    served = opened(mark_webp(thumbnails[1], SHOP) or b"")
    path = tmp_path / "copy.png"
    served.save(path)

    assert read_bytes(path.read_bytes(), SHOP).carries
