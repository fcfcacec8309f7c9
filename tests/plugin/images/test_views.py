"""Query views: parsing the configured set, and what each view does to a photo."""

from __future__ import annotations

import pytest
from PIL import Image

from plugin.config import Config
from plugin.errors import ConfigError
from plugin.images.views import VIEWS, parse_views


def test_views_are_parsed_in_order_without_repeats() -> None:
    assert parse_views("original, hflip,original") == ("original", "hflip")
    with pytest.raises(ConfigError, match="query views must be some of original"):
        parse_views("original,sideways")
    with pytest.raises(ConfigError):
        parse_views(" , ")


def test_the_setting_comes_from_the_environment() -> None:
    assert Config.from_env({}).query_views == ("original",)
    assert Config.from_env({"LOOKALIKE_QUERY_VIEWS": "original,hflip"}).query_views == ("original", "hflip")
    with pytest.raises(ConfigError, match="LOOKALIKE_QUERY_VIEWS"):
        Config.from_env({"LOOKALIKE_QUERY_VIEWS": "upside-down"})


def test_each_view_reframes_the_photo_as_its_name_says() -> None:
    photo = Image.new("RGB", (200, 100), (0, 0, 255))
    photo.paste((255, 0, 0), (0, 0, 10, 10))  # a red top-left corner, to see where it goes

    assert VIEWS["original"](photo) is photo
    assert VIEWS["hflip"](photo).getpixel((199, 0)) == (255, 0, 0)
    assert VIEWS["centre_80"](photo).size == (160, 80) and VIEWS["centre_80"](photo).getpixel((0, 0)) == (0, 0, 255)
    assert VIEWS["centre_60"](photo).size == (120, 60)
    square = VIEWS["pad_square"](photo)
    assert square.size == (200, 200)
    assert square.getpixel((0, 0)) == (255, 255, 255) and square.getpixel((0, 50)) == (255, 0, 0)  # white bands above and below
    assert VIEWS["rot90"](photo).size == (100, 200) and VIEWS["rot90"](photo).getpixel((0, 199)) == (255, 0, 0)  # counter-clockwise
    assert VIEWS["rot270"](photo).getpixel((99, 0)) == (255, 0, 0)
