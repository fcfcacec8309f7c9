"""Gallery views of a catalogue photo: what each one is, which apply, and how they are named."""

from __future__ import annotations

import pytest
from PIL import Image

from plugin.config import Config
from plugin.errors import ConfigError
from plugin.images.gallery import (
    SMALL_SIDE,
    border_colour,
    gallery_views,
    parse_gallery_views,
)


def packshot() -> Image.Image:
    """A dark product on a white backdrop, wider than high, above its centre."""
    photo = Image.new("RGB", (300, 200), (255, 255, 255))
    photo.paste((20, 40, 160), (80, 40, 220, 110))  # off-centre: each tilt looks different
    return photo


def test_names_are_checked_and_kept_in_one_order_whatever_order_they_come_in() -> None:
    assert parse_gallery_views(" small, rotate_45 ,small") == ("rotate_45", "small")
    assert parse_gallery_views("") == ()
    with pytest.raises(ConfigError, match="gallery views must be some of rotate_45, rotate_315, small, object; got spin"):
        parse_gallery_views("rotate_45,spin")
    with pytest.raises(ConfigError, match="^LOOKALIKE_GALLERY_VIEWS: gallery views must be"):
        Config.from_env({"LOOKALIKE_GALLERY_VIEWS": "spin"})
    assert Config.from_env({}).gallery_views == ()


def test_a_tilted_view_fills_its_corners_with_the_backdrop_and_a_small_one_is_thumbnail_sized() -> None:
    views = dict(gallery_views(packshot(), ("rotate_45", "rotate_315", "small")))

    turned = views["rotate_45"]
    assert turned.size[0] > 300 and turned.size[1] > 200  # expanded, nothing of the product cut off
    assert turned.getpixel((0, 0)) == border_colour(packshot()) == (255, 255, 255)
    assert views["rotate_315"].size == turned.size and views["rotate_315"].tobytes() != turned.tobytes()
    assert max(views["small"].size) == SMALL_SIDE


def test_the_object_view_is_the_products_box_only_when_the_box_leaves_much_of_the_photo_out() -> None:
    cut = dict(gallery_views(packshot(), ("object",), (0.3, 0.2, 0.7, 0.8)))["object"]

    assert cut.size == (120, 120) and cut.getpixel((60, 60)) == (20, 40, 160)
    assert gallery_views(packshot(), ("object",), (0.05, 0.05, 0.95, 0.95)) == []  # the photo is the product
    assert gallery_views(packshot(), ("object",), None) == []  # nothing found
    assert gallery_views(packshot(), ("object",), (0.5, 0.5, 0.55, 0.55)) == []  # too few pixels to match anything
