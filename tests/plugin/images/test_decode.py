"""Decoding turns any supported image into clean upright RGB, and refuses bombs, junk and damage."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from plugin.errors import CorruptImage, ImageTooLarge, ImageTooSmall, NotAnImage
from plugin.images.decode import DecodePolicy, decode_image
from tests.support.images import jpeg_bytes, png_bytes, png_claiming_size


def test_exif_orientation_is_applied_and_exif_is_dropped() -> None:
    data = jpeg_bytes(size=(80, 40), exif_orientation=6)  # "rotate 90 degrees clockwise to view"
    assert Image.open(io.BytesIO(data)).getexif()[0x010F] == "SecretCam"

    image = decode_image(data)

    assert image.size == (40, 80)
    assert image.mode == "RGB"
    assert image.getpixel((39, 0))[2] < 100  # the yellow corner moved from top-left to top-right
    assert not image.getexif()
    assert "exif" not in image.info


@pytest.mark.parametrize("mode,color", [("L", 128), ("P", 3), ("CMYK", (0, 255, 255, 0)), ("I;16", 1000)])
def test_every_colour_mode_becomes_rgb(mode: str, color: object) -> None:
    buffer = io.BytesIO()
    Image.new(mode, (32, 32), color).save(buffer, format="TIFF" if mode == "CMYK" else "PNG")

    assert decode_image(buffer.getvalue()).mode == "RGB"


def test_transparent_areas_become_white() -> None:
    image = decode_image(png_bytes((32, 32), (255, 0, 0, 0), mode="RGBA"))

    assert image.getpixel((5, 5)) == (255, 255, 255)


def test_a_20000_by_20000_image_is_refused_before_decoding() -> None:
    data = png_claiming_size(20_000, 20_000)
    started = time.perf_counter()

    with pytest.raises(ImageTooLarge, match="over the limit of 40000000 pixels") as excinfo:
        decode_image(data, source="bomb.png")

    assert time.perf_counter() - started < 1.0
    assert excinfo.value.reason == "image_too_large" and not excinfo.value.retryable


def test_the_pixel_limit_is_configurable() -> None:
    with pytest.raises(ImageTooLarge):
        decode_image(png_bytes((100, 100)), DecodePolicy(max_pixels=9_999))
    assert decode_image(png_bytes((100, 100)), DecodePolicy(max_pixels=10_000)).size == (100, 100)


def test_a_truncated_jpeg_is_corrupt() -> None:
    data = jpeg_bytes((256, 256))

    with pytest.raises(CorruptImage, match="cannot be decoded") as excinfo:
        decode_image(data[: len(data) // 3], source="cut.jpg")
    assert excinfo.value.reason == "corrupt_image"


@pytest.mark.parametrize("data", [b"%PDF-1.7 not a picture", b"", b"GIF89a"])
def test_bytes_that_are_no_image_are_refused(data: bytes) -> None:
    with pytest.raises((NotAnImage, CorruptImage)):
        decode_image(data)


def test_a_text_file_is_not_an_image() -> None:
    with pytest.raises(NotAnImage, match="notes.txt is not a supported image"):
        decode_image(b"just some words\n" * 10, source="notes.txt")


def test_a_tiny_image_is_refused() -> None:
    with pytest.raises(ImageTooSmall, match="4x4 pixels, under the minimum of 16"):
        decode_image(png_bytes((4, 4)))


def test_an_image_over_the_configured_limit_names_its_size() -> None:
    with pytest.raises(ImageTooLarge, match="wide.png is 10000x5000 pixels, over the limit of 40000000 pixels"):
        decode_image(png_claiming_size(10_000, 5_000), source="wide.png")


def test_a_png_with_a_truncated_header_chunk_is_corrupt_not_a_crash() -> None:
    data = png_bytes((32, 32))
    broken = data[:8] + b"\x00\x00\x00\x05IHDR\x00\x00\x00\x20\x00" + data[33:]

    with pytest.raises((CorruptImage, NotAnImage)):
        decode_image(broken)
