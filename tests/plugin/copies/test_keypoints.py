"""Matching keypoints: a crop, a turn or a caption of a photo still shares dozens of details with it
in one layout; a photo of another product shares a handful."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw, ImageOps

from plugin.config import Config
from plugin.copies.evidence import CopyRule
from plugin.copies.keypoints import SIDE, describe, describe_both, matching_points
from sample_data.vendure import prepare_vendure

THRESHOLD = CopyRule().keypoints


@pytest.fixture(scope="module")
def photos(base_config: Config) -> list[Image.Image]:
    images = sorted((prepare_vendure(base_config.data_dir).parent / "images").glob("*.jpg"))[:8]
    return [Image.open(path).convert("RGB") for path in images]


def _thumbnail(photo: Image.Image) -> Image.Image:
    """The catalogue's side of a comparison: its stored thumbnail's size."""
    copy = photo.copy()
    copy.thumbnail((SIDE, SIDE))
    return copy


def _centre(photo: Image.Image, fraction: float) -> Image.Image:
    width, height = photo.size
    left, top = round(width * (1 - fraction) / 2), round(height * (1 - fraction) / 2)
    return photo.crop((left, top, left + round(width * fraction), top + round(height * fraction)))


def test_a_crop_of_half_the_photo_shares_many_details_in_one_layout(photos: list[Image.Image]) -> None:
    for photo in photos[:4]:
        assert matching_points(describe_both(_centre(photo, 0.5)), describe(_thumbnail(photo))) >= THRESHOLD


def test_a_turned_captioned_copy_is_matched_and_a_flipped_crop_through_its_mirror(photos: list[Image.Image]) -> None:
    photo = photos[0]
    turned = photo.rotate(15, expand=True, fillcolor=(255, 255, 255))
    ImageDraw.Draw(turned).rectangle((0, turned.height * 4 // 5, turned.width, turned.height), fill=(20, 20, 20))
    flipped_crop = ImageOps.mirror(_centre(photo, 0.7))
    catalogue = describe(_thumbnail(photo))

    assert matching_points(describe_both(turned), catalogue) >= THRESHOLD
    assert matching_points([describe(flipped_crop)], catalogue) < THRESHOLD
    assert matching_points(describe_both(flipped_crop), catalogue) >= THRESHOLD


def test_photos_of_other_products_share_too_few_details(photos: list[Image.Image]) -> None:
    crops = [describe_both(_centre(photo, 0.7)) for photo in photos]
    catalogue = [describe(_thumbnail(photo)) for photo in photos]

    found = [[matching_points(crop, other) for other in catalogue] for crop in crops]

    assert all(found[i][i] >= THRESHOLD for i in range(len(photos)))
    assert max(found[i][j] for i in range(len(photos)) for j in range(len(photos)) if i != j) < THRESHOLD


def test_a_blank_or_tiny_photo_matches_nothing_rather_than_failing(photos: list[Image.Image]) -> None:
    catalogue = describe(_thumbnail(photos[0]))

    assert matching_points(describe_both(Image.new("RGB", (300, 200), "white")), catalogue) == 0
    assert matching_points(describe_both(Image.new("RGB", (1, 1), "black")), catalogue) == 0
    assert matching_points([], catalogue) == 0
