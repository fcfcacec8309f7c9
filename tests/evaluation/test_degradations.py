"""Degradations are deterministic, change the photo, and do what their names say."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from evaluation.degradations import DEGRADATIONS, QUERY_SIDE, as_query_photo


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    image = Image.new("RGB", (400, 300), (240, 240, 230))
    draw = ImageDraw.Draw(image)
    draw.rectangle((60, 50, 220, 250), fill=(200, 30, 40))
    draw.ellipse((230, 80, 360, 210), fill=(20, 90, 200))
    return image


@pytest.mark.parametrize("name", list(DEGRADATIONS))
def test_each_degradation_is_deterministic_and_changes_the_photo(photo: Image.Image, name: str) -> None:
    first, again = DEGRADATIONS[name](photo, 7), DEGRADATIONS[name](photo, 7)
    assert first.mode == "RGB"
    assert np.array_equal(np.asarray(first), np.asarray(again))
    if first.size == photo.size:
        assert not np.array_equal(np.asarray(first), np.asarray(photo))


def test_the_report_covers_the_degradations_the_issue_names() -> None:
    assert len(DEGRADATIONS) == 18
    assert {"rotate_15", "rotate_45", "rotate_90", "occlude_20", "occlude_40", "crop_50", "crop_70", "jpeg_10", "hflip"} <= set(DEGRADATIONS)


def test_sizes_and_areas(photo: Image.Image) -> None:
    assert max(DEGRADATIONS["downscale_64"](photo, 0).size) == 64
    assert DEGRADATIONS["crop_50"](photo, 0).size == (200, 150)
    assert DEGRADATIONS["rotate_90"](photo, 0).size == (300, 400)
    occluded = np.asarray(DEGRADATIONS["occlude_40"](photo, 3)).astype(int)
    grey = (occluded == 128).all(axis=2).mean()
    assert grey == pytest.approx(0.40, abs=0.02)
    assert np.array_equal(np.asarray(DEGRADATIONS["hflip"](photo, 0)), np.asarray(photo)[:, ::-1])


def test_occlusion_moves_with_the_seed(photo: Image.Image) -> None:
    assert not np.array_equal(np.asarray(DEGRADATIONS["occlude_20"](photo, 1)), np.asarray(DEGRADATIONS["occlude_20"](photo, 2)))


def test_query_photos_are_phone_sized() -> None:
    assert max(as_query_photo(Image.new("RGB", (1600, 1200))).size) == QUERY_SIDE
    assert as_query_photo(Image.new("L", (100, 80))).mode == "RGB"
